"""Reading the actions agreed in responses: a difference's own, a person's to confirm, which
listed differences have one overdue, and the dashboard's counts. Each is one statement; an
action's being overdue is derived from the clock (escalate.agreed_actions), never stored."""

import dataclasses
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, joinedload

from escalate import agreed_actions, wording, workflow
from escalate.extensions import db
from escalate.models import Agency, AgreedAction, Difference, User
from escalate.queries import differences
from escalate.queries.setup import WorkingCalendar


@dataclass(frozen=True)
class ActionRow:
    """One agreed action as a page shows it to one person at one instant."""

    action: AgreedAction
    status: str  # "due", "overdue" or "done"
    status_text: str  # "Due", "Overdue", "Done on 3 June 2026"
    may_mark_done: bool
    may_raise_follow_up: bool


@dataclass(frozen=True)
class DifferenceActions:
    """The difference page's "Actions agreed": its own actions, and those it follows up."""

    actions: list[ActionRow]
    follows: list[AgreedAction]  # missed actions of other differences this one was raised for


def _row(user: User, action: AgreedAction, difference, now, cal, *, takes_part: bool) -> ActionRow:
    done = action.done_at is not None
    missed = agreed_actions.is_missed(action.due_on, done, now, cal)
    facts = agreed_actions.ActionFacts(
        agency_id=action.agency_id,
        owner_id=action.owner_id,
        due_on=action.due_on,
        done=done,
        has_follow_up=action.follow_up_id is not None,
        raiser_id=difference.raiser_id,
        raising_agency_id=difference.raising_agency_id,
    )
    if done:
        status, text = "done", f"Done on {wording.long_date(action.done_at)}"
    elif missed:
        status, text = "overdue", "Overdue"
    else:
        status, text = "due", "Due"
    anonymised = difference.anonymised_at is not None
    return ActionRow(
        action=action,
        status=status,
        status_text=text,
        may_mark_done=not anonymised
        and agreed_actions.may_mark_done(user.id, user.agency_id, facts, takes_part=takes_part),
        may_raise_follow_up=not anonymised
        and agreed_actions.may_raise_follow_up(user.id, facts, missed),
    )


# Built once, with the difference bound: its page asks it on every view.
_OF_DIFFERENCE = (
    sa.select(AgreedAction)
    .where(
        sa.or_(
            AgreedAction.difference_id == sa.bindparam("difference"),
            AgreedAction.follow_up_id == sa.bindparam("difference"),
        )
    )
    .options(
        joinedload(AgreedAction.agency),
        joinedload(AgreedAction.owner),
        joinedload(AgreedAction.done_by),
        joinedload(AgreedAction.follow_up),
        joinedload(AgreedAction.difference),
    )
    .order_by(AgreedAction.event_id, AgreedAction.number)
)


def for_difference(
    user: User,
    difference: Difference,
    now: datetime,
    cal: WorkingCalendar,
    state: workflow.Situation | None = None,
) -> DifferenceActions:
    """Its actions, in the order they were agreed, and the actions it follows up: one
    statement (the people, agencies and linked differences joined in)."""
    found = db.session.scalars(_OF_DIFFERENCE, {"difference": difference.id}).all()
    takes_part = differences.takes_part(user, difference, now, state)
    return DifferenceActions(
        actions=[
            _row(user, a, difference, now, cal, takes_part=takes_part)
            for a in found
            if a.difference_id == difference.id
        ],
        follows=[a for a in found if a.follow_up_id == difference.id],
    )


# Built once, with the person and the instant bound: the Waiting page asks it on every view.
_TO_CONFIRM = (
    sa.select(AgreedAction)
    .join(Difference, Difference.id == AgreedAction.difference_id)
    .where(
        AgreedAction.owner_id == sa.bindparam("person"),
        AgreedAction.done_at.is_(None),
        AgreedAction.ask_at <= sa.bindparam("now"),
        Difference.anonymised_at.is_(None),
    )
    .options(contains_eager(AgreedAction.difference), joinedload(AgreedAction.agency))
    .order_by(AgreedAction.due_on, AgreedAction.id)
)


def to_confirm(user: User, now: datetime, cal: WorkingCalendar) -> list[ActionRow]:
    """The person's actions due or overdue and not done, the longest overdue first (one
    statement, on the partial index of actions not done)."""
    found = db.session.scalars(_TO_CONFIRM, {"person": user.id, "now": now}).all()
    # Their own actions: an owner may mark theirs done, whatever else they are to the difference.
    return [_row(user, a, a.difference, now, cal, takes_part=False) for a in found]


_OVERDUE_AMONG = (
    sa.select(AgreedAction.difference_id)
    .where(
        AgreedAction.difference_id.in_(sa.bindparam("ids", expanding=True)),
        AgreedAction.done_at.is_(None),
        AgreedAction.due_on <= sa.bindparam("cutoff"),
    )
    .distinct()
)


def with_overdue_actions(rows: list, now: datetime, cal: WorkingCalendar) -> list:
    """The list's rows (queries.differences.DifferenceRow), each marked where one of its
    difference's actions is overdue: one statement for the whole list."""
    ids = [row.difference.id for row in rows]
    if not ids:
        return rows
    overdue = set(
        db.session.scalars(
            _OVERDUE_AMONG, {"ids": ids, "cutoff": agreed_actions.missed_cutoff(now, cal)}
        )
    )
    return [dataclasses.replace(row, action_overdue=row.difference.id in overdue) for row in rows]


@dataclass(frozen=True)
class AgencyActions:
    agency: str
    open: int
    done: int
    overdue: int


def dashboard(now: datetime, cal: WorkingCalendar) -> list[AgencyActions]:
    """Agreed actions open (not done), done, and overdue (open and missed), by the agency that
    agreed to do them: one grouped statement."""
    cutoff = agreed_actions.missed_cutoff(now, cal)
    is_open = AgreedAction.done_at.is_(None)
    rows = db.session.execute(
        sa.select(
            Agency.name,
            sa.func.count().filter(is_open),
            sa.func.count().filter(AgreedAction.done_at.is_not(None)),
            sa.func.count().filter(is_open, AgreedAction.due_on <= cutoff),
        )
        .join(Agency, Agency.id == AgreedAction.agency_id)
        .group_by(Agency.id, Agency.name)
        .order_by(Agency.name)
    ).all()
    return [AgencyActions(name, open_, done, overdue) for name, open_, done, overdue in rows]
