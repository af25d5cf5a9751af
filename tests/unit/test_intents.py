"""Spanish intents: how students really write (typos, emoji, no accents, 11 pm)."""

from __future__ import annotations

import pytest

from eki_domain.services.intents import (
    MENU_OPTIONS,
    Intent,
    detect_intent,
    extract_course,
    normalize_text,
)

I = Intent

MESSAGES: list[tuple[str, Intent]] = [
    # greetings
    ("hola", I.SALUDO),
    ("Holaaaa 👋", I.SALUDO),
    ("HOLA!!!", I.SALUDO),
    ("ola", I.SALUDO),
    ("q tal", I.SALUDO),
    ("k más pues", I.SALUDO),
    ("quiubo", I.SALUDO),
    ("buenas", I.SALUDO),
    ("Buenos días", I.SALUDO),
    ("buenas noches", I.SALUDO),
    ("wenas tardes", I.SALUDO),
    ("hola eki, ¿cómo estás?", I.SALUDO),
    ("👋", I.SALUDO),
    # progress
    ("hola, ¿cómo voy en mate? 🙏", I.PROGRESO),
    ("¿cómo voy en mate? 🙏", I.PROGRESO),
    ("como boy en ingles", I.PROGRESO),
    ("mis ntas xfa", I.PROGRESO),
    ("NOTAS", I.PROGRESO),
    ("calificasiones", I.PROGRESO),
    ("calificaciones de sociales", I.PROGRESO),
    ("cuanto tengo en matemáticas", I.PROGRESO),
    ("cuánto saqué en el examen de química", I.PROGRESO),
    ("¿voy perdiendo alguna materia? 😰", I.PROGRESO),
    ("cuanto me falta para pasar mate", I.PROGRESO),
    ("promedio", I.PROGRESO),
    ("mi promedio general porfa", I.PROGRESO),
    ("mi nota bajó", I.PROGRESO),
    ("quiero ver mi boletín", I.PROGRESO),
    ("buenas noches profe, como voy", I.PROGRESO),
    ("necesito mis notas, el profe no las ha subido", I.PROGRESO),
    ("1", I.PROGRESO),
    ("1️⃣", I.PROGRESO),
    # attendance
    ("asistensia", I.ASISTENCIA),
    ("cuantas fallas llevo", I.ASISTENCIA),
    ("fltas en sociales", I.ASISTENCIA),
    ("¿Cuántas faltas tengo en educación física?", I.ASISTENCIA),
    ("mis inasistencias", I.ASISTENCIA),
    ("cuantas veces he faltado", I.ASISTENCIA),
    ("llegadas tarde", I.ASISTENCIA),
    ("hola buenas tardes, mi asistencia", I.ASISTENCIA),
    ("opción 2", I.ASISTENCIA),
    # pending work
    ("pendientez", I.PENDIENTES),
    ("que tareas tengo pendientes", I.PENDIENTES),
    ("qué me falta entregar?", I.PENDIENTES),
    ("tengo tarea para mañana?", I.PENDIENTES),
    ("cuando es el examen de biología", I.PENDIENTES),
    ("trabajos por entregar", I.PENDIENTES),
    ("no más tareas 😩", I.PENDIENTES),
    ("3", I.PENDIENTES),
    # profile
    ("mis datos", I.MIS_DATOS),
    ("quien soy", I.MIS_DATOS),
    ("mi perfil", I.MIS_DATOS),
    ("con qué número estoy registrado?", I.MIS_DATOS),
    ("4", I.MIS_DATOS),
    # help
    ("ayuda", I.AYUDA),
    ("AYUDAAA", I.AYUDA),
    ("menu", I.AYUDA),
    ("menú", I.AYUDA),
    ("que puedes hacer?", I.AYUDA),
    ("hola, ayuda por favor", I.AYUDA),
    # thanks and goodbye
    ("gracias", I.GRACIAS),
    ("graciasss 🙏", I.GRACIAS),
    ("grax", I.GRACIAS),
    ("mil gracias por la ayuda", I.GRACIAS),
    ("ok", I.GRACIAS),
    ("listo, dale", I.GRACIAS),
    ("👍", I.GRACIAS),
    ("chao", I.DESPEDIDA),
    ("bueno gracias, hasta mañana", I.DESPEDIDA),
    ("bye", I.DESPEDIDA),
    # opt-out / opt-in
    ("STOP", I.OPT_OUT),
    ("stop", I.OPT_OUT),
    ("Stop por favor", I.OPT_OUT),
    ("baja", I.OPT_OUT),
    ("BAJA 🙏", I.OPT_OUT),
    ("CANCELAR", I.OPT_OUT),
    ("no más mensajes", I.OPT_OUT),
    ("Nooo más mensajes porfa!!!", I.OPT_OUT),
    ("ya no quiero recibir mensajes", I.OPT_OUT),
    ("no quiero recibir mas mensajes de este número", I.OPT_OUT),
    ("me quiero dar de baja, gracias", I.OPT_OUT),
    ("UNSUBSCRIBE", I.OPT_OUT),
    ("ALTA", I.OPT_IN),
    ("START", I.OPT_IN),
    ("quiero volver a recibir mensajes", I.OPT_IN),
    # hand-off
    ("quiero hablar con un humano", I.HUMANO),
    ("hablar con un asesor", I.HUMANO),
    ("asesor", I.HUMANO),
    ("un asesor por favor", I.HUMANO),
    ("necesito hablar con la coordinadora", I.HUMANO),
    ("quiero hablar con alguien", I.HUMANO),
    ("kiero ablar con una persona", I.HUMANO),
    ("puedo hablar con el profe de mate?", I.HUMANO),
    ("no quiero hablar con un robot", I.HUMANO),
    ("5", I.HUMANO),
    # unknown
    ("mate", I.DESCONOCIDO),
    ("asdkjh", I.DESCONOCIDO),
    ("y en inglés?", I.DESCONOCIDO),
    ("cancelaron la clase", I.DESCONOCIDO),
    ("¿eres una persona real?", I.DESCONOCIDO),
    ("mi profesor de mate es chévere", I.DESCONOCIDO),
    ("", I.DESCONOCIDO),
    ("😭", I.DESCONOCIDO),
    ("7", I.DESCONOCIDO),
]


