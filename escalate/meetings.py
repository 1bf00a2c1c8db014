"""The rules of professionals' meetings (issue: follow-through): who may arrange one on a
difference, who may arrange mediation by the partnership's independent chair, who records its
outcome and minutes, when the minutes are due, which dates are accepted, and when the sweep
reminds the person who arranged it.

Pure: no Flask, no database session, no clock. Services describe the difference as a
``workflow.Situation`` and the person as a ``workflow.Actor``.
"""

from datetime import date, time, timedelta

from escalate import calendar
from escalate.models import MeetingKind, Role
from escalate.wording import (
    LATEST_DAYS_AHEAD,
    MAX_NAME_CHARACTERS,
    MAX_WORKING_DAYS,
    day_and_date,
    plural,
)
from escalate.workflow import (
    PARTICIPATING_ROLES,
    Actor,
    FieldError,
    NotAllowed,
    NotFound,
    Situation,
    WrongState,
    can_see,
    is_party,
    manages_either_agency,
)

# Partnership procedures (Manchester's among them) ask for the meeting within 5 working days of
# the difference failing to settle by phone, and for its minutes within 15 working days.
MEETING_WITHIN_WORKING_DAYS = 5
DEFAULT_MINUTES_WORKING_DAYS = 15
MAX_MINUTES_WORKING_DAYS = MAX_WORKING_DAYS


def _takes_part(actor: Actor, situation: Situation) -> bool:
    """A party (raiser, named professional, past or present responder or lead) or a manager or
    senior manager of either agency; never an auditor or an administrator."""
    return actor.role in PARTICIPATING_ROLES and (
        is_party(actor, situation) or manages_either_agency(actor, situation)
    )


def arrangeable_kinds(actor: Actor, situation: Situation) -> list[MeetingKind]:
    """The kinds of meeting ``actor`` may arrange on the difference now (none: may not)."""
    if actor.id is None or situation.state.is_final or not can_see(actor, situation):
        return []
    partnership = actor.role == Role.PARTNERSHIP and situation.is_final_stage
    kinds = []
    if partnership or _takes_part(actor, situation):
        kinds.append(MeetingKind.PROFESSIONALS_MEETING)
    if partnership:
        kinds.append(MeetingKind.MEDIATION)
    return kinds


def may_arrange(actor: Actor, situation: Situation) -> bool:
    return bool(arrangeable_kinds(actor, situation))


def check_arrange(actor: Actor, situation: Situation, kind=None) -> MeetingKind:
    """The kind of meeting to arrange (a professionals' meeting unless mediation is chosen), or
    the domain error explaining why ``actor`` may not arrange it now."""
    if actor.id is None or not can_see(actor, situation):
        raise NotFound("Difference not found.")
    if situation.state.is_final:
        raise WrongState(
            f"This difference is {situation.state.label.lower()}: a meeting can no longer be "
            "arranged on it."
        )
    kinds = arrangeable_kinds(actor, situation)
    if not kinds:
        raise NotAllowed(
            "Only the people involved in this difference, or a manager of either agency, can "
            "arrange a professionals' meeting."
        )
    if kind in (None, ""):
        return MeetingKind.PROFESSIONALS_MEETING
    try:
        chosen = MeetingKind(kind)
    except ValueError:
        raise FieldError("kind", "Select the kind of meeting") from None
    if chosen not in kinds:
        raise NotAllowed(
            "Only the safeguarding partnership arranges mediation by the independent chair, "
            "and only at the final stage."
        )
    return chosen


def may_record(actor: Actor, situation: Situation, arranged_by_id: int) -> bool:
    """Who records a meeting's outcome and minutes: whoever arranged it, any party, a manager of
    either agency, or the partnership; also once the difference has closed."""
    if actor.id is None or not can_see(actor, situation):
        return False
    return (
        actor.id == arranged_by_id
        or actor.role == Role.PARTNERSHIP
        or _takes_part(actor, situation)
    ) and actor.role in PARTICIPATING_ROLES


def check_record(actor: Actor, situation: Situation, arranged_by_id: int) -> None:
    if actor.id is None or not can_see(actor, situation):
        raise NotFound("Difference not found.")
    if not may_record(actor, situation, arranged_by_id):
        raise NotAllowed(
            "Only the people involved in this difference, a manager of either agency or the "
            "partnership can record a meeting's outcome or minutes."
        )


# --- Dates ------------------------------------------------------------------------------------


def check_meeting_date(meets_on, *, today: date) -> date:
    """A meeting is arranged for today or later (within a year: a typing slip otherwise)."""
    if not isinstance(meets_on, date):
        raise FieldError("meets_on", "Enter the date of the meeting")
    if meets_on < today:
        raise FieldError("meets_on", "The date of the meeting must be today or in the future")
    if meets_on > today + timedelta(days=LATEST_DAYS_AHEAD):
        raise FieldError("meets_on", "The date of the meeting must be within a year from today")
    return meets_on


