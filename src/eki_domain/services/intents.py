"""Spanish intents for the rule-based responder (level 3 of the assistant ladder).

Pure and synchronous. Students write the way people write on WhatsApp at 11 pm: no accents,
emoji, "holaaa", "q tal", "xfa", "ntas", "asistensia". The pipeline is:

1. :func:`normalize_text`: lower case, accents stripped, emoji and punctuation removed.
2. Tokens are squeezed ("holaaa" → "hola"), common abbreviations are expanded ("q" → "que",
   "ntas" → "notas") and unknown words of five letters or more are corrected against the
   keyword vocabulary with :class:`difflib.SequenceMatcher` (ratio ≥ 0.8, same first letter).
3. Phrases (longest first) and then single keywords are matched, and :func:`detect_intent`
   decides with a fixed order: a button/list payload, a menu number typed alone ("1".."5"),
   opt-out, hand-off to a person, opt-in, the questions (progress, attendance, pending work,
   profile), help, and finally the social intents (farewell, thanks, greeting).

Opt-out, hand-off and opt-in change what EKI does next, so they only win when the message is
mainly that request: "BAJA" or "no más mensajes" is an opt-out, "mi nota bajó" is not.
"""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
from collections.abc import Iterable
from difflib import SequenceMatcher
from typing import Final

import attrs

__all__ = [
    "MENU_OPTIONS",
    "Intent",
    "detect_intent",
    "extract_course",
    "normalize_text",
]


class Intent(enum.StrEnum):
    SALUDO = "saludo"
    AYUDA = "ayuda"  # the menu
    PROGRESO = "progreso"  # notas, calificaciones, promedio, "¿cómo voy?"
    ASISTENCIA = "asistencia"  # fallas, faltas, inasistencias, llegadas tarde
    PENDIENTES = "pendientes"  # tareas, trabajos, entregas
    MIS_DATOS = "mis_datos"  # mis datos, perfil, "¿quién soy?"
    GRACIAS = "gracias"
    DESPEDIDA = "despedida"
    OPT_OUT = "opt_out"  # STOP, BAJA, "no más mensajes"
    OPT_IN = "opt_in"  # ALTA, START, "volver a recibir mensajes"
    HUMANO = "humano"  # "quiero hablar con un asesor"
    DESCONOCIDO = "desconocido"


#: What a number typed alone means (the menu in :func:`~.responder.menu_text`).
MENU_OPTIONS: Final[dict[str, Intent]] = {
    "1": Intent.PROGRESO,
    "2": Intent.ASISTENCIA,
    "3": Intent.PENDIENTES,
    "4": Intent.MIS_DATOS,
    "5": Intent.HUMANO,
}

_QUESTIONS: Final = (Intent.PROGRESO, Intent.ASISTENCIA, Intent.PENDIENTES, Intent.MIS_DATOS)
_SOCIAL: Final = frozenset({Intent.SALUDO, Intent.GRACIAS, Intent.DESPEDIDA})
_COURSE_ANCHORS: Final = frozenset({Intent.PROGRESO, Intent.ASISTENCIA, Intent.PENDIENTES})

# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

_REPEATS: Final = re.compile(r"([^\W\d_])\1+")


