"""The rule-based understanding's data: Spanish (and a little English) as students write it.

Everything here is data and the few pure helpers that build it; the matcher that uses it is
:mod:`eki_domain.services.intents`. To teach the rules a new word, add it here: an
abbreviation (:data:`ABBREVIATIONS`, keyed by its squeezed form: "holaaa" → "hola"), a keyword
(:data:`WORDS_RAW`) or a phrase (:data:`PHRASES_RAW`, matched longest first). The statistical
classifier learns from the labelled corpus instead (docs/understanding.md).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from eki_domain.model.intent import MENU_OPTIONS, Intent

__all__ = ["normalize_text"]

QUESTIONS: Final = (
    Intent.PROGRESO,
    Intent.NOTAS,
    Intent.ASISTENCIA,
    Intent.PENDIENTES,
    Intent.MIS_DATOS,
)
SOCIAL: Final = frozenset({Intent.SALUDO, Intent.GRACIAS, Intent.DESPEDIDA})
COURSE_ANCHORS: Final = frozenset(
    {Intent.PROGRESO, Intent.NOTAS, Intent.ASISTENCIA, Intent.PENDIENTES}
)

# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

REPEATS: Final = re.compile(r"([^\W\d_])\1+")


def fold(text: str) -> str:
    """Lower case without accents (NFKD, combining marks dropped): "Cómo" → "como"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_text(text: str) -> str:
    """Lower case, accents stripped, emoji and punctuation removed, whitespace collapsed.

    ``"¡Hola!! ¿Cómo voy en MATE? 🙏"`` → ``"hola como voy en mate"``. Letters and digits of
    any script are kept; everything else separates words.
    """
    cleaned = "".join(ch if ch.isalnum() else " " for ch in fold(text))
    return " ".join(cleaned.split())


def squeeze(word: str) -> str:
    """Collapse repeated letters ("holaaa" → "hola"); digits are kept ("11")."""
    return REPEATS.sub(r"\1", word)


# Abbreviations and frequent misspellings, keyed by their squeezed form.
ABBREVIATIONS_RAW: Final[dict[str, str]] = {
    # que / porque / por favor / también
    "q": "que", "k": "que", "ke": "que", "qe": "que", "ki": "que",
    "xq": "porque", "pq": "porque", "xk": "porque", "pk": "porque", "porq": "porque",
    "xfa": "porfavor", "xfis": "porfavor", "xfavor": "porfavor", "porfa": "porfavor",
    "porfis": "porfavor", "porfi": "porfavor", "pls": "porfavor", "plis": "porfavor",
    "plz": "porfavor", "plx": "porfavor", "please": "porfavor",
    "tb": "tambien", "tmb": "tambien", "tbn": "tambien", "tambn": "tambien",
    "d": "de", "x": "por", "pa": "para", "pal": "para", "xa": "para", "cn": "con",
    "bn": "bien", "bno": "bueno", "ps": "pues", "pue": "pues",
    "toy": "estoy", "tngo": "tengo", "tgo": "tengo",
    "cmo": "como", "komo": "como", "km": "como", "cm": "como",
    "boy": "voy", "boi": "voy", "voi": "voy", "bamos": "vamos", "bas": "vas",
    "cnto": "cuanto", "cuant": "cuanto", "qnto": "cuanto", "cuantos": "cuantas",
    "kiero": "quiero", "qiero": "quiero", "quero": "quiero", "qero": "quiero",
    "nesecito": "necesito", "nesesito": "necesito", "nececito": "necesito",
    "necesit": "necesito", "nesito": "necesito", "ocupo": "necesito",
    "ablar": "hablar", "hablr": "hablar", "habar": "hablar",
    # school words
    "ntas": "notas", "nts": "notas", "nots": "notas", "nta": "nota",
    "calif": "calificaciones", "califs": "calificaciones", "prom": "promedio",
    "fltas": "faltas", "flts": "faltas", "flta": "falta", "fayas": "fallas",
    "faya": "falla", "asist": "asistencia", "inasist": "inasistencia",
    "pend": "pendientes", "pendts": "pendientes", "pendt": "pendiente",
    "trea": "tarea", "treas": "tareas", "tars": "tareas",
    "profe": "profesor", "profa": "profesora", "prof": "profesor", "coord": "coordinador",
    "msj": "mensajes", "msjs": "mensajes", "mjs": "mensajes", "mnsj": "mensajes",
    "mensaje": "mensajes", "mensajitos": "mensajes",
    "info": "informacion", "cel": "celular", "tel": "telefono", "num": "numero",
    "mn": "manana",  # "mñn"
    # greetings, thanks, farewells
    "ola": "hola", "hla": "hola", "hol": "hola", "holi": "hola", "holis": "hola",
    "hols": "hola", "olis": "hola", "alo": "hola",
    "wenas": "buenas", "guenas": "buenas", "bns": "buenas", "buens": "buenas",
    "qhubo": "quiubo", "quihubo": "quiubo", "kiubo": "quiubo", "quibo": "quiubo",
    "slds": "saludos",
    "grax": "gracias", "grx": "gracias", "grs": "gracias", "grcs": "gracias",
    "gcs": "gracias", "grasias": "gracias", "grasia": "gracias", "gracia": "gracias",
    "gracis": "gracias", "thx": "gracias", "thanks": "gracias", "ty": "gracias",
    "chau": "chao", "chaito": "chao", "chaiito": "chao", "bai": "bye",
    "oki": "ok", "okey": "ok", "okay": "ok", "okis": "ok", "okk": "ok",
}  # fmt: skip


