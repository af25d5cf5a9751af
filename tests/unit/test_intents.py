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

MESSAGES: list[tuple[str, Intent]] = [
    # greetings
    ("hola", Intent.SALUDO),
    ("Holaaaa 👋", Intent.SALUDO),
    ("HOLA!!!", Intent.SALUDO),
    ("ola", Intent.SALUDO),
    ("q tal", Intent.SALUDO),
    ("k más pues", Intent.SALUDO),
    ("quiubo", Intent.SALUDO),
    ("buenas", Intent.SALUDO),
    ("Buenos días", Intent.SALUDO),
    ("buenas noches", Intent.SALUDO),
    ("wenas tardes", Intent.SALUDO),
    ("hola eki, ¿cómo estás?", Intent.SALUDO),
    ("👋", Intent.SALUDO),
    # progress
    ("hola, ¿cómo voy en mate? 🙏", Intent.PROGRESO),
    ("¿cómo voy en mate? 🙏", Intent.PROGRESO),
    ("como boy en ingles", Intent.PROGRESO),
    ("el detalle de mis notas de inglés", Intent.NOTAS),
    ("notas de cada actividad de mate", Intent.NOTAS),
    ("mis ntas xfa", Intent.PROGRESO),
    ("NOTAS", Intent.PROGRESO),
    ("calificasiones", Intent.PROGRESO),
    ("calificaciones de sociales", Intent.PROGRESO),
    ("cuanto tengo en matemáticas", Intent.PROGRESO),
    ("cuánto saqué en el examen de química", Intent.PROGRESO),
    ("¿voy perdiendo alguna materia? 😰", Intent.PROGRESO),
    ("cuanto me falta para pasar mate", Intent.PROGRESO),
    ("promedio", Intent.PROGRESO),
    ("mi promedio general porfa", Intent.PROGRESO),
    ("mi nota bajó", Intent.PROGRESO),
    ("quiero ver mi boletín", Intent.PROGRESO),
    ("buenas noches profe, como voy", Intent.PROGRESO),
    ("necesito mis notas, el profe no las ha subido", Intent.PROGRESO),
    ("1", Intent.PROGRESO),
    ("1️⃣", Intent.PROGRESO),
    # attendance
    ("asistensia", Intent.ASISTENCIA),
    ("cuantas fallas llevo", Intent.ASISTENCIA),
    ("fltas en sociales", Intent.ASISTENCIA),
    ("¿Cuántas faltas tengo en educación física?", Intent.ASISTENCIA),
    ("mis inasistencias", Intent.ASISTENCIA),
    ("cuantas veces he faltado", Intent.ASISTENCIA),
    ("llegadas tarde", Intent.ASISTENCIA),
    ("hola buenas tardes, mi asistencia", Intent.ASISTENCIA),
    ("opción 2", Intent.ASISTENCIA),
    # pending work
    ("pendientez", Intent.PENDIENTES),
    ("que tareas tengo pendientes", Intent.PENDIENTES),
    ("qué me falta entregar?", Intent.PENDIENTES),
    ("tengo tarea para mañana?", Intent.PENDIENTES),
    ("cuando es el examen de biología", Intent.PENDIENTES),
    ("trabajos por entregar", Intent.PENDIENTES),
    ("no más tareas 😩", Intent.PENDIENTES),
    ("3", Intent.PENDIENTES),
    # profile
    ("mis datos", Intent.MIS_DATOS),
    ("quien soy", Intent.MIS_DATOS),
    ("mi perfil", Intent.MIS_DATOS),
    ("con qué número estoy registrado?", Intent.MIS_DATOS),
    ("4", Intent.MIS_DATOS),
    # help
    ("ayuda", Intent.AYUDA),
    ("AYUDAAA", Intent.AYUDA),
    ("menu", Intent.AYUDA),
    ("menú", Intent.AYUDA),
    ("que puedes hacer?", Intent.AYUDA),
    ("hola, ayuda por favor", Intent.AYUDA),
    # thanks and goodbye
    ("gracias", Intent.GRACIAS),
    ("graciasss 🙏", Intent.GRACIAS),
    ("grax", Intent.GRACIAS),
    ("mil gracias por la ayuda", Intent.GRACIAS),
    ("ok", Intent.GRACIAS),
    ("listo, dale", Intent.GRACIAS),
    ("👍", Intent.GRACIAS),
    ("chao", Intent.DESPEDIDA),
    ("bueno gracias, hasta mañana", Intent.DESPEDIDA),
    ("bye", Intent.DESPEDIDA),
    # opt-out / opt-in
    ("STOP", Intent.OPT_OUT),
    ("stop", Intent.OPT_OUT),
    ("Stop por favor", Intent.OPT_OUT),
    ("baja", Intent.OPT_OUT),
    ("BAJA 🙏", Intent.OPT_OUT),
    ("CANCELAR", Intent.OPT_OUT),
    ("no más mensajes", Intent.OPT_OUT),
    ("Nooo más mensajes porfa!!!", Intent.OPT_OUT),
    ("ya no quiero recibir mensajes", Intent.OPT_OUT),
    ("no quiero recibir mas mensajes de este número", Intent.OPT_OUT),
    ("me quiero dar de baja, gracias", Intent.OPT_OUT),
    ("UNSUBSCRIBE", Intent.OPT_OUT),
    ("ALTA", Intent.OPT_IN),
    ("START", Intent.OPT_IN),
    ("quiero volver a recibir mensajes", Intent.OPT_IN),
    # hand-off
    ("quiero hablar con un humano", Intent.HUMANO),
    ("hablar con un asesor", Intent.HUMANO),
    ("asesor", Intent.HUMANO),
    ("un asesor por favor", Intent.HUMANO),
    ("necesito hablar con la coordinadora", Intent.HUMANO),
    ("quiero hablar con alguien", Intent.HUMANO),
    ("kiero ablar con una persona", Intent.HUMANO),
    ("puedo hablar con el profe de mate?", Intent.HUMANO),
    ("no quiero hablar con un robot", Intent.HUMANO),
    ("5", Intent.HUMANO),
    # unknown
    ("mate", Intent.DESCONOCIDO),
    ("asdkjh", Intent.DESCONOCIDO),
    ("y en inglés?", Intent.DESCONOCIDO),
    ("cancelaron la clase", Intent.DESCONOCIDO),
    ("¿eres una persona real?", Intent.DESCONOCIDO),
    ("mi profesor de mate es chévere", Intent.DESCONOCIDO),
    ("", Intent.DESCONOCIDO),
    ("😭", Intent.DESCONOCIDO),
    ("7", Intent.DESCONOCIDO),
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
        ("progreso", Intent.PROGRESO),
        ("PROGRESO", Intent.PROGRESO),
        ("menu", Intent.AYUDA),
        ("asesor", Intent.HUMANO),
        ("mis_datos", Intent.MIS_DATOS),
        ("mis-datos", Intent.MIS_DATOS),
        ("eki:asistencia", Intent.ASISTENCIA),
        ("pendientes", Intent.PENDIENTES),
        ("opt_out", Intent.OPT_OUT),
        ("3", Intent.PENDIENTES),
    ],
)
def test_payload_wins_when_it_names_an_intent(payload: str, expected: Intent) -> None:
    # The button title is ignored: the id decides.
    assert detect_intent("Hola", payload) is expected


def test_unknown_payload_falls_back_to_the_text() -> None:
    assert detect_intent("cuantas fallas llevo", "wamid.HBgM-unknown-button") is Intent.ASISTENCIA
    assert detect_intent("gracias", "") is Intent.GRACIAS
    assert detect_intent("gracias", None) is Intent.GRACIAS


def test_menu_numbers() -> None:
    assert {number: detect_intent(number) for number in "12345"} == MENU_OPTIONS
    assert detect_intent(" 2. ") is Intent.ASISTENCIA
    assert detect_intent("la 4") is Intent.MIS_DATOS
    assert detect_intent("11") is Intent.DESCONOCIDO
    assert detect_intent("tengo 3 fallas?") is Intent.ASISTENCIA


def test_a_burst_joined_with_newlines() -> None:
    assert detect_intent("hola\ncómo voy en inglés") is Intent.PROGRESO
    assert detect_intent("hola\nBAJA") is Intent.OPT_OUT
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
    assert detect_intent(text) is Intent.DESCONOCIDO


def test_intent_values_are_stable_strings() -> None:
    assert str(Intent.MIS_DATOS) == "mis_datos"
    assert str(Intent.OPT_OUT) == "opt_out"
    assert Intent("progreso") is Intent.PROGRESO
