"""Tests for escalate.calendar, checked against GOV.UK bank holidays for 2020-2027."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from escalate import calendar
from escalate.calendar import (
    DEFAULT_NATION,
    NATIONS,
    add_working_days,
    deadline_at,
    is_working_day,
    to_local,
    working_days_between,
    working_days_left,
)

EW = "england-and-wales"
SCT = "scotland"
NIR = "northern-ireland"
LONDON = ZoneInfo("Europe/London")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Every Monday-to-Friday bank holiday on https://www.gov.uk/bank-holidays, typed in by hand
# (substitute days included; the weekend dates they replace are weekends anyway).
GOV_UK_WEEKDAY_BANK_HOLIDAYS = {
    EW: {
        2020: "01-01 04-10 04-13 05-08 05-25 08-31 12-25 12-28",
        2021: "01-01 04-02 04-05 05-03 05-31 08-30 12-27 12-28",
        2022: "01-03 04-15 04-18 05-02 06-02 06-03 08-29 09-19 12-26 12-27",
        2023: "01-02 04-07 04-10 05-01 05-08 05-29 08-28 12-25 12-26",
        2024: "01-01 03-29 04-01 05-06 05-27 08-26 12-25 12-26",
        2025: "01-01 04-18 04-21 05-05 05-26 08-25 12-25 12-26",
        2026: "01-01 04-03 04-06 05-04 05-25 08-31 12-25 12-28",
        2027: "01-01 03-26 03-29 05-03 05-31 08-30 12-27 12-28",
    },
    SCT: {
        2020: "01-01 01-02 04-10 05-08 05-25 08-03 11-30 12-25 12-28",
        2021: "01-01 01-04 04-02 05-03 05-31 08-02 11-30 12-27 12-28",
        2022: "01-03 01-04 04-15 05-02 06-02 06-03 08-01 09-19 11-30 12-26 12-27",
        2023: "01-02 01-03 04-07 05-01 05-08 05-29 08-07 11-30 12-25 12-26",
        2024: "01-01 01-02 03-29 05-06 05-27 08-05 12-02 12-25 12-26",
        2025: "01-01 01-02 04-18 05-05 05-26 08-04 12-01 12-25 12-26",
        # 15 June 2026: one-off World Cup bank holiday (Royal Proclamation, Scotland only).
        2026: "01-01 01-02 04-03 05-04 05-25 06-15 08-03 11-30 12-25 12-28",
        2027: "01-01 01-04 03-26 05-03 05-31 08-02 11-30 12-27 12-28",
    },
    NIR: {
        2020: "01-01 03-17 04-10 04-13 05-08 05-25 07-13 08-31 12-25 12-28",
        2021: "01-01 03-17 04-02 04-05 05-03 05-31 07-12 08-30 12-27 12-28",
        2022: "01-03 03-17 04-15 04-18 05-02 06-02 06-03 07-12 08-29 09-19 12-26 12-27",
        2023: "01-02 03-17 04-07 04-10 05-01 05-08 05-29 07-12 08-28 12-25 12-26",
        2024: "01-01 03-18 03-29 04-01 05-06 05-27 07-12 08-26 12-25 12-26",
        2025: "01-01 03-17 04-18 04-21 05-05 05-26 07-14 08-25 12-25 12-26",
        2026: "01-01 03-17 04-03 04-06 05-04 05-25 07-13 08-31 12-25 12-28",
        2027: "01-01 03-17 03-26 03-29 05-03 05-31 07-12 08-30 12-27 12-28",
    },
}


def _days_of(year: int):
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += timedelta(days=1)


@pytest.mark.parametrize("year", range(2020, 2028))
@pytest.mark.parametrize("nation", NATIONS)
def test_non_working_weekdays_are_exactly_the_gov_uk_bank_holidays(nation, year):
    expected = {
        date.fromisoformat(f"{year}-{md}")
        for md in GOV_UK_WEEKDAY_BANK_HOLIDAYS[nation][year].split()
    }
    actual = {d for d in _days_of(year) if d.weekday() < 5 and not is_working_day(d, nation)}
    assert actual == expected


@pytest.mark.parametrize("nation", NATIONS)
def test_weekends_are_never_working_days(nation):
    weekend_days = [d for d in _days_of(2025) if d.weekday() >= 5]
    assert len(weekend_days) == 104
    assert not any(is_working_day(d, nation) for d in weekend_days)


def test_wales_has_the_same_bank_holidays_as_england():
    # Justifies using the library's ENG subdivision for "england-and-wales".
    years = range(2020, 2028)
    assert dict(holidays.UK(subdiv="ENG", years=years)) == dict(
        holidays.UK(subdiv="WLS", years=years)
    )


@pytest.mark.parametrize(
    ("day", "nation", "expected"),
    [
        # Easter 2025: Good Friday everywhere; Easter Monday not a bank holiday in Scotland.
        (date(2025, 4, 18), EW, False),
        (date(2025, 4, 18), SCT, False),
        (date(2025, 4, 18), NIR, False),
        (date(2025, 4, 21), EW, False),
        (date(2025, 4, 21), NIR, False),
        (date(2025, 4, 21), SCT, True),
        # 2 January is a bank holiday only in Scotland.
        (date(2025, 1, 2), SCT, False),
        (date(2025, 1, 2), EW, True),
        (date(2025, 1, 2), NIR, True),
        # St Andrew's Day, Sunday 30 Nov 2025: substitute Monday 1 Dec, Scotland only.
        (date(2025, 12, 1), SCT, False),
        (date(2025, 12, 1), EW, True),
        # St Patrick's Day, NI only; Sunday 17 Mar 2024 moved to Monday 18 Mar.
        (date(2025, 3, 17), NIR, False),
        (date(2025, 3, 17), EW, True),
        (date(2024, 3, 18), NIR, False),
        (date(2024, 3, 18), EW, True),
        # Battle of the Boyne, NI only; Sunday 12 Jul 2026 moved to Monday 13 Jul.
        (date(2024, 7, 12), NIR, False),
        (date(2024, 7, 12), EW, True),
        (date(2026, 7, 13), NIR, False),
        (date(2026, 7, 13), SCT, True),
        # Summer bank holiday: first Monday of August in Scotland, last Monday elsewhere.
        (date(2025, 8, 4), SCT, False),
        (date(2025, 8, 4), EW, True),
        (date(2025, 8, 4), NIR, True),
        (date(2025, 8, 25), SCT, True),
        (date(2025, 8, 25), EW, False),
        (date(2025, 8, 25), NIR, False),
        # Christmas on a Saturday (2021) and Sunday (2022): substitutes on 27 and 28 December
        # (2021), 27 December (2022); New Year's Day 2022 (Saturday) moved to Monday 3 Jan.
        (date(2021, 12, 27), EW, False),
        (date(2021, 12, 28), EW, False),
        (date(2021, 12, 29), EW, True),
        (date(2022, 12, 26), EW, False),
        (date(2022, 12, 27), EW, False),
        (date(2022, 12, 28), EW, True),
        (date(2022, 1, 3), EW, False),
        (date(2022, 1, 4), EW, True),
        # Scotland's 2 Jan 2022 (Sunday) moved to Tuesday 4 Jan.
        (date(2022, 1, 4), SCT, False),
        # One-off days, all nations.
        (date(2022, 6, 3), EW, False),  # Platinum Jubilee
        (date(2022, 9, 19), NIR, False),  # State funeral of Queen Elizabeth II
        (date(2023, 5, 8), SCT, False),  # Coronation of King Charles III
        # Scotland-only World Cup bank holiday.
        (date(2026, 6, 15), SCT, False),
        (date(2026, 6, 15), EW, True),
        # An ordinary Wednesday.
        (date(2025, 6, 11), EW, True),
    ],
)
def test_is_working_day(day, nation, expected):
    assert is_working_day(day, nation) is expected


def test_default_nation_is_england_and_wales():
    assert DEFAULT_NATION == EW
    assert NATIONS == (EW, SCT, NIR)
    # Easter Monday 2025: a bank holiday in England and Wales, not in Scotland.
    assert is_working_day(date(2025, 4, 21)) is False


def test_closure_days_are_not_working_days():
    wednesday = date(2025, 6, 11)
    assert is_working_day(wednesday, closures=[wednesday]) is False
    assert is_working_day(wednesday, closures=[date(2025, 6, 12)]) is True


@pytest.mark.parametrize(
    ("start", "days", "nation", "expected"),
    [
        # Friday + 1 = Monday; Saturday and Sunday + 1 = Monday (9 June 2025, ordinary week).
        (date(2025, 6, 6), 1, EW, date(2025, 6, 9)),
        (date(2025, 6, 7), 1, EW, date(2025, 6, 9)),
        (date(2025, 6, 8), 1, EW, date(2025, 6, 9)),
        # Mon 2 Jun 2025 + 10: Tue 3 .. Fri 6 (4), Mon 9 .. Fri 13 (9), Mon 16 (10).
        (date(2025, 6, 2), 10, EW, date(2025, 6, 16)),
        # Thu 17 Apr 2025 + 5. E&W: Good Friday 18 and Easter Monday 21 off, so Tue 22 (1),
        # Wed 23, Thu 24, Fri 25 (4), Mon 28 (5). Scotland works Easter Monday: Mon 21 (1) ..
        # Fri 25 (5).
        (date(2025, 4, 17), 5, EW, date(2025, 4, 28)),
        (date(2025, 4, 17), 5, NIR, date(2025, 4, 28)),
        (date(2025, 4, 17), 5, SCT, date(2025, 4, 25)),
        # Fri 24 Dec 2021 + 1: Mon 27 and Tue 28 are substitutes, so Wed 29. + 4: Wed 29,
        # Thu 30, Fri 31, then Mon 3 Jan 2022 is a substitute, so Tue 4 Jan; in Scotland 4 Jan
        # is off too (2 Jan substitute), so Wed 5 Jan.
        (date(2021, 12, 24), 1, EW, date(2021, 12, 29)),
        (date(2021, 12, 24), 4, EW, date(2022, 1, 4)),
        (date(2021, 12, 24), 4, SCT, date(2022, 1, 5)),
        # Fri 23 Dec 2022 + 1: Mon 26 Boxing Day, Tue 27 substitute, so Wed 28. + 4: Wed 28,
        # Thu 29, Fri 30, then Mon 2 Jan 2023 substitute, so Tue 3; Scotland also has Tue 3
        # off, so Wed 4.
        (date(2022, 12, 23), 1, EW, date(2022, 12, 28)),
        (date(2022, 12, 23), 4, EW, date(2023, 1, 3)),
        (date(2022, 12, 23), 4, SCT, date(2023, 1, 4)),
        # Wed 1 Jun 2022 + 1: Thu 2 spring bank holiday, Fri 3 jubilee, so Mon 6.
        (date(2022, 6, 1), 1, NIR, date(2022, 6, 6)),
        # Fri 16 Sep 2022 + 1: Mon 19 state funeral, so Tue 20.
        (date(2022, 9, 16), 1, SCT, date(2022, 9, 20)),
        # Fri 28 Apr 2023 + 5: Mon 1 May off, Tue 2 .. Fri 5 (4), Mon 8 coronation, Tue 9 (5).
        (date(2023, 4, 28), 5, EW, date(2023, 5, 9)),
        # Summer bank holiday 2025: Scotland Mon 4 Aug, England and Wales Mon 25 Aug.
        (date(2025, 8, 1), 1, EW, date(2025, 8, 4)),
        (date(2025, 8, 1), 1, SCT, date(2025, 8, 5)),
        (date(2025, 8, 22), 1, EW, date(2025, 8, 26)),
        (date(2025, 8, 22), 1, SCT, date(2025, 8, 25)),
        # Fri 15 Mar 2024 + 1: NI has Mon 18 off (St Patrick's Day substitute).
        (date(2024, 3, 15), 1, NIR, date(2024, 3, 19)),
        (date(2024, 3, 15), 1, EW, date(2024, 3, 18)),
        # Fri 10 Jul 2026 + 1: NI has Mon 13 off (Battle of the Boyne substitute).
        (date(2026, 7, 10), 1, NIR, date(2026, 7, 14)),
        (date(2026, 7, 10), 1, EW, date(2026, 7, 13)),
        # Fri 28 Nov 2025 + 1: Scotland has Mon 1 Dec off (St Andrew's Day substitute).
        (date(2025, 11, 28), 1, SCT, date(2025, 12, 2)),
        (date(2025, 11, 28), 1, EW, date(2025, 12, 1)),
        # Fri 12 Jun 2026 + 1: Scotland has Mon 15 off (World Cup bank holiday).
        (date(2026, 6, 12), 1, SCT, date(2026, 6, 16)),
        (date(2026, 6, 12), 1, EW, date(2026, 6, 15)),
        # Mon 15 Dec 2025 + 20. E&W: Tue 16 .. Wed 24 (7), Thu 25 and Fri 26 off, Mon 29 ..
        # Wed 31 (10), Thu 1 Jan off, Fri 2 (11), Mon 5 .. Fri 9 (16), Mon 12 .. Thu 15 (20).
        # Scotland also has Fri 2 Jan off, so one day later.
        (date(2025, 12, 15), 20, EW, date(2026, 1, 15)),
        (date(2025, 12, 15), 20, SCT, date(2026, 1, 16)),
    ],
)
def test_add_working_days(start, days, nation, expected):
    assert add_working_days(start, days, nation) == expected


def test_add_working_days_skips_closures():
    friday, monday, tuesday = date(2025, 6, 6), date(2025, 6, 9), date(2025, 6, 10)
    assert add_working_days(friday, 1, closures=[monday]) == tuesday
    # A closure at a weekend changes nothing.
    assert add_working_days(friday, 1, closures=[date(2025, 6, 7)]) == monday


def test_closures_stack_with_bank_holidays_and_may_be_a_generator():
    # Partnership closed 29-31 Dec 2025. From Wed 24 Dec: Thu 25, Fri 26 bank holidays, weekend,
    # Mon 29 - Wed 31 closed, Thu 1 Jan bank holiday, so Fri 2 Jan; in Scotland 2 Jan is a bank
    # holiday too, so Mon 5 Jan.
    def closures():
        yield from (date(2025, 12, 29), date(2025, 12, 30), date(2025, 12, 31))

    assert add_working_days(date(2025, 12, 24), 1, EW, closures()) == date(2026, 1, 2)
    assert add_working_days(date(2025, 12, 24), 1, SCT, closures()) == date(2026, 1, 5)
    assert working_days_between(date(2025, 12, 24), date(2026, 1, 2), EW, closures()) == 1


@pytest.mark.parametrize("days", [0, -1, -10])
def test_add_working_days_refuses_non_positive_days(days):
    with pytest.raises(ValueError, match="int of at least 1"):
        add_working_days(date(2025, 6, 6), days)


@pytest.mark.parametrize("days", [True, False, 1.0, "1", None])
def test_add_working_days_refuses_non_int_days(days):
    with pytest.raises(ValueError, match="int of at least 1"):
        add_working_days(date(2025, 6, 6), days)


def test_datetime_is_refused_where_a_date_is_expected():
    with pytest.raises(TypeError, match="must be a date"):
        add_working_days(utc(2025, 6, 6, 9), 1)
    with pytest.raises(TypeError, match="must be a date"):
        is_working_day(utc(2025, 6, 6, 9))


@pytest.mark.parametrize(
    ("start", "end", "nation", "expected"),
    [
        (date(2025, 6, 6), date(2025, 6, 6), EW, 0),
        (date(2025, 6, 7), date(2025, 6, 7), EW, 0),
        # Fri -> Sat: nothing; Fri -> Mon: Monday only; Sat -> Mon: Monday only.
        (date(2025, 6, 6), date(2025, 6, 7), EW, 0),
        (date(2025, 6, 6), date(2025, 6, 9), EW, 1),
        (date(2025, 6, 7), date(2025, 6, 9), EW, 1),
        # Thu 17 -> Mon 28 Apr 2025: Tue 22 .. Fri 25 and Mon 28 in E&W; Scotland adds Mon 21.
        (date(2025, 4, 17), date(2025, 4, 28), EW, 5),
        (date(2025, 4, 17), date(2025, 4, 28), SCT, 6),
        (date(2025, 4, 28), date(2025, 4, 17), EW, -5),
        (date(2025, 4, 28), date(2025, 4, 17), SCT, -6),
        # All of 2025: 261 weekdays less 8 weekday bank holidays (E&W) / 9 (Scotland).
        (date(2024, 12, 31), date(2025, 12, 31), EW, 253),
        (date(2024, 12, 31), date(2025, 12, 31), SCT, 252),
    ],
)
def test_working_days_between(start, end, nation, expected):
    assert working_days_between(start, end, nation) == expected


@pytest.mark.parametrize("nation", NATIONS)
@pytest.mark.parametrize("days", [1, 2, 3, 5, 10, 20, 28])
def test_working_days_between_inverts_add_working_days(nation, days):
    closures = [date(2024, 2, 14), date(2025, 12, 29), date(2026, 6, 16)]
    start = date(2020, 1, 1)
    while start < date(2027, 12, 1):
        result = add_working_days(start, days, nation, closures)
        assert is_working_day(result, nation, closures)
        assert working_days_between(start, result, nation, closures) == days
        # The deadline is the first day on which the count is reached.
        assert working_days_between(start, result - timedelta(days=1), nation, closures) == (
            days - 1
        )
        assert working_days_between(result, start, nation, closures) == -days
        start += timedelta(days=5)


@pytest.mark.parametrize(
    ("opened", "days", "nation", "expected"),
    [
        # Summer (BST, UTC+1): opened Tue 1 Jul 2025; + 5 is Tue 8 Jul; 17:00 BST = 16:00 UTC.
        (utc(2025, 7, 1, 9), 5, EW, utc(2025, 7, 8, 16)),
        # Winter (GMT): opened Tue 14 Jan 2025; + 5 is Tue 21 Jan; 17:00 GMT = 17:00 UTC.
        (utc(2025, 1, 14, 10), 5, EW, utc(2025, 1, 21, 17)),
        # 23:30 UTC Sunday 8 Jun 2025 is 00:30 BST Monday 9 Jun, so counting starts from
        # Monday: + 1 is Tuesday 10 Jun.
        (utc(2025, 6, 8, 23, 30), 1, EW, utc(2025, 6, 10, 16)),
        # In winter 23:30 UTC Sunday 5 Jan 2025 is still Sunday locally: + 1 is Monday 6 Jan.
        (utc(2025, 1, 5, 23, 30), 1, EW, utc(2025, 1, 6, 17)),
        # Easter 2025 (see test_add_working_days): E&W Mon 28 Apr, Scotland Fri 25 Apr.
        (utc(2025, 4, 17, 9), 5, EW, utc(2025, 4, 28, 16)),
        (utc(2025, 4, 17, 9), 5, SCT, utc(2025, 4, 25, 16)),
        # Opened Fri 24 Oct 2025 in BST; clocks go back Sun 26 Oct; + 5 is Fri 31 Oct in GMT.
        (utc(2025, 10, 24, 9), 5, EW, utc(2025, 10, 31, 17)),
        # Opened Fri 27 Mar 2026 in GMT; clocks go forward Sun 29 Mar. Mon 30 (1) .. Thu 2 Apr
        # (4); Good Friday 3 Apr; E&W also has Easter Monday 6 Apr off, so Tue 7 Apr (5);
        # Scotland works Mon 6 Apr (5). Both in BST.
        (utc(2026, 3, 27, 10), 5, EW, utc(2026, 4, 7, 16)),
        (utc(2026, 3, 27, 10), 5, SCT, utc(2026, 4, 6, 16)),
    ],
)
def test_deadline_at(opened, days, nation, expected):
    result = deadline_at(opened, days, nation)
    assert result == expected
    assert result.tzinfo is UTC


def test_deadline_at_accepts_any_aware_datetime():
    opened_local = datetime(2025, 6, 9, 0, 30, tzinfo=LONDON)
    assert deadline_at(opened_local, 1) == utc(2025, 6, 10, 16)


def test_deadline_at_custom_end_of_day_and_closures():
    # Tue 1 Jul 2025 + 5 with Tue 8 Jul closed: Wed 9 Jul, 12:00 BST = 11:00 UTC.
    result = deadline_at(utc(2025, 7, 1, 9), 5, closures=[date(2025, 7, 8)], end_of_day=time(12, 0))
    assert result == utc(2025, 7, 9, 11)


def test_deadline_at_refuses_naive_datetime():
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline_at(datetime(2025, 7, 1, 9), 5)


def test_deadline_at_refuses_bad_days():
    with pytest.raises(ValueError, match="at least 1"):
        deadline_at(utc(2025, 7, 1, 9), 0)


def test_deadline_at_refuses_unknown_time_zone():
    with pytest.raises(ValueError, match="Unknown time zone"):
        deadline_at(utc(2025, 7, 1, 9), 5, tz="Europe/Nowhere")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Deadline Mon 28 Apr 2025 17:00 BST (16:00 UTC), England and Wales.
        (utc(2025, 4, 17, 9), 5),  # Thu 17: Tue 22 .. Fri 25, Mon 28
        (utc(2025, 4, 22, 8), 4),  # Tue 22: Wed 23, Thu 24, Fri 25, Mon 28
        (utc(2025, 4, 26, 12), 1),  # Saturday: Mon 28 only
        (utc(2025, 4, 27, 23, 30), 0),  # 00:30 BST Monday 28: the deadline day
        (utc(2025, 4, 28, 8), 0),
        (utc(2025, 4, 28, 20), 0),  # deadline day, after 17:00
        (utc(2025, 4, 29, 8), -1),  # Tue 29
        (utc(2025, 5, 3, 8), -4),  # Saturday: Tue 29, Wed 30, Thu 1, Fri 2
        (utc(2025, 5, 5, 8), -4),  # Mon 5 May is a bank holiday
        (utc(2025, 5, 6, 8), -5),  # Tue 6 May
    ],
)
def test_working_days_left(now, expected):
    assert working_days_left(utc(2025, 4, 28, 16), now) == expected


def test_working_days_left_uses_nation_and_closures():
    deadline = utc(2025, 4, 25, 16)  # Fri 25 Apr 2025
    now = utc(2025, 4, 17, 9)  # Thu 17 Apr 2025
    assert working_days_left(deadline, now, SCT) == 5  # Mon 21 .. Fri 25
    assert working_days_left(deadline, now, EW) == 4  # Tue 22 .. Fri 25
    assert working_days_left(deadline, now, EW, closures=[date(2025, 4, 23)]) == 3


def test_working_days_left_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        working_days_left(utc(2025, 4, 28, 16), datetime(2025, 4, 22, 8))
    with pytest.raises(ValueError, match="timezone-aware"):
        working_days_left(datetime(2025, 4, 28, 16), utc(2025, 4, 22, 8))


@pytest.mark.parametrize(
    ("dt", "wall_clock", "offset_hours"),
    [
        (utc(2025, 7, 1, 12), datetime(2025, 7, 1, 13), 1),
        (utc(2025, 1, 14, 12), datetime(2025, 1, 14, 12), 0),
    ],
)
def test_to_local(dt, wall_clock, offset_hours):
    local = to_local(dt)
    assert local.replace(tzinfo=None) == wall_clock
    assert local.utcoffset() == timedelta(hours=offset_hours)
    assert local == dt


def test_to_local_refuses_naive_datetime():
    with pytest.raises(ValueError, match="timezone-aware"):
        to_local(datetime(2025, 7, 1, 12))


@pytest.mark.parametrize(
    "call",
    [
        lambda nation: is_working_day(date(2025, 6, 11), nation),
        lambda nation: add_working_days(date(2025, 6, 11), 1, nation),
        lambda nation: working_days_between(date(2025, 6, 11), date(2025, 6, 11), nation),
        lambda nation: deadline_at(utc(2025, 6, 11, 9), 1, nation),
        lambda nation: working_days_left(utc(2025, 6, 12, 16), utc(2025, 6, 11, 9), nation),
    ],
)
@pytest.mark.parametrize("nation", ["wales", "England", "ENG", "", "scotland "])
def test_unknown_nation_is_refused(call, nation):
    with pytest.raises(ValueError, match="Unknown nation") as excinfo:
        call(nation)
    for allowed in NATIONS:
        assert allowed in str(excinfo.value)


def test_bank_holidays_are_cached_per_nation():
    assert calendar._bank_holidays(SCT) is calendar._bank_holidays(SCT)
    assert calendar._bank_holidays(SCT) is not calendar._bank_holidays(NIR)


def test_a_deadline_counted_from_a_deadline_moves_it_by_working_days():
    # Friday 18 Dec 2026 17:00 GMT + 3 working days: Mon 21, Tue 22, Wed 23 December.
    deadline = datetime(2026, 12, 18, 17, 0, tzinfo=UTC)
    assert calendar.deadline_at(deadline, 3) == datetime(2026, 12, 23, 17, 0, tzinfo=UTC)
    # + 5 skips Christmas Day and Boxing Day's substitute (Mon 28 Dec 2026): Tue 29 December.
    assert calendar.deadline_at(deadline, 5) == datetime(2026, 12, 29, 17, 0, tzinfo=UTC)
