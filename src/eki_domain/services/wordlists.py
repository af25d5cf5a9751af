"""Word lists beyond the rules' intents: language, slots, word classes, refused requests.

Data, like :mod:`eki_domain.services.lexicon`: which words mark English, what a school
subject, a period or an attendance kind looks like (:mod:`.slots`), the word classes the
statistical classifier learns from (``eki_adapters.understanding``) and the requests EKI
never fulfils (:func:`~eki_domain.services.intents.refused_request`).
"""

from __future__ import annotations

from typing import Final

from eki_domain.services.lexicon import base_key, word_set

__all__ = ["plain_words"]


def plain_words(text: str) -> frozenset[str]:
    """Words as written (no abbreviation expansion, unlike :func:`word_set`)."""
    return frozenset(text.split())


# --------------------------------------------------------------------------------------------
# Language: a question in English is answered in English
# --------------------------------------------------------------------------------------------

#: Words that mark a message as English (none is also a common Spanish word).
ENGLISH_WORDS: Final = plain_words(
    "the my i im i'm am is are was were what whats how do does did have has had you your me "
    "can could would will should to of on for any anything when which who why this that it "
    "there please thanks thank hi hello hey good morning afternoon evening night bye see later "
    "homework grades grade gpa attendance absences absent late tardies school class classes "
    "test exam quiz score son daughter kid passing failing doing much many times missed miss "
    "show tell give need want talk speak person teacher principal someone real data about "
    "know information registered phone number group messages stop sending start again "
    "assignments assignment due tomorrow today week pending report card average overall "
    "subject subjects math english science history spanish and or not don't dont with be "
    "been get got pass fail help options work turn hand in"
)
#: Words that mark a message as Spanish.
SPANISH_WORDS: Final = plain_words(
    "que como de la el los las en mi mis tengo voy cuantas cuantos cuanto hola tu te yo es "
    "estoy por para con una un y o pero mas ya hay son esta este del al se le lo me quiero "
    "necesito notas fallas tareas gracias buenas dias porfa favor tarde hijo hija mate "
    "materia materias colegio profe profesor pendiente pendientes llevo saque pues"
)

# --------------------------------------------------------------------------------------------
# Slots: what a course, a period and an attendance kind look like
# --------------------------------------------------------------------------------------------

#: Words of common course names (and their short forms): a hint made of none of these is
#: only a course when it matches one of the student's own courses.
SUBJECT_WORDS: Final = plain_words(
    "matematicas matematica mate mates math maths ingles english espanol castellano lenguaje "
    "lengua sociales social naturales ciencias ciencia science biologia bio biology quimica "
    "chemistry fisica physics informatica compu computacion sistemas tecnologia technology "
    "artes artistica arte art musica music religion etica filosofia historia history geografia "
    "economia politica educacion edufisica deporte deportes lectura critica frances french "
    "calculo estadistica geometria algebra trigonometria emprendimiento dibujo danza danzas "
    "teatro spanish literatura catedra astronomia ingenieria contabilidad agropecuaria "
    "convivencia"
)
#: Ordinal words of a period ("el primero", "segundo periodo", "P3", "third term").
PERIOD_ORDINALS: Final[dict[str, int]] = {
    "primer": 1, "primero": 1, "primera": 1, "first": 1, "p1": 1, "1": 1, "i": 1,
    "segundo": 2, "segunda": 2, "second": 2, "p2": 2, "2": 2, "ii": 2,
    "tercer": 3, "tercero": 3, "tercera": 3, "third": 3, "p3": 3, "3": 3, "iii": 3,
    "cuarto": 4, "cuarta": 4, "fourth": 4, "p4": 4, "4": 4, "iv": 4,
}  # fmt: skip
PERIOD_WORDS: Final = plain_words(
    "periodo periodos bimestre trimestre corte semestre term period quarter"
)
PERIOD_CURRENT: Final = frozenset({"este", "esta", "actual", "this", "current"})
PERIOD_PREVIOUS: Final = frozenset({"pasado", "anterior", "last", "previous"})
#: Attendance kinds: late arrivals and excused absences (absences are the default).
LATE_WORDS: Final = plain_words(
    "tarde tardes retardo retardos tardanza tardanzas late tardies tardy"
)
EXCUSE_WORDS: Final = plain_words(
    "excusa excusas justificada justificadas justificado justificados excused excuse"
)


