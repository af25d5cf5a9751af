"""The 24-hour window, business and quiet hours, Colombian holidays and business days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from eki_domain.model.schedule import (
    BusinessHours,
    InvalidSchedule,
    QuietHours,
    add_business_days,
    business_days_between,
    colombian_holidays,
    describe_moment,
    window_left,
    window_open,
)

BOGOTA = ZoneInfo("America/Bogota")


def bog(*args: int) -> datetime:
    return datetime(*args, tzinfo=BOGOTA)  # type: ignore[misc]


def test_window_edges() -> None:
    last = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert window_open(last, last + timedelta(hours=23, minutes=59))
    assert not window_open(last, last + timedelta(hours=24))
    assert not window_open(last, last + timedelta(hours=24, minutes=1))
    assert not window_open(None, last)
    assert window_left(last, last + timedelta(hours=23)) == timedelta(hours=1)
    assert window_left(last, last + timedelta(hours=25)) == timedelta(0)


def test_colombian_holidays_2026() -> None:
    assert sorted(colombian_holidays(2026)) == [
        date(2026, 1, 1), date(2026, 1, 12), date(2026, 3, 23), date(2026, 4, 2),
        date(2026, 4, 3), date(2026, 5, 1), date(2026, 5, 18), date(2026, 6, 8),
        date(2026, 6, 15), date(2026, 6, 29), date(2026, 7, 20), date(2026, 8, 7),
        date(2026, 8, 17), date(2026, 10, 12), date(2026, 11, 2), date(2026, 11, 16),
        date(2026, 12, 8), date(2026, 12, 25)]
    assert len(colombian_holidays(2027)) == 18


def test_business_days() -> None:
    # A consulta filed Friday 27 Nov 2026: 10 business days, 8 Dec is a holiday.
    assert add_business_days(date(2026, 11, 27), 10) == date(2026, 12, 14)
    assert business_days_between(date(2026, 11, 27), date(2026, 12, 14)) == 10
    assert business_days_between(date(2026, 12, 14), date(2026, 11, 27)) == -10
    assert add_business_days(date(2026, 12, 4), 0) == date(2026, 12, 4)


def test_business_hours() -> None:
    hours = BusinessHours.parse("lun-vie 07:00-17:00, sab 08:00-12:00", BOGOTA)
    assert hours.is_open(bog(2026, 12, 4, 9, 0))  # Friday
    assert not hours.is_open(bog(2026, 12, 4, 17, 0))
    assert hours.is_open(bog(2026, 12, 5, 11, 59))  # Saturday
    assert not hours.is_open(bog(2026, 12, 8, 9, 0))  # Tuesday, a holiday
    assert hours.next_opening(bog(2026, 12, 5, 13, 0)) == bog(2026, 12, 7, 7, 0)
    assert hours.next_opening(bog(2026, 12, 7, 18, 0)) == bog(2026, 12, 9, 7, 0)
    assert hours.next_opening(bog(2026, 12, 9, 8, 0)) == bog(2026, 12, 9, 8, 0)
    # Friday 16:30 to Monday 07:30 (Sat 08-12 open): 30 + 240 + 30 minutes.
    assert hours.minutes_between(bog(2026, 12, 4, 16, 30), bog(2026, 12, 7, 7, 30)) == 300
    assert hours.minutes_between(bog(2026, 12, 7, 9, 0), bog(2026, 12, 7, 8, 0)) == 0


@pytest.mark.parametrize("raw", ["", "lun-vie", "lun-vie 7-17", "lun-vie 17:00-07:00",
                                 "lunx-vie 07:00-17:00", "lun-vie 25:00-26:00"])
def test_bad_business_hours(raw: str) -> None:
    with pytest.raises(InvalidSchedule):
        BusinessHours.parse(raw, BOGOTA)


def test_quiet_hours_across_midnight() -> None:
    quiet = QuietHours.parse("20:00-07:00", BOGOTA)
    assert quiet.is_quiet(bog(2026, 12, 1, 20, 0)) and quiet.is_quiet(bog(2026, 12, 2, 6, 59))
    assert not quiet.is_quiet(bog(2026, 12, 2, 7, 0))
    assert not quiet.is_quiet(bog(2026, 12, 1, 19, 59))
    assert quiet.next_allowed(bog(2026, 12, 1, 22, 0)) == bog(2026, 12, 2, 7, 0)
    assert quiet.next_allowed(bog(2026, 12, 2, 3, 0)) == bog(2026, 12, 2, 7, 0)
    assert quiet.next_allowed(bog(2026, 12, 2, 9, 0)) == bog(2026, 12, 2, 9, 0)
    # Given in UTC: 01:00 UTC is 20:00 in Bogotá.
    assert quiet.is_quiet(datetime(2026, 12, 2, 1, 0, tzinfo=UTC))
    off = QuietHours.parse("", BOGOTA)
    assert not off.enabled and not off.is_quiet(bog(2026, 12, 1, 23, 0))
    day = QuietHours.parse("12:00-14:00", BOGOTA)
    assert day.is_quiet(bog(2026, 12, 1, 13, 0)) and not day.is_quiet(bog(2026, 12, 1, 15, 0))
    with pytest.raises(InvalidSchedule):
        QuietHours.parse("20:00", BOGOTA)


def test_describe() -> None:
    today = date(2026, 12, 4)
    assert describe_moment(bog(2026, 12, 4, 7, 0), BOGOTA, today=today) == "hoy a las 07:00"
    assert describe_moment(bog(2026, 12, 5, 8, 0), BOGOTA, today=today) == "mañana a las 08:00"
    assert describe_moment(bog(2026, 12, 9, 7, 0), BOGOTA, today=today) == \
        "el miércoles 9 de diciembre a las 07:00"
