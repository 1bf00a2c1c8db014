"""When the deadline sweep acts on a stage: reminders, missed deadlines, automatic escalation.

Pure: no Flask, no database session, no clock. Services describe a stage as a
:class:`StageClock` and ask :func:`duties` what is due at ``now``; the schedule a stage carries
(``remind_at``, ``raiser_remind_at``) is computed here when it opens, is extended or is answered.

An urgent difference's stage, timed in working hours, reminds its responder halfway through its
working time (4 working hours opened at 3pm on a Friday: a reminder at 5pm, a deadline at 11am
on Monday).

What "N working days before the deadline" means: the same local time of day as the deadline (the
end of the working day) on the working day that is N working days before the deadline's day.
With a deadline of 5pm on Thursday 17 April 2025 and one day's notice, the reminder is due at
5pm on Wednesday 16 April; with a deadline of 5pm on Tuesday 22 April 2025 it is due at 5pm on
Thursday 17 April, because Good Friday and Easter Monday are not working days. 0 means no
reminder. A reminder that would fall at or before the moment the stage opened (or its deadline
was moved) is not sent: the message that opened the stage, or the extension the responder made
themselves, already stated the deadline.
"""

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from escalate import calendar
from escalate.models import State


class Duty(enum.StrEnum):
    """Something the sweep does once per stage. The values are the stage_alert kinds."""

    REMINDER = "reminder"  # remind the responder before the deadline
    OVERDUE = "overdue"  # record the missed deadline and tell both sides
    AUTO_ESCALATE = "auto_escalated"  # move the difference to the next stage
    RAISER_REMINDER = "raiser_reminder"  # remind the raising side to answer a response
    EXTENSION_LAPSED = "extension_lapsed"  # a request for more time unanswered at the deadline
    # A second reply window passed: the raiser's line manager or lead is told.
    RAISER_MANAGER = "raiser_manager_told"
    # A third passed: the difference closes as "no reply from the raising side".
    CLOSE_NO_REPLY = "closed_no_reply"
    PROPOSAL_APPLIED = "proposal_applied"  # a lead's proposal the raiser did not answer in time


# After a response, in turn, one reply window apart (product.md §4: no difference left hanging).
RAISING_SIDE_DUTIES = (Duty.RAISER_REMINDER, Duty.RAISER_MANAGER, Duty.CLOSE_NO_REPLY)


# What a new deadline for the responder starts afresh: an extension re-arms these.
RESPONDER_DUTIES = (Duty.REMINDER, Duty.OVERDUE, Duty.EXTENSION_LAPSED)

# After an outcome, each agency is reminded to write it on the child's own record (its case file)
# if it has not confirmed doing so by the end of this many working days.
RECORD_REMINDER_WORKING_DAYS = 2


def reminder_at(
    deadline: datetime,
    days_before: int,
    *,
    since: datetime,
    nation: str = calendar.DEFAULT_NATION,
    closures: Iterable[date] = (),
    tz: str = calendar.DEFAULT_TZ,
) -> datetime | None:
    """When to remind the responder of ``deadline``, or None for no reminder.

    ``since`` is the moment the deadline was set (the stage opened, or it was extended); a
    reminder at or before it would repeat what the responder has just been told.
    """
    if days_before <= 0:
        return None
    local = calendar.to_local(deadline, tz)
    day = calendar.working_day_before(local.date(), days_before, nation, closures)
    # Combine afresh rather than subtract hours: the day may be on the other side of a clock change.
    moment = datetime.combine(day, local.time(), tzinfo=local.tzinfo).astimezone(UTC)
    return moment if moment > since else None


def halfway_reminder_at(
    deadline: datetime, *, since: datetime, working_minutes: int, add_minutes
) -> datetime | None:
    """An urgent stage's reminder: half its working time after ``since`` (when it opened), or
    None when there is too little time for a reminder to help (under a working minute each
    side). ``add_minutes(start, minutes)`` adds working time in the partnership's calendar."""
    half = working_minutes // 2
    if half < 1:
        return None
    moment = add_minutes(since, half)
    return moment if since < moment < deadline else None