def _fold(text: str) -> str:
    """Lower case without accents (NFKD, combining marks dropped): "Cómo" → "como"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_text(text: str) -> str:
    """Lower case, accents stripped, emoji and punctuation removed, whitespace collapsed.

    ``"¡Hola!! ¿Cómo voy en MATE? 🙏"`` → ``"hola como voy en mate"``. Letters and digits of
    any script are kept; everything else separates words.
    """
    cleaned = "".join(ch if ch.isalnum() else " " for ch in _fold(text))
    return " ".join(cleaned.split())


def _squeeze(word: str) -> str:
    """Collapse repeated letters ("holaaa" → "hola"); digits are kept ("11")."""
    return _REPEATS.sub(r"\1", word)


# Abbreviations and frequent misspellings, keyed by their squeezed form.
_ABBREVIATIONS_RAW: Final[dict[str, str]] = {
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


def _base_key(word: str) -> str:
    squeezed = _squeeze(word)
    return _ABBREVIATIONS.get(squeezed, squeezed)


_ABBREVIATIONS: Final[dict[str, str]] = {
    _squeeze(k): _squeeze(v) for k, v in _ABBREVIATIONS_RAW.items()
}


def _keys(words: str) -> tuple[str, ...]:
    return tuple(_base_key(word) for word in normalize_text(words).split())


def _word_set(words: str) -> frozenset[str]:
    return frozenset(_keys(words))


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

_WORDS_RAW: Final[dict[Intent, str]] = {
    Intent.PROGRESO: (
        "nota notas calificacion calificaciones calificado calificada promedio promedios "
        "boletin boletines rendimiento desempeno resultado resultados puntaje puntajes "
        "definitiva definitivas progreso avance avances perdiendo ganando pierdo perdi "
        "reprobando reprobado reprobada reprobe aprobando aprobado aprobada aprobe "
        "materias saque grades grade score scores"
    ),
    Intent.ASISTENCIA: (
        "asistencia asistencias inasistencia inasistencias falla fallas falta faltas falte "
        "falle faltado fallado ausencia ausencias ausente ausentes retardo retardos tardanza "
        "tardanzas excusa excusas asisti attendance absences absent"
    ),
    Intent.PENDIENTES: (
        "pendiente pendientes tarea tareas trabajo trabajos entrega entregas entregar "
        "actividad actividades taller talleres deber deberes debo faltan proyecto proyectos "
        "exposicion exposiciones examen examenes quiz quices evaluacion evaluaciones vence "
        "vencen plazo homework assignments"
    ),
    Intent.MIS_DATOS: "datos perfil registrado registrada profile",
    Intent.AYUDA: (
        "ayuda ayudame ayudeme ayudar menu opciones opcion help comandos instrucciones "
        "informacion inicio"
    ),
    Intent.SALUDO: "hola buenas buenos saludos hey hi hello quiubo epa ey",
    Intent.GRACIAS: "gracias agradecido agradecida agradezco thank",
    Intent.DESPEDIDA: "chao adios bye byebye adiosito cuidate bendiciones",
}

_PHRASES_RAW: Final[dict[Intent, tuple[str, ...]]] = {
    Intent.OPT_OUT: (
        "no mas mensajes", "no mas notificaciones", "no quiero mas mensajes",
        "no quiero mensajes", "no quiero recibir mensajes", "no quiero recibir mas mensajes",
        "no quiero recibir mas", "no quiero recibir nada", "no quiero que me escriban",
        "no me envien mas", "no me manden mas", "no me escriban mas", "no me escriba mas",
        "no me envien mensajes", "no me manden mensajes", "no me escriban", "no me escriba",
        "dejen de escribirme", "dejen de enviarme", "dejen de mandarme", "dejar de recibir",
        "darme de baja", "dar de baja", "me doy de baja", "cancelar suscripcion",
        "cancelar mensajes", "cancelar los mensajes", "eliminar mi numero", "borrar mi numero",
        "no molestar", "no molesten", "opt out", "stop all",
    ),
    Intent.OPT_IN: (
        "volver a recibir", "quiero recibir mensajes", "recibir mensajes de nuevo",
        "quiero volver a recibir", "activar mensajes", "reactivar mensajes",
        "activar notificaciones", "darme de alta", "dar de alta", "me doy de alta",
        "si quiero recibir", "ya quiero recibir",
    ),
    Intent.HUMANO: (
        "no quiero hablar con un bot", "no quiero hablar con un robot",
        "no quiero hablar con una maquina", "no quiero un bot", "no quiero un robot",
        "atencion humana", "atencion personalizada",
    ),
    Intent.PROGRESO: (
        "como voy", "como vamos", "como estoy", "como me va", "como me fue", "como ando",
        "como sigo", "como van", "como va mi", "como me esta yendo", "cuanto tengo",
        "cuanto llevo", "cuanto saque", "que saque", "cuanto me saque", "que me saque",
        "mis notas", "mi nota", "voy perdiendo", "voy ganando", "voy a perder", "voy a ganar",
        "para pasar", "para ganar", "paso el ano", "pierdo el ano", "gano el ano",
        "estoy perdiendo", "estoy ganando", "ya gane", "ya perdi",
    ),
    Intent.ASISTENCIA: (
        "llegadas tarde", "llegada tarde", "llegue tarde", "he faltado", "he fallado",
        "no fui", "no vine", "no asisti", "veces que falte",
    ),
    Intent.PENDIENTES: (
        "me falta", "que falta", "que me falta", "falta entregar", "me falta entregar",
        "por entregar", "tengo que hacer", "tengo que entregar", "hay que hacer",
        "hay que entregar", "que debo", "que me toca", "que toca", "para manana", "para hoy",
        "cuando es", "cuando hay", "cuando toca", "cuando se entrega", "que hay para",
        "que tengo para",
    ),
    Intent.MIS_DATOS: (
        "quien soy", "mi informacion", "mi nombre", "mi numero", "mi celular", "mi telefono",
        "mi cuenta", "mi registro", "que sabes de mi", "que datos tienes", "estoy registrado",
        "estoy registrada", "con que numero", "mis etiquetas", "mis grupos",
    ),
    Intent.AYUDA: (
        "que puedes hacer", "que haces", "como funciona", "como funcionas", "que sabes hacer",
        "para que sirves", "que eres", "quien eres", "que puedo preguntar",
        "que puedo consultar", "no entiendo", "volver al menu",
    ),
    Intent.SALUDO: (
        "que tal", "que mas", "que hubo", "que onda", "como estas", "como esta", "como vas",
        "como te va", "como le va", "buenos dias", "buenas tardes", "buenas noches",
        "buen dia", "muy buenas",
    ),
    Intent.GRACIAS: (
        "muchas gracias", "mil gracias", "te agradezco", "le agradezco", "dios le pague",
        "dios te pague", "por la ayuda", "por tu ayuda", "por su ayuda", "muy amable",
        "que amable",
    ),
    Intent.DESPEDIDA: (
        "hasta luego", "hasta manana", "hasta pronto", "nos vemos", "me voy", "feliz noche",
        "feliz dia", "feliz tarde", "buen fin de semana", "hablamos luego", "luego hablamos",
        "que descanses", "dulces suenos",
    ),
}  # fmt: skip

#: Whole-message commands: "STOP", "BAJA", "ALTA" alone (plus polite filler).
_OPT_OUT_COMMANDS: Final = _word_set(
    "stop stopall baja cancelar cancel unsubscribe unsuscribe desuscribir desuscribirme "
    "desuscribete desinscribirme detener parar basta optout end quit"
)
_OPT_IN_COMMANDS: Final = _word_set(
    "alta start unstop reanudar reactivar activar suscribirme suscribir subscribe optin"
)

_HUMAN_NOUNS: Final = _word_set(
    "humano humana persona asesor asesora agente operador operadora coordinador "
    "coordinadora coordinacion profesor profesora docente rector rectora rectoria "
    "orientador orientadora psicorientador psicorientadora secretaria director directora "
    "alguien acudiente"
)
#: Nouns that are a hand-off request when written alone ("asesor", "un humano por favor").
_HUMAN_NOUNS_ALONE: Final = _HUMAN_NOUNS - {"alguien", "acudiente"}
_HUMAN_STRONG_VERBS: Final = _word_set(
    "hablar hablarle hablarles comunicarme comunicar comunicarse contactar contactarme "
    "contacte contacten pasame pasarme pasar pasen comuniquenme comunicame conectame "
    "conectar conectarme llamar llamen llameme escriba escriban atienda atiendan atender"
)
_HUMAN_WEAK_VERBS: Final = _word_set("quiero necesito pido solicito requiero")

#: Words that carry no request of their own (courtesy, articles, pronouns, "ya").
_FILLER: Final = _word_set(
    "por favor porfavor ya eki bot el la los las lo un una unos unas a al de del me mi mis yo "
    "tu te le quiero necesito solo ahora mismo pues y e o u que con en real verdad "
    "all todo todos todas este esta numero senor senora ahi"
)
_ACKS: Final = _word_set(
    "ok listo dale perfecto vale entendido entiendo bueno super chevere bacano genial "
    "excelente claro de acuerdo va bien"
)
_MENU_FILLER: Final = _word_set("opcion numero la el escojo elijo marco quiero")

_THANKS_EMOJI: Final = frozenset("👍🙏❤♥💙💚💛💜🧡🤍🙌👌😊🥰🤗😘")
_WAVE_EMOJI: Final = frozenset("👋")

_INTENT_WORDS: Final[dict[str, Intent]] = {}
for _intent, _raw in _WORDS_RAW.items():
    for _key in _word_set(_raw):
        _INTENT_WORDS.setdefault(_key, _intent)

_PHRASES: Final[tuple[tuple[tuple[str, ...], Intent], ...]] = tuple(
    sorted(
        ((_keys(phrase), intent) for intent, phrases in _PHRASES_RAW.items() for phrase in phrases),
        key=lambda item: -len(item[0]),
    )
)

# Words that are never "corrected" by fuzzy matching: every known word, plus common Spanish
# words and course names that sit close to a keyword ("entre" ~ "entrega").
_NOT_TYPOS: Final = _word_set(
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
_KNOWN: Final[frozenset[str]] = frozenset(
    set(_INTENT_WORDS)
    | {key for phrase, _ in _PHRASES for key in phrase}
    | _OPT_OUT_COMMANDS
    | _OPT_IN_COMMANDS
    | _HUMAN_NOUNS
    | _HUMAN_STRONG_VERBS
    | _HUMAN_WEAK_VERBS
    | _FILLER
    | _ACKS
    | _NOT_TYPOS
    | set(_ABBREVIATIONS.values())
)

# Fuzzy targets: keywords of five letters or more, never an opt-out/opt-in command (those
# silence or wake EKI, so they must be written on purpose).
_FUZZY_VOCABULARY: Final[dict[str, tuple[str, ...]]] = {}
for _target in sorted((set(_INTENT_WORDS) | _HUMAN_NOUNS) - _OPT_OUT_COMMANDS - _OPT_IN_COMMANDS):
    if len(_target) >= 5:
        _FUZZY_VOCABULARY[_target[0]] = (*_FUZZY_VOCABULARY.get(_target[0], ()), _target)

_FUZZY_MIN_LENGTH: Final = 5
_FUZZY_MIN_RATIO: Final = 0.8


@functools.lru_cache(maxsize=8192)
def _correct(key: str) -> str:
    """The keyword an unknown word is a typo of ("asistensia" → "asistencia"), or the word."""
    if len(key) < _FUZZY_MIN_LENGTH or key in _KNOWN or not key.isalpha():
        return key
    best, best_ratio = key, _FUZZY_MIN_RATIO
    for target in _FUZZY_VOCABULARY.get(key[0], ()):
        if abs(len(target) - len(key)) > 2:
            continue
        matcher = SequenceMatcher(None, key, target, autojunk=False)
        if matcher.real_quick_ratio() < best_ratio or matcher.quick_ratio() < best_ratio:
            continue
        ratio = matcher.ratio()
        if ratio >= best_ratio and (ratio > best_ratio or best == key):
            best, best_ratio = target, ratio
    return best


# --------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------


@attrs.frozen
class _Token:
    display: str  # lower case as written, accents kept ("inglés")
    key: str  # folded, squeezed, abbreviation expanded, typo corrected ("ingles")
    segment: int  # punctuation, emoji and line breaks start a new segment


@attrs.frozen
class _Hit:
    intent: Intent
    start: int
    end: int  # exclusive
    phrase: bool
    command: bool = False


@attrs.frozen
class _Analysis:
    tokens: tuple[_Token, ...]
    hits: tuple[_Hit, ...]
    emoji: frozenset[str]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(token.key for token in self.tokens)

    def of(self, *intents: Intent) -> tuple[_Hit, ...]:
        return tuple(hit for hit in self.hits if hit.intent in intents)

    def covered(self, *intents: Intent) -> frozenset[int]:
        return frozenset(i for hit in self.of(*intents) for i in range(hit.start, hit.end))

    def rest(self, *intents: Intent, ignore: Iterable[str] = ()) -> list[_Token]:
        """Tokens not matched by ``intents`` nor social words, minus filler and ``ignore``."""
        covered = self.covered(*intents, *_SOCIAL)
        skip = _FILLER | frozenset(ignore)
        return [
            token
            for i, token in enumerate(self.tokens)
            if i not in covered and token.key not in skip
        ]


def _tokenize(text: str) -> tuple[tuple[_Token, ...], frozenset[str]]:
    tokens: list[_Token] = []
    emoji: set[str] = set()
    segment = 0
    current: list[str] = []

    def flush() -> None:
        if current:
            display = unicodedata.normalize("NFC", "".join(current))
            folded = "".join(ch for ch in _fold(display) if ch.isalnum())
            if folded:
                tokens.append(_Token(display, _correct(_base_key(folded)), segment))
            current.clear()

    for ch in unicodedata.normalize("NFC", text.lower()):
        if ch.isalnum() or unicodedata.combining(ch):
            current.append(ch)
            continue
        flush()
        if not ch.isspace() or ch in "\n\r":  # a burst of messages is joined with newlines
            segment += 1
            if ch in _THANKS_EMOJI or ch in _WAVE_EMOJI:
                emoji.add(ch)
    flush()
    return tuple(tokens), frozenset(emoji)


@functools.lru_cache(maxsize=2048)
def _analyze(text: str) -> _Analysis:
    tokens, emoji = _tokenize(text)
    keys = [token.key for token in tokens]
    used = [False] * len(keys)
    hits: list[_Hit] = []
    for phrase, intent in _PHRASES:
        size = len(phrase)
        for start in range(len(keys) - size + 1):
            end = start + size
            if tuple(keys[start:end]) == phrase and not any(used[start:end]):
                used[start:end] = [True] * size
                hits.append(_Hit(intent, start, end, phrase=True))
    for i, key in enumerate(keys):
        if used[i]:
            continue
        if key in _OPT_OUT_COMMANDS:
            hits.append(_Hit(Intent.OPT_OUT, i, i + 1, phrase=False, command=True))
        elif key in _OPT_IN_COMMANDS:
            hits.append(_Hit(Intent.OPT_IN, i, i + 1, phrase=False, command=True))
        elif key in _INTENT_WORDS:
            hits.append(_Hit(_INTENT_WORDS[key], i, i + 1, phrase=False))
    hits.sort(key=lambda hit: hit.start)
    return _Analysis(tokens, tuple(hits), emoji)


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------

_PAYLOAD_ALIASES: Final[dict[str, Intent]] = {
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


def _payload_intent(payload: str) -> Intent | None:
    """``"progreso"``, ``"MENU"``, ``"mis-datos"``, ``"eki:asesor"`` → the intent, else None."""
    folded = _fold(payload).strip()
    for candidate in (folded, re.split(r"[:/#]", folded)[-1]):
        key = re.sub(r"[\s\-.]+", "_", candidate.strip()).strip("_")
        for spelling in (key, key.replace("_", "")):
            intent = _PAYLOAD_ALIASES.get(spelling)
            if intent is not None:
                return intent
    return None


def _menu_number(analysis: _Analysis) -> Intent | None:
    keys = [key for key in analysis.keys if key not in _MENU_FILLER]
    if len(keys) == 1:
        return MENU_OPTIONS.get(keys[0])
    return None


def _is_request(analysis: _Analysis, intent: Intent) -> bool:
    """True when the message is mainly an opt-out / opt-in request."""
    hits = analysis.of(intent)
    if not hits or analysis.of(*_QUESTIONS, Intent.HUMANO):
        return False
    rest = analysis.rest(intent)
    if all(hit.command for hit in hits):
        return not rest  # "BAJA", "stop por favor"; never "baja la nota"
    return len(rest) <= 4


def _wants_human(analysis: _Analysis) -> bool:
    if analysis.of(Intent.HUMANO):
        return True
    keys = analysis.keys
    for i, key in enumerate(keys):
        if key in _HUMAN_STRONG_VERBS and _HUMAN_NOUNS.intersection(keys[i + 1 : i + 5]):
            return True  # "hablar con el coordinador", "comunicarme con alguien"
        if key in _HUMAN_WEAK_VERBS and _HUMAN_NOUNS.intersection(keys[i + 1 : i + 3]):
            return True  # "quiero un asesor", "necesito una persona"
    if _HUMAN_NOUNS_ALONE.intersection(keys):
        ignore = _HUMAN_NOUNS | _HUMAN_STRONG_VERBS | _HUMAN_WEAK_VERBS
        return not analysis.rest(ignore=ignore)  # "asesor", "un humano por favor"
    return False


def _best_question(analysis: _Analysis) -> Intent | None:
    scores: dict[Intent, int] = {}
    for hit in analysis.of(*_QUESTIONS):
        scores[hit.intent] = scores.get(hit.intent, 0) + (2 if hit.phrase else 1)
    if not scores:
        return None
    # Ties go to the first in _QUESTIONS ("nota del examen" → progreso).
    return max(_QUESTIONS, key=lambda intent: scores.get(intent, 0))


def detect_intent(text: str, payload: str | None = None) -> Intent:
    """What the student wants.

    A button/list ``payload`` wins when it names an intent (``"progreso"``, ``"menu"``,
    ``"asesor"``, ``"1"``…); otherwise the text decides, in this order: a menu number typed
    alone, opt-out, hand-off to a person, opt-in, the questions (progreso, asistencia,
    pendientes, mis datos — a greeting plus a question is the question), ayuda, despedida,
    gracias, saludo, a bare acknowledgement ("ok", "listo", 👍 → gracias), else desconocido.
    """
    if payload:
        intent = _payload_intent(payload)
        if intent is not None:
            return intent
    analysis = _analyze(text)
    number = _menu_number(analysis)
    if number is not None:
        return number
    if _is_request(analysis, Intent.OPT_OUT):
        return Intent.OPT_OUT
    if _wants_human(analysis):
        return Intent.HUMANO
    if _is_request(analysis, Intent.OPT_IN):
        return Intent.OPT_IN
    question = _best_question(analysis)
    if question is not None:
        return question
    for intent in (Intent.AYUDA, Intent.DESPEDIDA, Intent.GRACIAS, Intent.SALUDO):
        if analysis.of(intent):
            return intent
    if analysis.tokens and all(key in _ACKS or key in _FILLER for key in analysis.keys):
        return Intent.GRACIAS
    if not analysis.tokens:
        if analysis.emoji & _THANKS_EMOJI:
            return Intent.GRACIAS
        if analysis.emoji & _WAVE_EMOJI:
            return Intent.SALUDO
    return Intent.DESCONOCIDO


# --------------------------------------------------------------------------------------------
# Course hints
# --------------------------------------------------------------------------------------------

_PREPOSITIONS: Final = _word_set("en de del sobre")
_LEADING: Final = _word_set("el la los las mi mis tu la materia asignatura clase area curso de del")
_HINT_STOP: Final = (
    _FILLER
    | _HUMAN_NOUNS
    | _ACKS
    | _word_set(
        "como cuanto cuantas cual cuales donde cuando porque para sin hoy ayer manana tengo "
        "llevo voy va vamos estoy esta estan hay es son fue fui sea ser tiene tienen periodo "
        "bimestre trimestre semestre ano mes semana corte primer primero segundo tercer "
        "tercero cuarto quinto final finales total general todo todas todos colegio materia "
        "materias clase clases curso cursos area areas asignatura asignaturas no si bien mal "
        "nada algo mucho poco tambien pero pues entonces hasta desde sobre ahora hola gracias "
        "este ese esa eso esto estos esas esos mas menos muy hace alguna alguno algun ninguna "
        "ninguno cada varias varios otra otro otras otros veces vez muchas muchos pocas bajo "
        "baje bajaron subio subi subieron sube quedo quede salio sali paso pase gane perdi "
        "puso pusieron dio dieron nuevo nueva bueno buena malo mala alta alto baja"
    )
)
_MAX_HINT_WORDS: Final = 3


def _take_hint(analysis: _Analysis, start: int, stop: int, covered: frozenset[int]) -> str | None:
    tokens = analysis.tokens
    i = start
    while i < stop and tokens[i].key in _LEADING and i not in covered:
        i += 1
    words: list[str] = []
    segment = tokens[i].segment if i < stop else -1
    while i < stop and len(words) < _MAX_HINT_WORDS:
        token = tokens[i]
        if (
            i in covered
            or token.segment != segment
            or token.key in _HINT_STOP
            or token.key in _PREPOSITIONS
            or not token.key.isalpha()
        ):
            break
        words.append(token.display)
        i += 1
    return " ".join(words) or None


def extract_course(text: str) -> str | None:
    """The course the student asks about, as written: "¿cómo voy en mate?" → ``"mate"``.

    Only looked for when the message asks about progress, grades, attendance or pending work
    ("en mate", "de inglés", "notas matemáticas", "sociales: fallas"). The hint is lower-cased
    with its accents kept ("inglés", "educación física"); matching it against the student's
    real courses is the tools' job.
    """
    analysis = _analyze(text)
    anchors = analysis.of(*_COURSE_ANCHORS)
    if not anchors:
        return None
    covered = frozenset(i for hit in analysis.hits for i in range(hit.start, hit.end))
    size = len(analysis.tokens)
    for i, token in enumerate(analysis.tokens):  # "en mate", "de inglés"
        if token.key in _PREPOSITIONS and i not in covered:
            hint = _take_hint(analysis, i + 1, size, covered)
            if hint is not None:
                return hint
    first = anchors[0]
    if not first.phrase:  # "notas mate", "fallas inglés" (not "mi nota bajó")
        after = _take_hint(analysis, first.end, size, covered)
        if after is not None:
            return after
    before = _take_hint(analysis, 0, first.start, covered)  # "mate, ¿cómo voy?"
    if before is not None:
        return before
    return _lone_segment(analysis, covered)  # "¿cuántas fallas tengo?\nmate"


def _lone_segment(analysis: _Analysis, covered: frozenset[int]) -> str | None:
    """A line or clause that is only a course name, anywhere in the message."""
    segments: dict[int, list[int]] = {}
    for i, token in enumerate(analysis.tokens):
        segments.setdefault(token.segment, []).append(i)
    for indexes in segments.values():
        hint = _take_hint(analysis, indexes[0], indexes[-1] + 1, covered)
        if hint is not None and len(hint.split()) == len(indexes):
            return hint
    return None
