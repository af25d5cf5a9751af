"""School data EKI answers from: courses, assessments, results, attendance, the grading
scale, and the progress report computed from them (pure, no I/O)."""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from datetime import date
from typing import NamedTuple

import attrs


@attrs.frozen
class Band:
    """A performance level of the national scale (Decreto 1290): Superior, Alto…"""

    name: str
    low: float
    high: float

    def __attrs_post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"band {self.name!r}: low must not exceed high")


def _default_bands() -> tuple[Band, ...]:
    return (
        Band("Superior", 4.6, 5.0),
        Band("Alto", 4.0, 4.5),
        Band("Básico", 3.0, 3.9),
        Band("Bajo", 1.0, 2.9),
    )


def _band_tuple(bands: Iterable[Band]) -> tuple[Band, ...]:
    return tuple(bands)


@attrs.frozen
class GradingScale:
    """The school's scale. Default 1.0–5.0, passing 3.0, one decimal; schools set theirs
    (Decreto 1290), e.g. 0–100 passing 60 or 1–10 passing 6."""

    minimum: float = 1.0
    maximum: float = 5.0
    passing: float = 3.0
    decimals: int = 1
    bands: tuple[Band, ...] = attrs.field(factory=_default_bands, converter=_band_tuple)

    def __attrs_post_init__(self) -> None:
        if not self.minimum < self.maximum:
            raise ValueError("the scale's minimum must be below its maximum")
        if not self.minimum <= self.passing <= self.maximum:
            raise ValueError("the passing grade must lie on the scale")
        if not 0 <= self.decimals <= 3:
            raise ValueError("decimals must be between 0 and 3")

    def round(self, value: float) -> float:
        """Half-up rounding to the scale's decimals (4.25 → 4.3), as schools round.

        Binary noise is removed first, so a computed 4.549999999999999 counts as 4.55 → 4.6.
        """
        if not math.isfinite(value):
            raise ValueError("cannot round a value that is not finite")
        factor = 10.0**self.decimals
        scaled = round(abs(value) * factor, 6)  # 45.49999999999999 → 45.5
        rounded = math.floor(scaled + 0.5) / factor
        return -rounded if value < 0 and rounded else rounded

    def clamp(self, value: float) -> float:
        """The value kept on the scale (a 0 of 50 is the scale's minimum, 1.0)."""
        return min(self.maximum, max(self.minimum, value))

    def rescale(self, score: float, max_score: float | None) -> float:
        """A score on another maximum, proportionally onto this scale (45/50 → 4.5/5.0)."""
        if max_score is None or max_score == self.maximum:
            return score
        if max_score <= 0:
            raise ValueError("max_score must be positive")
        return score / max_score * self.maximum

    def band(self, value: float) -> str | None:
        """The band of the rounded value (4.55 → 4.6 → Superior).

        A value inside a band's range gets that band; a value in a gap between bands (possible
        with more decimals than the bands use: 4.55 with two decimals) gets the highest band
        whose lower bound it reaches. Outside every band: None.
        """
        rounded = self.round(value)
        for band in self.bands:
            if band.low <= rounded <= band.high:
                return band.name
        reached = [band for band in self.bands if band.low <= rounded]
        if not reached or rounded > max(band.high for band in self.bands):
            return None
        return max(reached, key=lambda band: band.low).name

    def is_passing(self, value: float) -> bool:
        return self.round(value) >= self.passing


DEFAULT_SCALE = GradingScale()


class ResultStatus(enum.StrEnum):
    GRADED = "graded"
    PENDING = "pending"
    EXCUSED = "excused"


class AttendanceStatus(enum.StrEnum):
    PRESENT = "presente"
    ABSENT = "ausente"
    LATE = "tarde"
    EXCUSED = "excusa"


@attrs.frozen
class Course:
    id: int
    name: str
    code: str | None = None
    period: str | None = None


# Records of a student's book are NamedTuples: a report reads hundreds of them per call.


