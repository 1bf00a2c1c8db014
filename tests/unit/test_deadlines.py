"""The sweep's pure rules: when reminders fall, and what is due at an instant."""

from datetime import UTC, date, datetime, timedelta

import pytest

from escalate.calendar import working_day_before
from escalate.deadlines import (
    Duty,
    StageClock,
    duties,
    raiser_reminder_at,
    reminder_at,
)
from escalate.models import State

EW = "england-and-wales"
SCT = "scotland"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- Working days before a date ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "days", "expected"),
    [
        (date(2025, 4, 17), 1, date(2025, 4, 16)),  # Thursday -> Wednesday
        (date(2025, 4, 22), 1, date(2025, 4, 17)),  # after Easter: back over Mon 21 and Fri 18
        (date(2025, 4, 22), 2, date(2025, 4, 16)),
        (date(2025, 4, 14), 1, date(2025, 4, 11)),  # Monday -> the Friday before
        (date(2025, 12, 29), 1, date(2025, 12, 24)),  # back over Boxing Day and Christmas Day
    ],
)
def test_working_day_before_skips_weekends_and_bank_holidays(day, days, expected):
    assert working_day_before(day, days, EW) == expected


def test_working_day_before_skips_closure_days_and_follows_the_nation():
    assert working_day_before(date(2025, 4, 17), 1, EW, {date(2025, 4, 16)}) == date(2025, 4, 15)
    # Easter Monday is not a bank holiday in Scotland: the day before Tuesday 22 is Monday 21.
    assert working_day_before(date(2025, 4, 22), 1, SCT) == date(2025, 4, 21)


@pytest.mark.parametrize("days", [0, -1, True, 1.0])
def test_working_day_before_refuses_a_count_that_is_not_a_positive_int(days):
    with pytest.raises(ValueError):
        working_day_before(date(2025, 4, 17), days, EW)


# --- When the responder is reminded ------------------------------------------------------------

OPENED = utc(2025, 4, 10, 9, 0)  # Thursday 10 April 2025, 10am BST


@pytest.mark.parametrize(
    ("deadline", "days_before", "expected"),
    [
        # 5pm BST on Thursday 17 April 2025: 5pm on the Wednesday.
        (utc(2025, 4, 17, 16), 1, utc(2025, 4, 16, 16)),
        # 5pm on Tuesday 22 April 2025, after Easter: 5pm on Thursday 17 April.
        (utc(2025, 4, 22, 16), 1, utc(2025, 4, 17, 16)),
        (utc(2025, 4, 22, 16), 3, utc(2025, 4, 15, 16)),
    ],
)
def test_the_reminder_is_due_at_the_same_time_n_working_days_before_the_deadline(
    deadline, days_before, expected
):
    assert reminder_at(deadline, days_before, since=OPENED, nation=EW) == expected


def test_the_reminder_keeps_the_local_time_across_the_clock_change():
    # Clocks went forward on Sunday 30 March 2025: 5pm BST Monday -> 5pm GMT the Friday before.
    deadline = utc(2025, 3, 31, 16)
    assert reminder_at(deadline, 1, since=utc(2025, 3, 20, 9), nation=EW) == utc(2025, 3, 28, 17)


def test_no_reminder_when_the_policy_says_none_or_it_would_fall_before_the_stage_opened():
    assert reminder_at(utc(2025, 4, 17, 16), 0, since=OPENED, nation=EW) is None
    # Opened at 5:30pm on Wednesday 16 with an urgent deadline of 5pm Thursday 17.
    assert reminder_at(utc(2025, 4, 17, 16), 1, since=utc(2025, 4, 16, 16, 30), nation=EW) is None
    # Exactly when it opened is no better: the opening message gave the deadline.
    assert reminder_at(utc(2025, 4, 17, 16), 1, since=utc(2025, 4, 16, 16), nation=EW) is None


def test_the_reminder_counts_closure_days_too():
    closures = {date(2025, 4, 16)}
    expected = utc(2025, 4, 15, 16)
    assert reminder_at(utc(2025, 4, 17, 16), 1, since=OPENED, closures=closures) == expected