def base_key(word: str) -> str:
    squeezed = squeeze(word)
    return ABBREVIATIONS.get(squeezed, squeezed)


ABBREVIATIONS: Final[dict[str, str]] = {
    squeeze(k): squeeze(v) for k, v in ABBREVIATIONS_RAW.items()
}


def keys(words: str) -> tuple[str, ...]:
    return tuple(base_key(word) for word in normalize_text(words).split())


def word_set(words: str) -> frozenset[str]:
    return frozenset(keys(words))


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

WORDS_RAW: Final[dict[Intent, str]] = {
    Intent.PROGRESO: (
        "nota notas calificacion calificaciones calificado calificada promedio promedios "
        "boletin boletines rendimiento desempeno resultado resultados puntaje puntajes "
        "definitiva definitivas progreso avance avances perdiendo ganando pierdo perdi "
        "reprobando reprobado reprobada reprobe aprobando aprobado aprobada aprobe "
        "materias saque grades grade score scores average gpa passing failing"
    ),
    Intent.ASISTENCIA: (
        "asistencia asistencias inasistencia inasistencias falla fallas falta faltas falte "
        "falle faltado fallado ausencia ausencias ausente ausentes retardo retardos tardanza "
        "tardanzas excusa excusas asisti attendance absences absent absence tardies tardy late "
        "missed"
    ),
    Intent.PENDIENTES: (
        "pendiente pendientes tarea tareas trabajo trabajos entrega entregas entregar "
        "actividad actividades taller talleres deber deberes debo faltan proyecto proyectos "
        "exposicion exposiciones examen examenes quiz quices evaluacion evaluaciones vence "
        "vencen plazo homework assignments assignment overdue due"
    ),
    Intent.MIS_DATOS: "datos perfil registrado registrada profile registered inscrito inscrita",
    Intent.AYUDA: (
        "ayuda ayudame ayudeme ayudar menu opciones opcion help comandos instrucciones "
        "informacion inicio tutorial guia explicame reiniciar"
    ),
    Intent.SALUDO: "hola buenas buenos saludos hey hi hello quiubo epa ey",
    Intent.GRACIAS: "gracias agradecido agradecida agradezco thank appreciate",
    Intent.DESPEDIDA: "chao adios bye byebye adiosito cuidate cuidese bendiciones goodbye",
}