class Assessment(NamedTuple):
    id: int
    course_id: int
    title: str
    max_score: float | None = None  # None: the scale's maximum
    weight: float | None = None  # percent of the course; None: shares what is left equally
    due_date: date | None = None
    period: str | None = None


class Result(NamedTuple):
    assessment_id: int
    status: ResultStatus
    score: float | None = None  # on the assessment's own maximum


class AttendanceRecord(NamedTuple):
    course_id: int
    day: date
    status: AttendanceStatus


@attrs.frozen
class StudentRecordBook:
    """Everything a report needs about one student, as loaded from storage."""

    courses: tuple[Course, ...]
    assessments: tuple[Assessment, ...]
    results: tuple[Result, ...]
    attendance: tuple[AttendanceRecord, ...]


@attrs.frozen
class PendingItem:
    course: str
    title: str
    due_date: date | None
    overdue: bool = False  # due before the report's day and still without a grade


@attrs.frozen
class GradeLine:
    course: str
    title: str
    status: ResultStatus
    score: float | None  # on the school scale, rounded
    raw_score: float | None
    max_score: float | None
    weight: float  # effective percent used in the average
    due_date: date | None


@attrs.frozen
class CourseProgress:
    course_id: int
    course: str
    code: str | None
    period: str | None
    average: float | None  # weighted, on the school scale; None: nothing graded yet
    band: str | None
    passing: bool | None
    graded: int
    total: int
    pending: tuple[PendingItem, ...]  # next ones first
    attendance_rate: float | None  # share of sessions attended (late counts as attended)
    absences: int
    late: int
    excused: int
    grades: tuple[GradeLine, ...] = ()
    sessions: int = 0  # attendance rows of the course (all statuses)

    @property
    def pending_count(self) -> int:
        """Assessments still without a grade (``pending`` shows only the next few)."""
        return self.total - self.graded


@attrs.frozen
class ProgressReport:
    courses: tuple[CourseProgress, ...]
    overall_average: float | None
    scale: GradingScale
    period: str | None = None
    course: str | None = None  # the course asked for, as matched ("mate" → "Matemáticas")
    as_of: date | None = None  # the day pending work was compared with (overdue)
    available_courses: tuple[str, ...] = ()  # every course of the student, for "did you mean"
    available_periods: tuple[str, ...] = ()


def effective_weights(assessments: Sequence[Assessment]) -> dict[int, float]:
    """Percent weights per assessment: given ones as they are; missing ones share what
    is left of 100 equally (all count equally when none has a weight).

    An explicit weight of 0 counts 0 (a formative activity) — unless every assessment has
    weight 0, then they count equally; a negative weight is treated as missing. Weights that
    add up to 100 or more leave 0 to the missing ones."""
    given: dict[int, float] = {
        a.id: a.weight for a in assessments if a.weight is not None and a.weight >= 0
    }
    missing = [a.id for a in assessments if a.id not in given]
    if not missing and not any(weight > 0 for weight in given.values()):
        equal = 100.0 / len(assessments) if assessments else 0.0
        return {a.id: equal for a in assessments}
    left = max(0.0, 100.0 - math.fsum(given.values()))
    share = left / len(missing) if missing else 0.0
    return {**given, **{assessment_id: share for assessment_id in missing}}


# -- rows of the gradebook, attendance and enrollment imports ---------------------------------
# NamedTuples, not attrs classes: an import builds one per row (a million for a school year).


class GradeRow(NamedTuple):
    """One result to store: the student's score on an assessment of a course."""

    row: int
    student_id: int
    course: str
    period: str | None
    assessment: str
    max_score: float | None
    weight: float | None
    due_date: date | None
    score: float | None  # None with status pending/excused
    status: ResultStatus


class AttendanceRow(NamedTuple):
    row: int
    student_id: int
    course: str
    period: str | None
    day: date
    status: AttendanceStatus


class EnrollmentRow(NamedTuple):
    row: int
    student_id: int
    course: str
    period: str | None
    code: str | None = None


@attrs.frozen
class WriteCounts:
    created: int
    updated: int
    unchanged: int