def raiser_reminder_at(
    responded_at: datetime,
    reply_days: int,
    *,
    nation: str = calendar.DEFAULT_NATION,
    closures: Iterable[date] = (),
    end_of_day=calendar.END_OF_WORKING_DAY,
    tz: str = calendar.DEFAULT_TZ,
) -> datetime:
    """When to remind the raising side that a response waits for them: the end of the working
    day ``reply_days`` working days after the day of the response (counted like a deadline)."""
    return calendar.deadline_at(responded_at, reply_days, nation, closures, end_of_day, tz)


@dataclass(frozen=True)
class StageClock:
    """What the sweep needs to know about one stage of one difference."""

    state: State
    is_open_stage: bool  # the difference's current stage
    is_final: bool
    deadline: datetime
    remind_at: datetime | None = None
    raiser_remind_at: datetime | None = None
    auto_escalate: bool = False
    done: frozenset[str] = field(default_factory=frozenset)  # stage_alert kinds recorded
    # The deadline a pending request for more time would move (it lapses then), if any.
    extension_pending_until: datetime | None = None


def is_past(deadline: datetime, now: datetime) -> bool:
    """A deadline is missed once its instant has passed."""
    return now > deadline


def is_overdue(state: State, deadline: datetime | None, now: datetime) -> bool:
    """Overdue: waiting for a response and past the open stage's deadline (product.md §4: not a
    state, derived from the clock). ``escalate.queries.conditions.overdue`` is its SQL twin."""
    return state == State.AWAITING_RESPONSE and deadline is not None and is_past(deadline, now)


def duties(stage: StageClock, now: datetime) -> list[Duty]:
    """What the sweep must do for this stage at ``now``, in order; empty when nothing is due.

    - Waiting for a response and past the deadline: record it as overdue (once), and escalate
      automatically when the policy says so and there is a next stage. No reminder is sent
      once the deadline has passed: the overdue notice says more.
    - Waiting for a response, before the deadline, at or after ``remind_at``: remind (once).
    - Waiting for a response with a request for more time unanswered when the deadline it
      would move comes: the request lapses (once), before anything else due then.
    - Waiting for the raising side, at or after ``raiser_remind_at`` (the end of a reply
      window): the first of RAISING_SIDE_DUTIES not yet done: remind them; then tell their line
      manager or lead; then close the difference as "no reply from the raising side".
    """
    if not stage.is_open_stage or stage.state.is_final:
        return []
    if stage.state == State.AWAITING_RESPONSE:
        lapsed = (
            [Duty.EXTENSION_LAPSED]
            if stage.extension_pending_until is not None
            and stage.extension_pending_until <= now
            and Duty.EXTENSION_LAPSED not in stage.done
            else []
        )
        return lapsed + _responder_duties(stage, now)
    if (
        stage.state == State.AWAITING_RAISER
        and stage.raiser_remind_at is not None
        and stage.raiser_remind_at <= now
    ):
        return [duty for duty in RAISING_SIDE_DUTIES if duty not in stage.done][:1]
    return []


def _responder_duties(stage: StageClock, now: datetime) -> list[Duty]:
    """What is due for a stage waiting for a response: overdue (and escalation), or a reminder."""
    if is_past(stage.deadline, now):
        if Duty.OVERDUE in stage.done:
            return []
        found = [Duty.OVERDUE]
        if stage.auto_escalate and not stage.is_final and Duty.AUTO_ESCALATE not in stage.done:
            found.append(Duty.AUTO_ESCALATE)
        return found
    if stage.remind_at is not None and stage.remind_at <= now and Duty.REMINDER not in stage.done:
        return [Duty.REMINDER]
    return []