PHRASES_RAW: Final[dict[Intent, tuple[str, ...]]] = {
    Intent.OPT_OUT: (
        "no mas mensajes", "no mas notificaciones", "no quiero mas mensajes",
        "no quiero mensajes", "no quiero recibir mensajes", "no quiero recibir mas mensajes",
        "no quiero recibir mas", "no quiero recibir nada", "no quiero que me escriban",
        "no me envien mas", "no me manden mas", "no me escriban mas", "no me escriba mas",
        "no me envien mensajes", "no me manden mensajes", "no me escriban", "no me escriba",
        "dejen de escribirme", "dejen de enviarme", "dejen de mandarme", "dejar de recibir",
        "darme de baja", "dar de baja", "me doy de baja", "cancelar suscripcion",
        "cancelar mensajes", "cancelar los mensajes", "eliminar mi numero", "borrar mi numero",
        "no molestar", "no molesten", "opt out", "stop all", "stop texting", "stop sending",
        "stop messaging", "remove my number", "remove me", "no more messages", "quitar mi numero",
        "sacar mi numero", "borren mi numero", "desactivar mensajes", "desactivar notificaciones",
        "quitar notificaciones", "dont text me",
    ),
    Intent.OPT_IN: (
        "volver a recibir", "quiero recibir mensajes", "recibir mensajes de nuevo",
        "quiero volver a recibir", "activar mensajes", "reactivar mensajes",
        "activar notificaciones", "darme de alta", "dar de alta", "me doy de alta",
        "si quiero recibir", "ya quiero recibir", "messages again",
        "messaging me again", "habilitar mensajes", "habilitar notificaciones",
        "reactivar notificaciones", "volver a suscribirme",
    ),
    Intent.HUMANO: (
        "no quiero hablar con un bot", "no quiero hablar con un robot",
        "no quiero hablar con una maquina", "no quiero un bot", "no quiero un robot",
        "atencion humana", "atencion personalizada", "que me llamen", "me pueden llamar",
        "que me llame", "una queja", "un reclamo", "poner una queja", "hacer un reclamo",
        "real person", "talk to a person", "talk to someone", "speak to someone",
        "speak with a teacher", "call me", "solicito una reunion", "le pegaron",
        "le estan haciendo", "se lastimo", "esta mal puesta",
    ),
    Intent.PROGRESO: (
        "como voy", "como vamos", "como estoy", "como me va", "como me fue", "como ando",
        "como sigo", "como van", "como va mi", "como me esta yendo", "cuanto tengo",
        "cuanto llevo", "cuanto saque", "que saque", "cuanto me saque", "que me saque",
        "mis notas", "mi nota", "voy perdiendo", "voy ganando", "voy a perder", "voy a ganar",
        "para pasar", "para ganar", "paso el ano", "pierdo el ano", "gano el ano",
        "estoy perdiendo", "estoy ganando", "ya gane", "ya perdi",
        "how am i doing", "am i passing", "am i failing", "my grades",
    ),
    Intent.NOTAS: (
        "detalle de mis notas", "detalle de las notas", "notas de cada actividad",
        "notas por actividad", "cada nota", "notas detalladas", "calificaciones detalladas",
        "notas una por una", "mi ultima nota", "la ultima nota", "ultimas notas",
        "notas recientes", "cada una de mis notas", "listado de notas", "each grade",
        "last grade", "notas nuevas",
    ),
    Intent.ASISTENCIA: (
        "llegadas tarde", "llegada tarde", "llegue tarde", "llegado tarde", "llegando tarde",
        "llego tarde", "been late", "he faltado", "he fallado",
        "no fui", "no vine", "no asisti", "veces que falte",
    ),
    Intent.PENDIENTES: (
        "me falta", "que falta", "que me falta", "falta entregar", "me falta entregar",
        "por entregar", "tengo que hacer", "tengo que entregar", "hay que hacer",
        "hay que entregar", "que debo", "que me toca", "que toca", "para manana", "para hoy",
        "cuando es", "cuando hay", "cuando toca", "cuando se entrega", "que hay para",
        "que tengo para", "que dejaron", "dejaron de tarea", "what is due", "whats due",
        "turn in", "hand in", "due this week",
    ),
    Intent.MIS_DATOS: (
        "quien soy", "mi informacion", "mi nombre", "mi numero", "mi celular", "mi telefono",
        "mi cuenta", "mi registro", "que sabes de mi", "que datos tienes", "estoy registrado",
        "estoy registrada", "con que numero", "mis etiquetas", "mis grupos", "mi grupo",
        "que grupo", "en que grado", "en que curso", "en que salon", "mi salon", "como me llamo",
        "about me", "my profile", "my name", "which group", "what group", "what class am",
        "me inscribieron", "fecha de inscripcion", "mis acudidos", "mi apellido", "my details",
        "what grade am i",
        "my personal data", "personal information",
    ),
    Intent.AYUDA: (
        "que puedes hacer", "que haces", "como funciona", "como funcionas", "que sabes hacer",
        "para que sirves", "que eres", "quien eres", "que puedo preguntar",
        "que puedo consultar", "no entiendo", "volver al menu", "what can you do",
        "how does this work", "what can i ask", "como te uso", "como se usa",
        "empezar de nuevo", "que es eki", "how does eki work", "me colabora", "me colaboras",
        "que mas sabes", "que mas puedes",
    ),
    Intent.SALUDO: (
        "que tal", "que mas", "que hubo", "que onda", "como estas", "como esta", "como vas",
        "como te va", "como le va", "buenos dias", "buenas tardes", "buenas noches",
        "buen dia", "muy buenas", "good morning", "good afternoon", "good evening",
    ),
    Intent.GRACIAS: (
        "muchas gracias", "mil gracias", "te agradezco", "le agradezco", "dios le pague",
        "dios te pague", "por la ayuda", "por tu ayuda", "por su ayuda", "muy amable",
        "que amable", "thank you", "que buen servicio",
    ),
    Intent.DESPEDIDA: (
        "hasta luego", "hasta manana", "hasta pronto", "nos vemos", "me voy", "feliz noche",
        "feliz dia", "feliz tarde", "buen fin de semana", "hablamos luego", "luego hablamos",
        "que descanses", "dulces suenos", "hasta la proxima", "hasta otro dia", "me despido",
        "nos hablamos", "eso es todo", "por hoy es todo", "nada mas por hoy", "que te vaya bien",
        "me tengo que ir", "see you", "good night", "have a nice day", "talk to you later",
        "me retiro", "cambio y fuera", "catch you later", "feliz fin de semana",
        "por ahora es todo",
    ),
}  # fmt: skip

