"""Dates and times as pages and emails say them: the same words as the C library's strftime
gives (the English names and its 12-hour clock), for every minute of a day and every day of
four years, on either side of the clocks changing."""

from datetime import UTC, date, datetime, timedelta

from escalate import wording
from escalate.calendar import to_local


def _strftime_clock(local: datetime) -> str:
    return local.strftime("%I:%M%p").lstrip("0").lower()


def test_every_minute_of_a_day_reads_as_the_twelve_hour_clock():
    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # the clocks go forward at 1am UTC
    for minute in range(24 * 60):
        instant = start + timedelta(minutes=minute)
        local = to_local(instant)
        day = f"{local.strftime('%A')} {local.day} {local.strftime('%B %Y')}"
        assert wording.time_and_date(instant) == f"{_strftime_clock(local)} on {day}"
        assert wording.when(instant) == (
            f"{_strftime_clock(local).replace(':00', '')} on {day}"
        )


def test_the_clock_reads_as_people_say_it_at_the_turn_of_each_half_day():
    def clock(hour, minute=0):
        return wording.time_and_date(datetime(2026, 1, 5, hour, minute, tzinfo=UTC)).split()[0]

    assert [clock(0, 5), clock(9, 30), clock(11, 59), clock(12), clock(13), clock(23, 59)] == [
        "12:05am", "9:30am", "11:59am", "12:00pm", "1:00pm", "11:59pm",
    ]  # fmt: skip
    assert wording.when(datetime(2026, 1, 5, 17, 0, tzinfo=UTC)) == "5pm on Monday 5 January 2026"


def test_every_day_of_four_years_is_named_as_strftime_names_it():
    day = date(2025, 1, 1)
    while day.year < 2029:
        long = f"{day.day} {day.strftime('%B %Y')}"
        assert wording.long_date(day) == long
        assert wording.day_and_date(day) == f"{day.strftime('%A')} {long}"
        day += timedelta(days=1)
    assert wording.long_date(None) == wording.day_and_date(None) == ""
    assert wording.time_and_date(None) == wording.when(None) == ""