def test_the_raising_side_is_reminded_at_the_end_of_their_reply_window():
    # A response at 10am on Thursday 17 April 2025; five working days skip Good Friday and Easter
    # Monday: Tue 22, Wed 23, Thu 24, Fri 25, Mon 28 April, at 5pm BST.
    assert raiser_reminder_at(utc(2025, 4, 17, 9), 5, nation=EW) == utc(2025, 4, 28, 16)
    assert raiser_reminder_at(utc(2025, 4, 17, 9), 1, nation=EW) == utc(2025, 4, 22, 16)


# --- What is due -------------------------------------------------------------------------------

DEADLINE = utc(2025, 4, 17, 16)
REMIND = utc(2025, 4, 16, 16)


def waiting(**fields) -> StageClock:
    values = {
        "state": State.AWAITING_RESPONSE,
        "is_open_stage": True,
        "is_final": False,
        "deadline": DEADLINE,
        "remind_at": REMIND,
        "auto_escalate": True,
    }
    values.update(fields)
    return StageClock(**values)


SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("stage", "now", "expected"),
    [
        (waiting(), REMIND - SECOND, []),
        (waiting(), REMIND, [Duty.REMINDER]),
        (waiting(), DEADLINE, [Duty.REMINDER]),  # due by 5pm: not overdue at 5pm itself
        (waiting(done=frozenset({"reminder"})), DEADLINE, []),
        (waiting(remind_at=None), DEADLINE - SECOND, []),
        # Past the deadline: overdue and, where the policy says, escalate; never a late reminder.
        (waiting(), DEADLINE + SECOND, [Duty.OVERDUE, Duty.AUTO_ESCALATE]),
        (waiting(auto_escalate=False), DEADLINE + SECOND, [Duty.OVERDUE]),
        (waiting(is_final=True), DEADLINE + SECOND, [Duty.OVERDUE]),
        (waiting(done=frozenset({"overdue"})), DEADLINE + SECOND, []),
        # Not the open stage any more, or closed: nothing.
        (waiting(is_open_stage=False), DEADLINE + SECOND, []),
        (waiting(state=State.RESOLVED), DEADLINE + SECOND, []),
        (waiting(state=State.WITHDRAWN), REMIND, []),
        # Waiting for the raising side: no responder reminder or overdue, the raiser reminder.
        (waiting(state=State.AWAITING_RAISER), DEADLINE + SECOND, []),
        (
            waiting(state=State.AWAITING_RAISER, raiser_remind_at=DEADLINE),
            DEADLINE,
            [Duty.RAISER_REMINDER],
        ),
        (
            waiting(state=State.AWAITING_RAISER, raiser_remind_at=DEADLINE),
            DEADLINE - SECOND,
            [],
        ),
        (
            waiting(
                state=State.AWAITING_RAISER,
                raiser_remind_at=DEADLINE,
                done=frozenset({"raiser_reminder"}),
            ),
            DEADLINE - SECOND,
            [],
        ),
        # Each reply window's end brings the next step for a raising side that stays silent.
        (
            waiting(
                state=State.AWAITING_RAISER,
                raiser_remind_at=DEADLINE,
                done=frozenset({"raiser_reminder"}),
            ),
            DEADLINE,
            [Duty.RAISER_MANAGER],
        ),
        (
            waiting(
                state=State.AWAITING_RAISER,
                raiser_remind_at=DEADLINE,
                done=frozenset({"raiser_reminder", "raiser_manager_told"}),
            ),
            DEADLINE,
            [Duty.CLOSE_NO_REPLY],
        ),
        (
            waiting(
                state=State.AWAITING_RAISER,
                raiser_remind_at=DEADLINE,
                done=frozenset({"raiser_reminder", "raiser_manager_told", "closed_no_reply"}),
            ),
            DEADLINE,
            [],
        ),
    ],
)
def test_what_is_due(stage, now, expected):
    assert duties(stage, now) == expected