#: Whole-message commands: "STOP", "BAJA", "ALTA" alone (plus polite filler).
OPT_OUT_COMMANDS: Final = word_set(
    "stop stopall baja cancelar cancel unsubscribe unsuscribe desuscribir desuscribirme "
    "desuscribete desinscribirme detener parar basta optout end quit"
)
OPT_IN_COMMANDS: Final = word_set(
    "alta start unstop reanudar reactivar activar suscribirme suscribir subscribe optin"
)

HUMAN_NOUNS: Final = word_set(
    "humano humana persona asesor asesora agente operador operadora coordinador "
    "coordinadora coordinacion profesor profesora docente rector rectora rectoria "
    "orientador orientadora psicorientador psicorientadora secretaria director directora "
    "alguien acudiente person human teacher someone principal coordinator advisor"
)
#: Nouns that are a hand-off request when written alone ("asesor", "un humano por favor").
HUMAN_NOUNS_ALONE: Final = HUMAN_NOUNS - {"alguien", "acudiente"}
HUMAN_STRONG_VERBS: Final = word_set(
    "hablar hablarle hablarles comunicarme comunicar comunicarse contactar contactarme "
    "contacte contacten pasame pasarme pasar pasen comuniquenme comunicame conectame "
    "conectar conectarme llamar llamen llameme escriba escriban atienda atiendan atender "
    "llame llamenme llamarme talk speak"
)
HUMAN_WEAK_VERBS: Final = word_set("quiero necesito pido solicito requiero")

