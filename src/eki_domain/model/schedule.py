"""Time rules of the school's communication: WhatsApp's 24-hour customer-service window,
business hours, quiet hours, and Colombian business days (public holidays included).

Every rule works on timezone-aware datetimes and reads wall-clock times in the school's time
zone (``EKI_TIMEZONE``, default ``America/Bogota``); nothing here reads a clock.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache

import attrs

from eki_domain.errors import InvalidInput

#: WhatsApp's customer-service window: free text is allowed until this long after the
#: person's last inbound message (measured from that message's own timestamp).
SERVICE_WINDOW = timedelta(hours=24)

_DAYS = ("lun", "mar", "mie", "jue", "vie", "sab", "dom")
_DAY_ALIASES = {"mié": "mie", "sáb": "sab", "mon": "lun", "tue": "mar", "wed": "mie",
                "thu": "jue", "fri": "vie", "sat": "sab", "sun": "dom"}
_DAY_NAMES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class InvalidSchedule(InvalidInput):
    code = "INVALID_SCHEDULE"


def window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Free text may be sent: the person wrote less than 24 hours ago."""
    return last_inbound_at is not None and now < last_inbound_at + SERVICE_WINDOW


def window_left(last_inbound_at: datetime | None, now: datetime) -> timedelta:
    """Time left in the window (zero when closed)."""
    if last_inbound_at is None:
        return timedelta(0)
    return max(timedelta(0), last_inbound_at + SERVICE_WINDOW - now)


def _clock(raw: str, what: str) -> time:
    match = _CLOCK.match(raw.strip())
    if match is None:
        raise InvalidSchedule(f"{what}: «{raw.strip()}» no es una hora HH:MM (por ejemplo 07:00).")
    return time(int(match.group(1)), int(match.group(2)))


def _day(raw: str, what: str) -> int:
    key = raw.strip().lower()
    key = _DAY_ALIASES.get(key, key)
    full = {name.replace("é", "e").replace("á", "a"): short
            for name, short in zip(_DAY_NAMES, _DAYS, strict=True)}
    key = full.get(key.replace("é", "e").replace("á", "a"), key)
    if key not in _DAYS:
        raise InvalidSchedule(f"{what}: «{raw.strip()}» no es un día (lun, mar, mie, jue, vie, "
                              "sab, dom).")
    return _DAYS.index(key)


@attrs.frozen
class BusinessHours:
    """When someone at the school answers, e.g. ``lun-vie 07:00-17:00`` or
    ``lun-vie 07:00-17:00, sab 08:00-12:00``. Colombian public holidays are closed."""

    #: (weekday 0=Monday, opens, closes) spans; closes > opens.
    spans: tuple[tuple[int, time, time], ...]
    zone: tzinfo
    holidays: bool = True

    @classmethod
    def parse(cls, raw: str, zone: tzinfo, *, holidays: bool = True) -> BusinessHours:
        what = "EKI_BUSINESS_HOURS"
        spans: list[tuple[int, time, time]] = []
        for part in (p for p in raw.split(",") if p.strip()):
            days_text, _, hours_text = part.strip().partition(" ")
            opens_text, dash, closes_text = hours_text.strip().partition("-")
            if not dash:
                raise InvalidSchedule(f"{what}: «{part.strip()}» debe ser como «lun-vie "
                                      "07:00-17:00».")
            opens, closes = _clock(opens_text, what), _clock(closes_text, what)
            if closes <= opens:
                raise InvalidSchedule(f"{what}: en «{part.strip()}» la hora de cierre debe ser "
                                      "posterior a la de apertura.")
            first, _, last = days_text.partition("-")
            start, end = _day(first, what), _day(last or first, what)
            day = start
            while True:
                spans.append((day, opens, closes))
                if day == end:
                    break
                day = (day + 1) % 7
        if not spans:
            raise InvalidSchedule(f"{what}: está vacío; escriba por ejemplo «lun-vie 07:00-17:00».")
        return cls(spans=tuple(sorted(spans)), zone=zone, holidays=holidays)

    def _spans_on(self, day: date) -> list[tuple[datetime, datetime]]:
        if self.holidays and is_colombian_holiday(day):
            return []
        return [(datetime.combine(day, opens, self.zone), datetime.combine(day, closes, self.zone))
                for weekday, opens, closes in self.spans if weekday == day.weekday()]

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return any(start <= local < end for start, end in self._spans_on(local.date()))

    def next_opening(self, moment: datetime) -> datetime:
        """``moment`` itself when open, else the next time the school opens."""
        local = moment.astimezone(self.zone)
        for offset in range(0, 400):
            day = local.date() + timedelta(days=offset)
            for start, end in self._spans_on(day):
                if local < end:
                    return max(start, local)
        raise InvalidSchedule("EKI_BUSINESS_HOURS no abre nunca en el próximo año.")

    def minutes_between(self, start: datetime, end: datetime) -> float:
        """Business minutes from ``start`` to ``end`` (0 when end <= start): the
        first-response time the dashboard shows."""
        if end <= start:
            return 0.0
        a, b = start.astimezone(self.zone), end.astimezone(self.zone)
        total = 0.0
        day = a.date()
        while day <= b.date():
            for opens, closes in self._spans_on(day):
                lo, hi = max(opens, a), min(closes, b)
                if hi > lo:
                    total += (hi - lo).total_seconds() / 60
            day += timedelta(days=1)
        return total

    def describe(self, moment: datetime) -> str:
        """Spanish words for a moment, as the "we will answer…" reply says it:
        «hoy a las 07:00», «mañana a las 07:00», «el lunes 8 de diciembre a las 07:00»."""
        return describe_moment(moment, self.zone, today=None)


