"""The actions agreed in a response, followed through: marked done, asked about on their due
date by the sweep, and raised again as a follow-up difference when missed. Each public function
is one transaction (the sweep's: one per action)."""

from datetime import datetime

import sqlalchemy as sa

from escalate import agreed_actions, calendar, workflow
from escalate.extensions import db
from escalate.models import AgreedAction, Category, Difference, Event, EventKind, User
from escalate.queries.conditions import visible_to
from escalate.queries.differences import person_for, takes_part
from escalate.queries.setup import working_calendar
from escalate.services._records import (
    commit_or_stale,
    lock_difference,
    message_facts,
    notify_people,
    record_event,
    stale_on_conflict,
)
from escalate.services.differences import NewDifference, record_new_difference
from escalate.workflow import NotFound, WrongState


def facts_of(action: AgreedAction, difference: Difference) -> agreed_actions.ActionFacts:
    return agreed_actions.ActionFacts(
        agency_id=action.agency_id,
        owner_id=action.owner_id,
        due_on=action.due_on,
        done=action.done_at is not None,
        has_follow_up=action.follow_up_id is not None,
        raiser_id=difference.raiser_id,
        raising_agency_id=difference.raising_agency_id,
    )


def find_action(user: User, action_id: int, reference: str | None = None) -> AgreedAction:
    """The action if ``user`` may see its difference (and it is on the difference with this
    reference, when given); otherwise NotFound."""
    query = (
        sa.select(AgreedAction)
        .join(Difference, Difference.id == AgreedAction.difference_id)
        .where(AgreedAction.id == action_id, visible_to(user))
    )
    if reference is not None:
        query = query.where(Difference.reference == (reference or "").strip().upper())
    action = db.session.scalar(query)
    if action is None:
        raise NotFound("Action not found.")
    return action


def _held(user: User, action_id: int) -> tuple[AgreedAction, Difference]:
    """The action and its difference, the difference's row held until the transaction ends."""
    action = find_action(user, action_id)
    difference = lock_difference(Difference.id == action.difference_id)
    action = db.session.get(AgreedAction, action_id, populate_existing=True)
    workflow.check_not_anonymised(difference.anonymised_at is not None)
    return action, difference


def _event_facts(action: AgreedAction, difference: Difference) -> dict:
    return {
        "number": action.number,
        "action": action.what,
        "agency": action.agency.name,
        "due_on": action.due_on.isoformat(),
    }


@stale_on_conflict
def mark_done(user: User, action_id: int, *, note: str, now: datetime) -> AgreedAction:
    """Record that an agreed action was done, and what was done; the raiser is told. Works on a
    closed difference too: actions are usually done after the response was accepted."""
    action, difference = _held(user, action_id)
    agreed_actions.check_mark_done(
        user.id,
        user.agency_id,
        facts_of(action, difference),
        takes_part=takes_part(user, difference, now),
    )
    note = workflow.require_text(note, field="note", what="what was done")
    claimed = db.session.execute(
        sa.update(AgreedAction)
        .where(AgreedAction.id == action.id, AgreedAction.done_at.is_(None))
        .values(done_at=now, done_by_id=user.id, done_note=note)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        raise WrongState("This action has already been marked as done.")
    data = _event_facts(action, difference) | {"what_was_done": note}
    event = record_event(difference, EventKind.ACTION_DONE, user, now, data, deadline=None)
    facts_ = message_facts(difference, difference.open_stage, user) | data
    notify_people(difference, event, now, [difference.raiser], "action_done", "raiser", facts_)
    commit_or_stale()
    db.session.refresh(action)
    return action


@stale_on_conflict
def raise_follow_up(user: User, action_id: int, *, now: datetime) -> Difference:
    """Raise a new difference, with the action's agency, about a missed action: the child's
    details copied, its texts written from the action, linked both ways."""
    action, difference = _held(user, action_id)
    cal = working_calendar()
    missed = agreed_actions.is_missed(action.due_on, action.done_at is not None, now, cal)
    agreed_actions.check_follow_up(user.id, facts_of(action, difference), missed)
    response = db.session.get(Event, action.event_id)
    texts = agreed_actions.follow_up_texts(
        what=action.what,
        reference=difference.reference,
        agreed_on=calendar.to_local(response.at).date(),
        due_on=action.due_on,
        agency=action.agency.name,
    )
    owner = action.owner
    named = None
    try:
        workflow.check_named_professional(person_for(owner), action.agency_id, "")
        named = owner.id
    except workflow.DomainError:
        pass  # its owner has left the agency, or no longer works in it: nobody is named
    new = NewDifference(
        receiving_agency_id=action.agency_id,
        child_reference=difference.child_reference,
        child_initials=difference.child_initials,
        child_date_of_birth=difference.child_date_of_birth,
        category=Category.DRIFT,
        decision=texts["decision"],
        reasons=texts["reasons"],
        desired_outcome=texts["desired_outcome"],
        discussed_informally=True,
        informal_discussion=texts["informal_discussion"],
        immediate_risk=False,
        named_professional_id=named,
    )
    follow_up = record_new_difference(user, new, now, follows=difference.reference)
    claimed = db.session.execute(
        sa.update(AgreedAction)
        .where(AgreedAction.id == action.id, AgreedAction.follow_up_id.is_(None))
        .values(follow_up_id=follow_up.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        raise WrongState("A follow-up difference has already been raised from this action.")
    data = _event_facts(action, difference) | {"follow_up": follow_up.reference}
    record_event(difference, EventKind.FOLLOW_UP_RAISED, user, now, data, deadline=None)
    commit_or_stale()
    return follow_up


# --- The sweep's duty -----------------------------------------------------------------------------


def due_actions(now: datetime) -> list[tuple[int, int]]:
    """(action id, difference id) of every action whose "is it done?" is due: a range on the
    partial index ix_agreed_action_ask_at (actions not done and not yet asked about)."""
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(AgreedAction.id, AgreedAction.difference_id)
            .where(
                AgreedAction.ask_at <= now,
                AgreedAction.done_at.is_(None),
                AgreedAction.asked_at.is_(None),
            )
            .order_by(AgreedAction.ask_at, AgreedAction.id)
        )
    ]


def ask_if_done(action_id: int, difference_id: int, now: datetime) -> bool:
    """Ask the action's owner whether it is done, and tell the raiser it is due: once, claimed
    by a conditional update of ``asked_at`` (False: another sweep, or its owner, got there
    first). The caller commits."""
    difference = lock_difference(Difference.id == difference_id)
    claimed = db.session.execute(
        sa.update(AgreedAction)
        .where(
            AgreedAction.id == action_id,
            AgreedAction.asked_at.is_(None),
            AgreedAction.done_at.is_(None),
        )
        .values(asked_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed or difference is None:
        return False
    action = db.session.get(AgreedAction, action_id, populate_existing=True)
    data = _event_facts(action, difference) | {"owner": action.owner.name}
    event = record_event(difference, EventKind.ACTION_DUE, None, now, data, deadline=None)
    facts_ = message_facts(difference, difference.open_stage, None) | data
    # The owner is asked first: an owner who is also the raiser gets that message only.
    notify_people(difference, event, now, [action.owner], "action_due", "owner", facts_)
    notify_people(difference, event, now, [difference.raiser], "action_due", "raiser", facts_)
    return True