def test_the_table_is_large_enough() -> None:
    assert len(MESSAGES) >= 60
    assert {intent for _, intent in MESSAGES} == set(Intent)


@pytest.mark.parametrize(("text", "expected"), MESSAGES)
def test_detect_intent(text: str, expected: Intent) -> None:
    assert detect_intent(text) is expected


@pytest.mark.parametrize(
    "text",
    [
        "mi nota bajó",
        "mi nota es muy baja",
        "se me bajó el promedio en inglés",
        "baja la nota si no entrego?",
        "stop motion es la tarea de artes",
        "cancelaron la clase de mate",
        "no puedo parar de estudiar",
        "el profe dijo que no más celulares en clase",
        "no más tareas por favor",
        "¿por qué me dieron de baja en el equipo?",
    ],
)
def test_opt_out_needs_a_real_request(text: str) -> None:
    assert detect_intent(text) is not Intent.OPT_OUT


@pytest.mark.parametrize(
    "text",
    [
        "mi nota es alta",
        "alta nota en mate",
        "start es una palabra en inglés",
    ],
)
def test_opt_in_needs_a_real_request(text: str) -> None:
    assert detect_intent(text) is not Intent.OPT_IN


@pytest.mark.parametrize(
    "text",
    [
        "mi profesor de mate no ha subido las notas",
        "el coordinador dijo que hoy no hay clase",
        "hablé con el profe ayer",
        "alguien sabe cuándo es el examen",
        "necesito mis notas, la profe no las ha subido",
    ],
)
def test_hand_off_needs_a_real_request(text: str) -> None:
    assert detect_intent(text) is not Intent.HUMANO


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("progreso", I.PROGRESO),
        ("PROGRESO", I.PROGRESO),
        ("menu", I.AYUDA),
        ("asesor", I.HUMANO),
        ("mis_datos", I.MIS_DATOS),
        ("mis-datos", I.MIS_DATOS),
        ("eki:asistencia", I.ASISTENCIA),
        ("pendientes", I.PENDIENTES),
        ("opt_out", I.OPT_OUT),
        ("3", I.PENDIENTES),
    ],
)
def test_payload_wins_when_it_names_an_intent(payload: str, expected: Intent) -> None:
    # The button title is ignored: the id decides.
    assert detect_intent("Hola", payload) is expected


