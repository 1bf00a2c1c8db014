"""Working-day and working-hour arithmetic for escalation-stage deadlines.

A working day is Monday to Friday, excluding the GOV.UK bank holidays of the chosen nation and
any extra local closure days. Everything here is pure: callers pass in every date and instant,
nothing reads the clock.

Bank holidays come from the ``holidays`` library (default "public" category). For 2020-2027 it
matches GOV.UK for all three nations, including substitute days, the 2022 jubilee and state
funeral, the 2023 coronation and Scotland's 15 June 2026 World Cup bank holiday. It also keeps
the actual date of a holiday that falls at a weekend (e.g. Boxing Day, Saturday 26 Dec 2020),
which GOV.UK omits; that cannot affect working days, as weekends are never working days.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

NATIONS = ("england-and-wales", "scotland", "northern-ireland")
DEFAULT_NATION = "england-and-wales"
DEFAULT_TZ = "Europe/London"
START_OF_WORKING_DAY = time(9, 0)
END_OF_WORKING_DAY = time(17, 0)

# England and Wales share bank holidays, so ENG stands for both.
_SUBDIVISIONS = {
    "england-and-wales": "ENG",
    "scotland": "SCT",
    "northern-ireland": "NIR",
}

# The library fills in a year on first lookup, marking the year as loaded before adding its
# holidays, so a concurrent lookup (threaded server) could briefly miss a holiday.
_HOLIDAYS_LOCK = threading.Lock()


def _check_nation(nation: str) -> str:
    if nation not in _SUBDIVISIONS:
        raise ValueError(f"Unknown nation {nation!r}; expected one of: {', '.join(NATIONS)}")
    return nation


@cache
def _bank_holidays(nation: str) -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv=_SUBDIVISIONS[_check_nation(nation)])


def _check_date(value: date, name: str) -> date:
    # A datetime is a date subclass but never equals a date, so it would silently miss closures.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a date, not {type(value).__name__}")
    return value


def _check_aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value!r}")
    return value


def _check_days(days: int) -> int:
    # bool is an int subclass; True must not silently mean one day.
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be an int of at least 1, got {days!r}")
    return days


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Unknown time zone {tz!r}") from exc


def _is_working_day(day: date, nation: str, closures: frozenset[date]) -> bool:
    return day.weekday() < 5 and day not in closures and not _is_bank_holiday(day, nation)


# Pages count working days to every deadline they show, a few days each: each day's answer is
# looked up once (a bank holiday is the same whoever asks), not in the library under its lock.
@lru_cache(maxsize=8192)
def _is_bank_holiday(day: date, nation: str) -> bool:
    with _HOLIDAYS_LOCK:
        return day in _bank_holidays(nation)


def is_working_day(day: date, nation: str = DEFAULT_NATION, closures: Iterable[date] = ()) -> bool:
    """Return whether ``day`` is a weekday that is neither a bank holiday nor a closure day."""
    _check_date(day, "day")
    return _is_working_day(day, _check_nation(nation), frozenset(closures))


def add_working_days(
    start: date, days: int, nation: str = DEFAULT_NATION, closures: Iterable[date] = ()
) -> date:
    """Return the ``days``-th working day after ``start`` (``start`` itself never counts).

    ``days`` must be an int of at least 1. A Friday or Saturday plus one is the next Monday,
    when that Monday is a working day.
    """
    return _step_working_days(start, days, nation, closures, step=1)


def working_day_before(
    day: date, days: int, nation: str = DEFAULT_NATION, closures: Iterable[date] = ()
) -> date:
    """The ``days``-th working day before ``day`` (``day`` itself never counts)."""
    return _step_working_days(day, days, nation, closures, step=-1)


def _step_working_days(start: date, days: int, nation: str, closures, *, step: int) -> date:
    _check_date(start, "start")
    _check_days(days)
    _check_nation(nation)
    closed = frozenset(closures)
    day = start
    remaining = days
    while remaining:
        day += timedelta(days=step)
        if _is_working_day(day, nation, closed):
            remaining -= 1
    return day


def working_days_between(
    start: date, end: date, nation: str = DEFAULT_NATION, closures: Iterable[date] = ()
) -> int:
    """Count working days ``d`` with ``start < d <= end``; negative if ``end`` is before ``start``.

    The inverse of :func:`add_working_days`: ``working_days_between(s, add_working_days(s, n))``
    is ``n``.
    """
    _check_date(start, "start")
    _check_date(end, "end")
    _check_nation(nation)
    closed = frozenset(closures)
    sign = 1
    if end < start:
        start, end, sign = end, start, -1
    count = 0
    day = start + timedelta(days=1)
    while day <= end:
        if _is_working_day(day, nation, closed):
            count += 1
        day += timedelta(days=1)
    return sign * count


def to_local(dt: datetime, tz: str = DEFAULT_TZ) -> datetime:
    """Convert an aware datetime to local time in ``tz`` for display."""
    return _check_aware(dt, "dt").astimezone(_zone(tz))


def deadline_at(
    opened: datetime,
    days: int,
    nation: str = DEFAULT_NATION,
    closures: Iterable[date] = (),
    end_of_day: time = END_OF_WORKING_DAY,
    tz: str = DEFAULT_TZ,
) -> datetime:
    """Return the UTC instant a stage opened at ``opened`` falls due.

    Counting starts from the local (``tz``) date of ``opened``; the deadline is ``end_of_day``
    local wall-clock time on the ``days``-th working day after it. ``opened`` must be aware.
    Extending a deadline is the same sum, counted from the deadline being moved.
    """
    _check_aware(opened, "opened")
    if end_of_day.tzinfo is not None:
        raise ValueError("end_of_day must be a naive local time; the zone comes from tz")
    zone = _zone(tz)
    due = add_working_days(opened.astimezone(zone).date(), days, nation, closures)
    return datetime.combine(due, end_of_day, tzinfo=zone).astimezone(UTC)


def working_days_left(
    deadline: datetime,
    now: datetime,
    nation: str = DEFAULT_NATION,
    closures: Iterable[date] = (),
    tz: str = DEFAULT_TZ,
) -> int:
    """Return the working days from ``now``'s local date to ``deadline``'s local date.

    This is ``working_days_between`` of the two local dates: positive before the deadline day,
    0 on the deadline day itself (even after its end-of-day time), negative once a working day
    after the deadline day has started. A weekend or holiday straight after the deadline day
    still gives 0, so decide "overdue" by comparing instants (``now > deadline``), not by this.
    Both datetimes must be aware.
    """
    _check_aware(deadline, "deadline")
    _check_aware(now, "now")
    zone = _zone(tz)
    return working_days_between(
        now.astimezone(zone).date(), deadline.astimezone(zone).date(), nation, closures
    )


# --- Working hours (urgent differences) ------------------------------------------------------

# A bound on the search for working time: a year with no working day is a misconfiguration.
_MAX_DAYS_SEARCHED = 3660


def _check_minutes(minutes: int) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 0:
        raise ValueError(f"minutes must be an int of at least 0, got {minutes!r}")
    return minutes


def _check_working_day_times(day_start: time, day_end: time) -> None:
    if day_start.tzinfo is not None or day_end.tzinfo is not None:
        raise ValueError("the working day's start and end are naive local times")
    if not day_start < day_end:
        raise ValueError("the working day must start before it ends")


def _opening_hours(day: date, day_start: time, day_end: time, zone: ZoneInfo):
    """The working day's start and end on ``day`` as UTC instants (each wall-clock time is
    placed in its own offset, so a day either side of a clock change is counted correctly)."""
    opens = datetime.combine(day, day_start, tzinfo=zone).astimezone(UTC)
    closes = datetime.combine(day, day_end, tzinfo=zone).astimezone(UTC)
    return opens, closes


def add_working_minutes(
    start: datetime,
    minutes: int,
    nation: str = DEFAULT_NATION,
    closures: Iterable[date] = (),
    day_start: time = START_OF_WORKING_DAY,
    day_end: time = END_OF_WORKING_DAY,
    tz: str = DEFAULT_TZ,
) -> datetime:
    """Return the UTC instant ``minutes`` of working time after ``start``.

    Working time runs from ``day_start`` to ``day_end`` (local wall-clock times in ``tz``) on
    working days. Time before the day starts, after it ends, at weekends, on bank holidays and
    on closure days does not count: 4 working hours from 3pm on a Friday end at 11am on the
    next working day. An amount that ends exactly at ``day_end`` ends then (not the next
    morning). ``start`` must be aware; with 0 minutes the answer is ``start`` moved forward to
    the next working time, if it is outside working time.
    """
    _check_aware(start, "start")
    _check_minutes(minutes)
    _check_nation(nation)
    _check_working_day_times(day_start, day_end)
    zone = _zone(tz)
    closed = frozenset(closures)
    cursor = start.astimezone(UTC)
    remaining = timedelta(minutes=minutes)
    day = start.astimezone(zone).date()
    for _ in range(_MAX_DAYS_SEARCHED):
        if _is_working_day(day, nation, closed):
            opens, closes = _opening_hours(day, day_start, day_end, zone)
            begin = max(cursor, opens)
            if begin < closes or (begin == closes and not remaining):
                available = closes - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        day += timedelta(days=1)
    raise ValueError("no working time found within ten years: check the closure days")


def add_working_hours(
    start: datetime,
    hours: int,
    nation: str = DEFAULT_NATION,
    closures: Iterable[date] = (),
    day_start: time = START_OF_WORKING_DAY,
    day_end: time = END_OF_WORKING_DAY,
    tz: str = DEFAULT_TZ,
) -> datetime:
    """Return the UTC instant ``hours`` working hours after ``start`` (see
    :func:`add_working_minutes`). ``hours`` must be an int of at least 1."""
    _check_days(hours)  # the same rule: a positive int, never a bool
    return add_working_minutes(start, hours * 60, nation, closures, day_start, day_end, tz)


def working_minutes_between(
    start: datetime,
    end: datetime,
    nation: str = DEFAULT_NATION,
    closures: Iterable[date] = (),
    day_start: time = START_OF_WORKING_DAY,
    day_end: time = END_OF_WORKING_DAY,
    tz: str = DEFAULT_TZ,
) -> int:
    """Whole minutes of working time from ``start`` to ``end``; 0 when ``end`` is not after
    ``start``. The inverse of :func:`add_working_minutes` for a ``start`` in working time."""
    _check_aware(start, "start")
    _check_aware(end, "end")
    _check_nation(nation)
    _check_working_day_times(day_start, day_end)
    if end <= start:
        return 0
    zone = _zone(tz)
    closed = frozenset(closures)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = timedelta(0)
    day, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    while day <= last:
        if _is_working_day(day, nation, closed):
            opens, closes = _opening_hours(day, day_start, day_end, zone)
            begin, finish = max(start, opens), min(end, closes)
            if begin < finish:
                total += finish - begin
        day += timedelta(days=1)
    return int(total.total_seconds() // 60)


# --- Reporting periods ----------------------------------------------------------------------



@dataclass(frozen=True)
class Period:
    """Whole days, first and last included, in the partnership's local time."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return local_midnight(self.first)

    @property
    def end(self) -> datetime:
        """The instant just after the period: midnight at the start of the day after ``last``."""
        return local_midnight(self.last + timedelta(days=1))

    @property
    def label(self) -> str:
        from escalate.wording import long_date  # wording formats dates with this module

        return f"{long_date(self.first)} to {long_date(self.last)}"


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(DEFAULT_TZ)).astimezone(UTC)


def quarter_of(day: date) -> Period:
    """The calendar quarter (January–March, April–June…) containing ``day``."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    first = date(day.year, first_month, 1)
    after = date(day.year + 1, 1, 1) if first_month == 10 else date(day.year, first_month + 3, 1)
    return Period(first, after - timedelta(days=1))


def quarter_label(period: Period) -> str:
    return f"{period.first.strftime('%b')} to {period.last.strftime('%b %Y')}"


def quarters_up_to(day: date, count: int) -> list[Period]:
    """The ``count`` quarters ending with the one containing ``day``, oldest first."""
    quarters = [quarter_of(day)]
    while len(quarters) < count:
        quarters.insert(0, quarter_of(quarters[0].first - timedelta(days=1)))
    return quarters