# --------------------------------------------------------------------------------------------
# Word classes: features for the statistical classifier
# --------------------------------------------------------------------------------------------

#: Words that mean the same thing to the classifier: it learns a class from a few examples
#: and applies it to every word of the class ("borra", "cambia", "subeme" → a request to
#: change data, which EKI cannot do). Keys as the rules read words (:func:`base_key`).
WORD_CLASSES_RAW: Final[dict[str, str]] = {
    "modify": (
        "cambia cambiame cambiar cambien modifica modificar modifiquen borra borrame borrar "
        "borren quita quitame quitar quiten sube subeme subir suban pon ponme poner pongan "
        "elimina eliminar hackea hackear hackeen change delete edit fix raise"
    ),
    "do_for_me": (
        "hazme haz hagas resuelve resuelveme resolver escribeme escribe redacta explicame "
        "explica traduce traduceme traducir resumen respuestas respuesta solve write translate "
        "answers essay poema chiste joke story cuento"
    ),
    "others": (
        "companero companera companeros companeras demas otro otra otros otras estudiantes "
        "alumnos classmate classmates others everyone students lista"
    ),
    "logistics": (
        "uniforme ruta bus pension matricula matriculas recreo descanso vacaciones paro "
        "excursion refrigerio almuerzo restaurante tienda cupo cupos certificado icfes "
        "plataforma classroom wifi contrasena clave carnet libros bazar feria comunion "
        "graduacion torneo festivo sabado lunch recess tuition lonchera chaqueta maleta "
        "cuaderno calculadora celular perdio perdido"
    ),
    "feelings": (
        "enfermo enferma fiebre gripa duele triste aburrido aburrida cansado cansada "
        "estresado estresada miedo hambre sueno sick sad bored tired odio amo quiero"
    ),
    "injection": (
        "ignora ignore ignoren olvida forget instrucciones instructions prompt reglas rules "
        "sistema system admin administrador desarrollador developer modo mode actua act "
        "finge pretend"
    ),
    "bot": "eres robot bot inteligencia chatgpt openai modelo creo programo entreno are you",
    "ack": (
        "bien bueno chevere genial excelente super perfecto bacano buenisimo great nice cool "
        "awesome listo ok dale vale entendido entendi"
    ),
    "contact": (
        "llamar llamen llame llamenme llamarme llamada cita queja reclamo pqr denunciar "
        "problema urgente call appointment complaint reunirme"
    ),
    "profile": (
        "datos informacion registrado registrada inscrito inscrita nombre numero celular "
        "grupo grado curso salon perfil cedula direccion seccion jornada name group profile"
    ),
    "assessment": (
        "quiz quices examen examenes taller talleres exposicion evaluacion parcial prueba "
        "trabajo proyecto informe ensayo bimestral recuperacion nivelacion simulacro "
        "laboratorio sustentacion test exam project essay"
    ),
    "scored": (
        "saque saco sacaste califico calificaron calificado calificada pusieron puso fue "
        "gane gano pase got score scored graded"
    ),
    "due": "cuando vence vencen entrega entregar entregas plazo fecha due when",
    "subject": (
        "matematicas matematica mate mates math ingles english espanol castellano sociales "
        "naturales ciencias biologia quimica fisica informatica tecnologia artes musica "
        "religion etica filosofia historia geografia science chemistry physics biology"
    ),
    "child": "hijo hija hijos ninos nino nina acudido acudida son daughter kid",
}
WORD_CLASSES: Final[dict[str, str]] = {
    base_key(word): name for name, words in WORD_CLASSES_RAW.items() for word in words.split()
}


#: Requests EKI never fulfils, whatever else the message names: changing records
#: ("bórrame las fallas", "súbeme la nota") and doing schoolwork ("hazme el taller").
MODIFY_REQUEST: Final = word_set(
    "cambia cambiame cambien modifica modificame modifiquen borra borrame bórrame quita "
    "quitame quiten subeme subanme bajame ponme pongame hackea hackear hackeen delete"
)
SCHOOLWORK_REQUEST: Final = word_set(
    "hazme hagame resuelve resuelveme resuelvame escribeme redactame traduce traduceme "
    "solve translate respuestas answers"
)