def test_unknown_payload_falls_back_to_the_text() -> None:
    assert detect_intent("cuantas fallas llevo", "wamid.HBgM-unknown-button") is I.ASISTENCIA
    assert detect_intent("gracias", "") is I.GRACIAS
    assert detect_intent("gracias", None) is I.GRACIAS


def test_menu_numbers() -> None:
    assert {number: detect_intent(number) for number in "12345"} == MENU_OPTIONS
    assert detect_intent(" 2. ") is I.ASISTENCIA
    assert detect_intent("la 4") is I.MIS_DATOS
    assert detect_intent("11") is I.DESCONOCIDO
    assert detect_intent("tengo 3 fallas?") is I.ASISTENCIA


def test_a_burst_joined_with_newlines() -> None:
    assert detect_intent("hola\ncómo voy en inglés") is I.PROGRESO
    assert detect_intent("hola\nBAJA") is I.OPT_OUT
    assert extract_course("cuantas fallas tengo\nmate") == "mate"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("¡Hola!! ¿Cómo voy en MATE? 🙏", "hola como voy en mate"),
        ("  Educación   Física\t", "educacion fisica"),
        ("ÑANDÚ", "nandu"),
        ("1️⃣", "1"),
        ("qué—tal…", "que tal"),
        ("🙏🙏", ""),
    ],
)
def test_normalize_text(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("¿cómo voy en mate? 🙏", "mate"),
        ("hola, ¿cómo voy en mate? 🙏", "mate"),
        ("notas de inglés", "inglés"),
        ("calificaciones matemáticas", "matemáticas"),
        ("cuanto tengo en matematicas y en ingles", "matematicas"),
        ("¿Cuántas faltas tengo en educación física?", "educación física"),
        ("fallas de ciencias naturales por fa", "ciencias naturales"),
        ("q tareas hay de sociales para mañana", "sociales"),
        ("como voy en la materia de ética y valores", "ética"),
        ("mate, ¿cómo voy?", "mate"),
        ("ingles notas", "ingles"),
        ("¿cómo voy en mate, profe?", "mate"),
    ],
)
def test_course_hints(text: str, expected: str) -> None:
    assert extract_course(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "mate",  # a course alone is not a question
        "hola mate",
        "cómo voy",
        "cuantas fallas tengo en total",
        "promedio del primer periodo",
        "cómo voy en el colegio",
        "mi nota bajó",
        "¿voy perdiendo alguna materia?",
        "llegue tarde muchas veces?",
        "mis datos",
        "",
    ],
)
def test_no_course_hint(text: str) -> None:
    assert extract_course(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "entre semana no puedo",
        "viene mi mamá",
        "mandé un audio",
        "es muy grande",
        "tarda mucho",
        "eso es falso",
        "qué gracioso",
        "está en el tablero",
        "la informática",
        "quiero entrar al grupo",
    ],
)
def test_common_words_are_not_corrected_into_keywords(text: str) -> None:
    assert detect_intent(text) is I.DESCONOCIDO


def test_intent_values_are_stable_strings() -> None:
    assert str(I.MIS_DATOS) == "mis_datos"
    assert str(I.OPT_OUT) == "opt_out"
    assert I("progreso") is I.PROGRESO