def describe_moment(moment: datetime, zone: tzinfo, *, today: date | None) -> str:
    local = moment.astimezone(zone)
    hour = f"{local:%H:%M}"
    if today is not None:
        if local.date() == today:
            return f"hoy a las {hour}"
        if local.date() == today + timedelta(days=1):
            return f"mañana a las {hour}"
    months = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
              "septiembre", "octubre", "noviembre", "diciembre")
    return (f"el {_DAY_NAMES[local.weekday()]} {local.day} de {months[local.month - 1]} "
            f"a las {hour}")


@attrs.frozen
class QuietHours:
    """Hours when no alert goes out (``20:00-07:00``: across midnight is fine). ``None``
    start/end: quiet hours are off."""

    start: time | None
    end: time | None
    zone: tzinfo

    @classmethod
    def parse(cls, raw: str, zone: tzinfo) -> QuietHours:
        if not raw.strip():
            return cls(None, None, zone)
        first, dash, second = raw.partition("-")
        if not dash:
            raise InvalidSchedule("EKI_QUIET_HOURS debe ser como «20:00-07:00» (vacío: sin "
                                  "horas de silencio).")
        start, end = _clock(first, "EKI_QUIET_HOURS"), _clock(second, "EKI_QUIET_HOURS")
        if start == end:
            raise InvalidSchedule("EKI_QUIET_HOURS: el inicio y el fin no pueden ser iguales.")
        return cls(start, end, zone)

    @property
    def enabled(self) -> bool:
        return self.start is not None

    def is_quiet(self, moment: datetime) -> bool:
        if self.start is None or self.end is None:
            return False
        now = moment.astimezone(self.zone).time()
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def next_allowed(self, moment: datetime) -> datetime:
        """``moment`` when it is not quiet, else the end of the quiet hours."""
        if not self.is_quiet(moment) or self.end is None:
            return moment
        local = moment.astimezone(self.zone)
        end = datetime.combine(local.date(), self.end, self.zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, self.zone)
        return end


# -- Colombian public holidays (Ley 51 de 1983, "Ley Emiliani") and business days -----------


def _easter(year: int) -> date:
    """Western Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _next_monday(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7)


@lru_cache(maxsize=64)
def colombian_holidays(year: int) -> frozenset[date]:
    """Colombia's public holidays of ``year``: fixed ones, those moved to the next Monday
    by Ley 51 de 1983, and those counted from Easter."""
    fixed = {date(year, 1, 1), date(year, 5, 1), date(year, 7, 20), date(year, 8, 7),
             date(year, 12, 8), date(year, 12, 25)}
    moved = {_next_monday(date(year, month, day)) for month, day in (
        (1, 6), (3, 19), (6, 29), (8, 15), (10, 12), (11, 1), (11, 11))}
    easter = _easter(year)
    from_easter = {easter - timedelta(days=3), easter - timedelta(days=2),  # Thu, Fri
                   easter + timedelta(days=43), easter + timedelta(days=64),
                   easter + timedelta(days=71)}  # Ascension, Corpus Christi, Sacred Heart
    return frozenset(fixed | moved | from_easter)


def is_colombian_holiday(day: date) -> bool:
    return day in colombian_holidays(day.year)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and not is_colombian_holiday(day)


def add_business_days(start: date, days: int) -> date:
    """The date ``days`` business days after ``start`` (Ley 1581's deadlines: 10 for a
    consulta, 15 for a reclamo, counted from the day after the request)."""
    if days < 0:
        raise ValueError("days must be >= 0")
    day = start
    left = days
    while left:
        day += timedelta(days=1)
        if is_business_day(day):
            left -= 1
    return day


def business_days_between(start: date, end: date) -> int:
    """Business days after ``start`` up to and including ``end`` (negative when ``end`` is
    earlier)."""
    if end < start:
        return -business_days_between(end, start)
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_business_day(day):
            count += 1
    return count