def check_outcome_day(meets_on: date, *, today: date) -> None:
    """A meeting's outcome is recorded on or after the day it met."""
    if today < meets_on:
        raise WrongState(
            f"The meeting is on {day_and_date(meets_on)}: record its outcome on or after "
            "that day."
        )


def check_outcome_open(meets_on: date, *, outcome_recorded: bool, today: date) -> None:
    """A meeting's outcome is recorded once, on or after the day it met."""
    if outcome_recorded:
        raise WrongState("This meeting's outcome has already been recorded.")
    check_outcome_day(meets_on, today=today)


def check_minutes_open(meets_on: date, *, minutes_recorded: bool, today: date) -> None:
    """A meeting's minutes are recorded once, on or after the day it met."""
    if minutes_recorded:
        raise WrongState("This meeting's minutes have already been recorded.")
    if today < meets_on:
        raise WrongState(
            f"The meeting is on {day_and_date(meets_on)}: record its minutes once it has met."
        )


def check_minutes_date(recorded_on, *, meets_on: date, today: date) -> date:
    """The day the minutes were recorded: not in the future, not before the meeting."""
    if not isinstance(recorded_on, date):
        raise FieldError("minutes_recorded_on", "Enter the date the minutes were recorded")
    if recorded_on > today:
        raise FieldError(
            "minutes_recorded_on", "The date the minutes were recorded must be today or earlier"
        )
    if recorded_on < meets_on:
        raise FieldError(
            "minutes_recorded_on",
            f"The date the minutes were recorded must be on or after the meeting "
            f"({day_and_date(meets_on)})",
        )
    return recorded_on


def check_chair(chair: str | None) -> str:
    cleaned = (chair or "").strip()
    if not cleaned:
        raise FieldError("chair", "Enter who will chair the meeting")
    if len(cleaned) > MAX_NAME_CHARACTERS:
        raise FieldError("chair", f"The chair must be {MAX_NAME_CHARACTERS} characters or fewer")
    return cleaned


def meeting_hint(today: date, nation: str, closures=()) -> str:
    """What the arranging page says about when to meet."""
    by = calendar.add_working_days(today, MEETING_WITHIN_WORKING_DAYS, nation, closures)
    return (
        f"Partnership procedures ask for the meeting within "
        f"{plural(MEETING_WITHIN_WORKING_DAYS, 'working day')}: by {day_and_date(by)}."
    )


# --- Minutes: when they are due ---------------------------------------------------------------


def check_minutes_working_days(value) -> int:
    """The policy: a whole number of working days from 1 to 60."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError("minutes_working_days", "Enter the number of working days, like 15")
    if not 1 <= value <= MAX_MINUTES_WORKING_DAYS:
        raise FieldError(
            "minutes_working_days",
            f"The number of working days must be between 1 and {MAX_MINUTES_WORKING_DAYS}",
        )
    return value


def minutes_due_on(meets_on: date, working_days: int, nation: str, closures=()) -> date:
    """The minutes are due ``working_days`` working days after the meeting (its day not
    counted), skipping weekends, bank holidays and the partnership's closure days."""
    return calendar.add_working_days(meets_on, working_days, nation, closures)


def minutes_overdue(due_on: date, recorded_on: date | None, *, today: date) -> bool:
    """Minutes not recorded by the end of their due date are overdue."""
    return recorded_on is None and today > due_on


def outcome_due(meets_on: date, outcome_recorded: bool, *, today: date) -> bool:
    """The outcome is waited for once the meeting's day has passed."""
    return not outcome_recorded and today > meets_on


# --- The sweep's reminders --------------------------------------------------------------------


def _latest_start(today: date, now: time, start_of_day: time, nation: str, closures) -> date:
    """The working day whose start of work was the latest to pass."""
    if calendar.is_working_day(today, nation, closures) and now >= start_of_day:
        return today
    return calendar.working_day_before(today, 1, nation, closures)


def outcome_reminders_before(
    today: date, now: time, *, start_of_day: time, nation: str, closures=()
) -> date:
    """The arranger is reminded of an outcome not recorded by the start of the working day after
    the meeting: meetings that met before the day returned are due."""
    return _latest_start(today, now, start_of_day, nation, closures)


def minutes_reminders_through(today: date, now: time, *, start_of_day: time) -> date:
    """The arranger is reminded of minutes not recorded on their due date, from the start of
    the working day: minutes due on or before the day returned are due."""
    return today if now >= start_of_day else today - timedelta(days=1)