#: Words that carry no request of their own (courtesy, articles, pronouns, "ya").
FILLER: Final = word_set(
    "por favor porfavor ya eki bot el la los las lo un una unos unas a al de del me mi mis yo "
    "tu te le quiero necesito solo ahora mismo pues y e o u que con en real verdad "
    "all todo todos todas este esta numero senor senora ahi"
)
ACKS: Final = word_set(
    "ok listo dale perfecto vale entendido entiendo bueno super chevere bacano genial "
    "excelente claro de acuerdo va bien"
)
MENU_FILLER: Final = word_set("opcion numero la el escojo elijo marco quiero")

THANKS_EMOJI: Final = frozenset("👍🙏❤♥💙💚💛💜🧡🤍🙌👌😊🥰🤗😘")
WAVE_EMOJI: Final = frozenset("👋")

INTENT_WORDS: Final[dict[str, Intent]] = {}
for _intent, _raw in WORDS_RAW.items():
    for _key in word_set(_raw):
        INTENT_WORDS.setdefault(_key, _intent)

PHRASES: Final[tuple[tuple[tuple[str, ...], Intent], ...]] = tuple(
    sorted(
        ((keys(phrase), intent) for intent, phrases in PHRASES_RAW.items() for phrase in phrases),
        key=lambda item: -len(item[0]),
    )
)

#: "How am I doing" phrases: progress unless the message names another topic.
GENERIC_PHRASES: Final = frozenset(
    keys(phrase)
    for phrase in (
        "como voy", "como vamos", "como estoy", "como me va", "como ando", "como sigo",
        "como van", "como va mi", "como me esta yendo",
    )
)  # fmt: skip

#: PHRASES indexed by their first word: (position in PHRASES, phrase, intent).
PHRASES_BY_FIRST: Final[dict[str, tuple[tuple[int, tuple[str, ...], Intent], ...]]] = {}
for _position, (_phrase, _phrase_intent) in enumerate(PHRASES):
    PHRASES_BY_FIRST[_phrase[0]] = (
        *PHRASES_BY_FIRST.get(_phrase[0], ()),
        (_position, _phrase, _phrase_intent),
    )

# Words that are never "corrected" by fuzzy matching: every known word, plus common Spanish
# words and course names that sit close to a keyword ("entre" ~ "entrega").
NOT_TYPOS: Final = word_set(
    "entre entro entonces estas estos estoy esta puedo puede tengo tiene tienen donde cuando "
    "cuanto cuantas ahora hacer hasta desde sobre todos todas tambien mucho muchas nada algo "
    "bueno buena buenas noches tardes porque pregunta preguntar semana semestre periodo "
    "profesor profesora materia materias clase clases colegio escuela grado curso cursos "
    "matematicas matematica ingles espanol sociales naturales ciencias biologia quimica fisica "
    "informatica tecnologia artes artistica musica religion etica filosofia historia geografia "
    "economia politica educacion deporte deportes lectura lenguaje castellano frances calculo "
    "estadistica geometria algebra trigonometria emprendimiento dibujo danza teatro "
    "mensajes recibir manden envien escriban numero whatsapp favor gracias perdon disculpa "
    "tarde temprano llegue llegar salir salgo salida entrada nuevo nueva otra otro otros "
    "pasado pasada proxima proximo primer primero segundo tercer tercero cuarto final total "
    "general mejor peor favor amigo amiga mama papa mami papi hijo hija acudiente estudiante "
    "veces viene vienen venga vengo entra entrar entran traer trae tarda tardo tardan audio "
    "audios grande grandes trabaja trabajar trabajamos resulta resultar pierde pierden falso "
    "falsa gracioso graciosa tablero directo directa"
)
KNOWN: Final[frozenset[str]] = frozenset(
    set(INTENT_WORDS)
    | {key for phrase, _ in PHRASES for key in phrase}
    | OPT_OUT_COMMANDS
    | OPT_IN_COMMANDS
    | HUMAN_NOUNS
    | HUMAN_STRONG_VERBS
    | HUMAN_WEAK_VERBS
    | FILLER
    | ACKS
    | NOT_TYPOS
    | set(ABBREVIATIONS.values())
)

