"""The rules of the actions agreed in a response: what a response must list, when an action is
asked about and when it is missed, who may mark it done, and who may raise a follow-up difference
from a missed one.

Pure: no Flask, no database session, no clock. An action is described as an :class:`ActionFacts`;
the calendar is any object with ``nation``, ``closures``, ``start_of_day`` and ``end_of_day``
(``escalate.queries.setup.WorkingCalendar``). Whether the person may see the difference at all is
the caller's question (``visible_to``): these rules are asked only about a difference they see.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from escalate import calendar
from escalate.errors import FieldError, FieldErrors, NotAllowed, WrongState
from escalate.rationale import is_placeholder
from escalate.wording import LATEST_DUE_YEARS, MAX_TEXT_CHARACTERS, long_date

# How many actions one response can list (the form's rows).
MAX_ACTIONS = 3


@dataclass(frozen=True)
class NewAction:
    """One action as a responder agrees it: what will be done, by which agency, by when."""

    what: str
    agency_id: int | None
    due_on: date | None


@dataclass(frozen=True)
class ActionFacts:
    """An agreed action, as the rules need it."""

    agency_id: int
    owner_id: int
    due_on: date
    done: bool
    has_follow_up: bool
    raiser_id: int
    raising_agency_id: int


# --- What a response lists -------------------------------------------------------------------


def row_field(number: int, part: str) -> str:
    """The form field of one part ("what", "agency", "due") of the ``number``-th row."""
    return f"action_{number}_{part}"


def check_actions(
    actions: list[NewAction | None], agency_ids: tuple[int, int], today: date
) -> list[NewAction]:
    """The complete actions of a response that agrees or partly agrees, in order, or
    FieldErrors naming every problem, row by row in the order of the page. ``actions`` holds
    one entry per row of the form (None, or a NewAction with nothing in it, for an empty row);
    ``agency_ids`` the difference's two agencies."""
    if len(actions) > MAX_ACTIONS:
        raise FieldError(row_field(1, "what"), f"List up to {MAX_ACTIONS} actions")
    problems: list[FieldError] = []
    complete: list[NewAction] = []
    for number, action in enumerate(actions, start=1):
        what = (action.what or "").strip() if action else ""
        agency_id = action.agency_id if action else None
        due_on = action.due_on if action else None
        if not what and agency_id is None and due_on is None:
            continue  # an empty row
        if not what:
            problems.append(FieldError(row_field(number, "what"), f"Enter what action {number} is"))
        elif is_placeholder(what):
            problems.append(
                FieldError(
                    row_field(number, "what"),
                    f"Enter what action {number} is in your own words: \u201c{what}\u201d does "
                    "not say it",
                )
            )
        elif len(what) > MAX_TEXT_CHARACTERS:
            problems.append(
                FieldError(
                    row_field(number, "what"),
                    f"Action {number} must be {MAX_TEXT_CHARACTERS:,} characters or fewer",
                )
            )
        if agency_id not in agency_ids:
            problems.append(
                FieldError(row_field(number, "agency"), f"Select which agency does action {number}")
            )
        if due_on is None:
            problems.append(
                FieldError(row_field(number, "due"), f"Enter the date action {number} is due by")
            )
        elif due_on < today:
            problems.append(
                FieldError(
                    row_field(number, "due"),
                    f"The date action {number} is due by must be today or in the future",
                )
            )
        elif due_on.year > today.year + LATEST_DUE_YEARS:
            problems.append(
                FieldError(
                    row_field(number, "due"),
                    f"The date action {number} is due by must be within {LATEST_DUE_YEARS} "
                    "years of today",
                )
            )
        if what and agency_id in agency_ids and due_on is not None and not (
            due_on < today or due_on.year > today.year + LATEST_DUE_YEARS
        ):
            complete.append(NewAction(what, agency_id, due_on))
    if not problems and not complete:
        problems.append(
            FieldError(row_field(1, "what"), "Enter at least one action that is agreed")
        )
    if problems:
        raise FieldErrors(problems)
    return complete


def as_text(actions, agency_names: dict[int, str]) -> str:
    """The actions as the history and messages give them: one line each, "what — agency — by
    date"."""
    return "\n".join(
        f"{a.what} — {agency_names.get(a.agency_id, '')} — by {long_date(a.due_on)}"
        for a in actions
    )


# --- When it is asked about, and when it is missed ----------------------------------------------


def working_due_day(due_on: date, cal) -> date:
    """The working day an action is due on: its due date, or the next working day if that is
    not one."""
    if calendar.is_working_day(due_on, cal.nation, cal.closures):
        return due_on
    return calendar.add_working_days(due_on, 1, cal.nation, cal.closures)


