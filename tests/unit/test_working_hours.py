"""Working-hour arithmetic (urgent differences): the day's end, weekends, bank holidays, closure
days and the clocks changing, all in Europe/London wall-clock time."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from escalate.calendar import (
    add_working_hours,
    add_working_minutes,
    working_minutes_between,
)

LONDON = ZoneInfo("Europe/London")


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def at(result: datetime) -> datetime:
    """A UTC answer read as London wall-clock time, for comparing with ``london(...)``."""
    assert result.tzinfo == UTC
    return result.astimezone(LONDON).replace(tzinfo=LONDON)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # Within one working day.
        (london(2026, 11, 30, 9, 0), 4, london(2026, 11, 30, 13, 0)),
        (london(2026, 11, 30, 11, 30), 4, london(2026, 11, 30, 15, 30)),
        # Ending exactly at the end of the day ends then, not the next morning.
        (london(2026, 11, 30, 13, 0), 4, london(2026, 11, 30, 17, 0)),
        # Across the day's end: two hours today, two tomorrow.
        (london(2026, 11, 30, 15, 0), 4, london(2026, 12, 1, 11, 0)),
        # Before the day starts: the clock starts at 9am.
        (london(2026, 11, 30, 6, 45), 4, london(2026, 11, 30, 13, 0)),
        # After the day ends: the clock starts the next working morning.
        (london(2026, 11, 30, 20, 0), 4, london(2026, 12, 1, 13, 0)),
        # Across a weekend: Friday 3pm plus 4 hours is Monday 11am.
        (london(2026, 11, 27, 15, 0), 4, london(2026, 11, 30, 11, 0)),
        # Raised on a Saturday: Monday's working day.
        (london(2026, 11, 28, 12, 0), 4, london(2026, 11, 30, 13, 0)),
        # One working day (8 hours) and two (16 hours).
        (london(2026, 11, 30, 10, 0), 8, london(2026, 12, 1, 10, 0)),
        (london(2026, 11, 30, 10, 0), 16, london(2026, 12, 2, 10, 0)),
        # Across Christmas: Thursday 24 Dec 2026 3pm; 25th, weekend and the 28th (Boxing Day's
        # substitute) are not working days.
        (london(2026, 12, 24, 15, 0), 4, london(2026, 12, 29, 11, 0)),
        # Across Easter 2026: Thursday 2 April 4pm; Good Friday and Easter Monday skipped.
        (london(2026, 4, 2, 16, 0), 4, london(2026, 4, 7, 12, 0)),
    ],
)
def test_working_hours_skip_the_night_weekends_and_bank_holidays(start, hours, expected):
    assert at(add_working_hours(start, hours)) == expected


def test_the_clocks_going_forward_do_not_change_the_working_hours():
    # BST starts at 1am on Sunday 29 March 2026: Friday 3pm GMT plus 4 hours is Monday 11am BST,
    # which is 10:00 UTC (not 11:00 UTC, as a fixed offset would give).
    result = add_working_hours(london(2026, 3, 27, 15, 0), 4)
    assert result == datetime(2026, 3, 30, 10, 0, tzinfo=UTC)
    assert at(result) == london(2026, 3, 30, 11, 0)


def test_the_clocks_going_back_do_not_change_the_working_hours():
    # BST ends at 2am on Sunday 25 October 2026: Friday 4pm BST plus 8 hours (one on Friday,
    # seven on Monday) is Monday 4pm GMT, 16:00 UTC (a fixed BST offset would give 15:00 UTC).
    result = add_working_hours(london(2026, 10, 23, 16, 0), 8)
    assert result == datetime(2026, 10, 26, 16, 0, tzinfo=UTC)
    assert working_minutes_between(london(2026, 10, 23, 16, 0), result) == 8 * 60


def test_a_closure_day_and_a_scottish_holiday_are_not_working_time():
    closures = [date(2026, 12, 1)]
    result = add_working_hours(london(2026, 11, 30, 15, 0), 4, closures=closures)
    assert at(result) == london(2026, 12, 2, 11, 0)
    # St Andrew's Day is a bank holiday in Scotland only (Monday 30 November 2026).
    scottish = add_working_hours(london(2026, 11, 27, 15, 0), 4, "scotland")
    assert at(scottish) == london(2026, 12, 1, 11, 0)


def test_the_working_day_can_be_configured():
    result = add_working_hours(
        london(2026, 11, 30, 15, 0), 4, day_start=time(8, 30), day_end=time(16, 30)
    )
    assert at(result) == london(2026, 12, 1, 11, 0)


def test_minutes_and_the_inverse():
    start = london(2026, 11, 27, 16, 15)
    end = add_working_minutes(start, 135)
    assert at(end) == london(2026, 11, 30, 10, 30)
    assert working_minutes_between(start, end) == 135
    assert working_minutes_between(end, start) == 0
    # Half of an urgent stage's time: 4 hours from 3pm Friday, the halfway point is 5pm Friday.
    deadline = add_working_hours(london(2026, 11, 27, 15, 0), 4)
    half = working_minutes_between(london(2026, 11, 27, 15, 0), deadline) // 2
    assert at(add_working_minutes(london(2026, 11, 27, 15, 0), half)) == london(2026, 11, 27, 17)
    # Zero minutes outside working time moves to the next working time.
    assert at(add_working_minutes(london(2026, 11, 28, 10, 0), 0)) == london(2026, 11, 30, 9, 0)


def test_working_minutes_between_counts_only_working_time():
    assert working_minutes_between(london(2026, 11, 27, 12, 0), london(2026, 11, 30, 12, 0)) == (
        8 * 60
    )
    assert working_minutes_between(london(2026, 11, 28, 0, 0), london(2026, 11, 29, 23, 0)) == 0


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((datetime(2026, 11, 30, 9), 4), ValueError),  # naive
        ((london(2026, 11, 30, 9), 0), ValueError),
        ((london(2026, 11, 30, 9), True), ValueError),
        ((london(2026, 11, 30, 9), 1.5), ValueError),
        ((london(2026, 11, 30, 9), 4, "wales"), ValueError),
    ],
)
def test_bad_arguments_are_refused(args, error):
    with pytest.raises(error):
        add_working_hours(*args)


def test_a_working_day_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError):
        add_working_hours(london(2026, 11, 30, 9), 4, day_start=time(17), day_end=time(9))