# Fuzzy targets: keywords of five letters or more, never an opt-out/opt-in command (those
# silence or wake EKI, so they must be written on purpose).
FUZZY_VOCABULARY: Final[dict[str, tuple[str, ...]]] = {}
for _target in sorted((set(INTENT_WORDS) | HUMAN_NOUNS) - OPT_OUT_COMMANDS - OPT_IN_COMMANDS):
    if len(_target) >= 5:
        FUZZY_VOCABULARY[_target[0]] = (*FUZZY_VOCABULARY.get(_target[0], ()), _target)

FUZZY_MIN_LENGTH: Final = 5
FUZZY_MIN_RATIO: Final = 0.8

PAYLOAD_ALIASES: Final[dict[str, Intent]] = {
    **{intent.value: intent for intent in Intent},
    **MENU_OPTIONS,
    "hola": Intent.SALUDO,
    "menu": Intent.AYUDA,
    "help": Intent.AYUDA,
    "inicio": Intent.AYUDA,
    "opciones": Intent.AYUDA,
    "notas": Intent.PROGRESO,
    "calificaciones": Intent.PROGRESO,
    "promedio": Intent.PROGRESO,
    "progress": Intent.PROGRESO,
    "grades": Intent.PROGRESO,
    "fallas": Intent.ASISTENCIA,
    "faltas": Intent.ASISTENCIA,
    "attendance": Intent.ASISTENCIA,
    "tareas": Intent.PENDIENTES,
    "pendiente": Intent.PENDIENTES,
    "pending": Intent.PENDIENTES,
    "datos": Intent.MIS_DATOS,
    "perfil": Intent.MIS_DATOS,
    "profile": Intent.MIS_DATOS,
    "asesor": Intent.HUMANO,
    "humano": Intent.HUMANO,
    "persona": Intent.HUMANO,
    "handoff": Intent.HUMANO,
    "human": Intent.HUMANO,
    "baja": Intent.OPT_OUT,
    "stop": Intent.OPT_OUT,
    "alta": Intent.OPT_IN,
    "start": Intent.OPT_IN,
    "chao": Intent.DESPEDIDA,
}

PREPOSITIONS: Final = word_set("en de del sobre in")
LEADING: Final = word_set(
    "el la los las mi mis tu la materia asignatura clase area curso de del the my"
)
HINT_STOP: Final = (
    FILLER
    | HUMAN_NOUNS
    | ACKS
    | word_set(
        "como cuanto cuantas cual cuales donde cuando porque para sin hoy ayer manana tengo "
        "llevo voy va vamos estoy esta estan hay es son fue fui sea ser tiene tienen periodo "
        "bimestre trimestre semestre ano mes semana corte primer primero segundo tercer "
        "tercero cuarto quinto final finales total general todo todas todos colegio materia "
        "materias clase clases curso cursos area areas asignatura asignaturas no si bien mal "
        "nada algo mucho poco tambien pero pues entonces hasta desde sobre ahora hola gracias "
        "este ese esa eso esto estos esas esos mas menos muy hace alguna alguno algun ninguna "
        "ninguno cada varias varios otra otro otras otros veces vez muchas muchos pocas bajo "
        "baje bajaron subio subi subieron sube quedo quede salio sali paso pase gane perdi "
        "puso pusieron dio dieron nuevo nueva bueno buena malo mala alta alto baja the my "
        "class classes this term today subject please"
    )
)
MAX_HINT_WORDS: Final = 3