def ask_at(due_on: date, cal, tz: str = calendar.DEFAULT_TZ) -> datetime:
    """When its owner is asked whether it is done: the start of its working due day."""
    day = working_due_day(due_on, cal)
    return datetime.combine(day, cal.start_of_day, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def missed_after(due_on: date, cal, tz: str = calendar.DEFAULT_TZ) -> datetime:
    """The moment an action not done is missed: the end of its working due day."""
    day = working_due_day(due_on, cal)
    return datetime.combine(day, cal.end_of_day, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def missed_cutoff(now: datetime, cal, tz: str = calendar.DEFAULT_TZ) -> date:
    """The last due date that is missed at ``now`` (an action not done and due on or before it
    is missed): for the lists' queries, which compare ``due_on`` with it."""
    local = calendar.to_local(now, tz)
    today = local.date()
    if calendar.is_working_day(today, cal.nation, cal.closures) and local.time() > cal.end_of_day:
        return today
    return calendar.working_day_before(today, 1, cal.nation, cal.closures)


def is_missed(due_on: date, done: bool, now: datetime, cal) -> bool:
    return not done and now > missed_after(due_on, cal)


def is_due(due_on: date, done: bool, now: datetime, cal) -> bool:
    """Asked about now: its working due day has started, and it is not done."""
    return not done and now >= ask_at(due_on, cal)


# --- Who may do what ----------------------------------------------------------------------------


def mark_done_refusal(
    actor_id: int, actor_agency_id: int | None, action: ActionFacts, *, takes_part: bool
) -> str:
    """Why this person may not mark the action done, or "" if they may: its owner, or anyone of
    its agency who takes part in the difference (workflow.takes_part: not a supporter only)."""
    if action.done:
        return "This action has already been marked as done."
    if actor_id != action.owner_id and not (actor_agency_id == action.agency_id and takes_part):
        return "Only someone from the agency that agreed to do this action can mark it as done."
    return ""


def check_mark_done(
    actor_id: int, actor_agency_id: int | None, action: ActionFacts, *, takes_part: bool
) -> None:
    refusal = mark_done_refusal(actor_id, actor_agency_id, action, takes_part=takes_part)
    if action.done:
        raise WrongState(refusal)
    if refusal:
        raise NotAllowed(refusal)


def may_mark_done(
    actor_id: int, actor_agency_id: int | None, action: ActionFacts, *, takes_part: bool
) -> bool:
    return not mark_done_refusal(actor_id, actor_agency_id, action, takes_part=takes_part)


def follow_up_refusal(actor_id: int, action: ActionFacts, missed: bool) -> str:
    """Why this person may not raise a follow-up difference from the action, or "" if they may:
    only the difference's raiser, for a missed action of the other agency, not done, with no
    follow-up yet."""
    if actor_id != action.raiser_id:
        return "Only the person who raised the difference can raise a follow-up from an action."
    if action.agency_id == action.raising_agency_id:
        return "This action is your own agency's: a follow-up difference is raised with another."
    if action.has_follow_up:
        return "A follow-up difference has already been raised from this action."
    if action.done:
        return "This action has been marked as done."
    if not missed:
        return "A follow-up difference can be raised only once the action is overdue."
    return ""


def check_follow_up(actor_id: int, action: ActionFacts, missed: bool) -> None:
    refusal = follow_up_refusal(actor_id, action, missed)
    if actor_id != action.raiser_id or action.agency_id == action.raising_agency_id:
        raise NotAllowed(refusal)
    if refusal:
        raise WrongState(refusal)


def may_raise_follow_up(actor_id: int, action: ActionFacts, missed: bool) -> bool:
    return not follow_up_refusal(actor_id, action, missed)


def follow_up_texts(
    *, what: str, reference: str, agreed_on: date, due_on: date, agency: str
) -> dict[str, str]:
    """What a follow-up difference says, written for its raiser from the missed action (its
    words cut short, if need be, so that the decision stays within the limit of a text)."""
    said = (
        f"{agency} agreed in the response to {reference} on {long_date(agreed_on)} to do "
        f"this by {long_date(due_on)}: "
    )
    room = MAX_TEXT_CHARACTERS - len(said)
    return {
        "decision": said + (what if len(what) <= room else what[: room - 1] + "…"),
        "reasons": (
            f"The action agreed in {reference} was due by {long_date(due_on)} and has not been "
            "recorded as done. The plan agreed for the child has drifted, so the concern the "
            "difference was raised about is not yet resolved."
        ),
        "desired_outcome": (
            f"{agency} completes the agreed action, or explains why it cannot and agrees a new "
            "date."
        ),
        "informal_discussion": (
            f"Raised before as {reference}: the response on {long_date(agreed_on)} agreed this "
            "action."
        ),
    }
