"""Reading differences: finding one a user may see, what a page shows about it, and the lists of a
user's differences. Never commits.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from escalate import deadlines, history, workflow
from escalate.extensions import db
from escalate.models import (
    Assignment,
    Difference,
    EventKind,
    Notification,
    PolicyStage,
    Side,
    Stage,
    State,
    User,
)
from escalate.queries.conditions import visible_to
from escalate.queries.histories import verify_difference
from escalate.queries.setup import WorkingCalendar, working_calendar
from escalate.workflow import (
    NotFound,
)


def actor_for(user: User | None) -> workflow.Actor:
    if user is None:
        return workflow.SYSTEM
    return workflow.Actor(id=user.id, role=user.role, agency_id=user.agency_id)


def person_for(user: User | None) -> workflow.Person | None:
    """A user as the rules see a candidate for a part in a difference."""
    if user is None:
        return None
    return workflow.Person(id=user.id, role=user.role, agency_id=user.agency_id, active=user.active)


def situation(difference: Difference, now: datetime) -> workflow.Situation:
    """Describe a difference to the rules as it stands at ``now``."""
    stage = difference.open_stage
    policy_stage = (
        db.session.scalar(sa.select(PolicyStage).where(PolicyStage.level == stage.level))
        if stage
        else None
    )
    involved = frozenset(a.user_id for s in difference.stages for a in s.assignments)
    return workflow.Situation(
        state=difference.state,
        stage_level=difference.stage_level,
        is_final_stage=bool(stage and stage.is_final),
        is_overdue=deadlines.is_overdue(difference.state, stage.deadline if stage else None, now),
        raiser_id=difference.raiser_id,
        raising_agency_id=difference.raising_agency_id,
        receiving_agency_id=difference.receiving_agency_id,
        named_professional_id=difference.named_professional_id,
        responder_ids=frozenset(u.id for u in stage.people(Side.RESPONDER))
        if stage
        else frozenset(),
        lead_ids=frozenset(u.id for u in stage.people(Side.LEAD)) if stage else frozenset(),
        involved_ids=involved,
        extended_days=stage.extended_days if stage else 0,
        max_extension_days=policy_stage.max_extension_days if policy_stage else 0,
    )


def find_difference(user: User, reference: str) -> Difference:
    """The difference with this reference if ``user`` may see it; otherwise NotFound."""
    difference = db.session.scalar(
        sa.select(Difference).where(
            Difference.reference == (reference or "").strip().upper(), visible_to(user)
        )
    )
    if difference is None:
        raise NotFound("Difference not found.")
    return difference


@dataclass(frozen=True)
class DifferenceFacts:
    """What a page shows about a difference for one user at one instant."""

    difference: Difference
    stage: Stage | None
    deadline: datetime | None
    is_overdue: bool
    working_days_left: int | None
    actions: list[workflow.Action]
    responders: list[User]
    leads: list[User]
    latest_response: dict | None  # the open stage's response, while the raising side decides


def facts(user: User, difference: Difference, now: datetime, cal: WorkingCalendar | None = None):
    """Precompute what a page needs so templates never derive a rule."""
    cal = cal or working_calendar()
    stage = difference.open_stage
    state = situation(difference, now)
    awaiting = stage is not None and difference.state == State.AWAITING_RESPONSE
    return DifferenceFacts(
        difference=difference,
        stage=stage,
        deadline=stage.deadline if awaiting else None,
        is_overdue=state.is_overdue,
        working_days_left=cal.days_left(stage.deadline, now) if awaiting else None,
        actions=workflow.allowed_actions(actor_for(user), state),
        responders=stage.people(Side.RESPONDER) if stage else [],
        leads=stage.people(Side.LEAD) if stage else [],
        latest_response=latest_response(difference),
    )


def latest_response(difference: Difference) -> dict | None:
    if difference.state != State.AWAITING_RAISER:
        return None
    response = next((e for e in reversed(difference.events) if e.kind == EventKind.RESPONDED), None)
    if response is None:
        return None
    return {"by": response.actor.name if response.actor else "", "at": response.at, **response.data}


def differences_raised_by(user: User) -> list[Difference]:
    return list(
        db.session.scalars(
            sa.select(Difference)
            .where(Difference.raiser_id == user.id)
            .order_by(Difference.raised_at.desc())
        )
    )


def differences_involving(user: User) -> list[Difference]:
    """Differences the user is a party to, other than those they raised."""
    involved = (
        sa.select(Assignment.id)
        .join(Stage, Stage.id == Assignment.stage_id)
        .where(Stage.difference_id == Difference.id, Assignment.user_id == user.id)
        .exists()
    )
    return list(
        db.session.scalars(
            sa.select(Difference)
            .where(
                Difference.raiser_id != user.id,
                sa.or_(involved, Difference.named_professional_id == user.id),
            )
            .order_by(Difference.raised_at.desc())
        )
    )


def waiting_for(user: User) -> list[Difference]:
    """Differences waiting for this user to act, soonest deadline first.

    Responders: an open stage assigned to them awaits their response. The raising side (raiser
    or the stage's lead): a response awaits their acceptance or escalation.
    """
    responding = (
        sa.select(Stage.difference_id)
        .join(Assignment, Assignment.stage_id == Stage.id)
        .join(Difference, Difference.id == Stage.difference_id)
        .where(
            Assignment.user_id == user.id,
            Assignment.active.is_(True),
            Assignment.side == Side.RESPONDER,
            Stage.level == Difference.stage_level,
            Difference.state == State.AWAITING_RESPONSE,
        )
    )
    leading = (
        sa.select(Stage.difference_id)
        .join(Assignment, Assignment.stage_id == Stage.id)
        .join(Difference, Difference.id == Stage.difference_id)
        .where(
            Assignment.user_id == user.id,
            Assignment.active.is_(True),
            Assignment.side == Side.LEAD,
            Stage.level == Difference.stage_level,
            Difference.state == State.AWAITING_RAISER,
        )
    )
    conditions = [
        Difference.id.in_(responding),
        Difference.id.in_(leading),
        sa.and_(Difference.raiser_id == user.id, Difference.state == State.AWAITING_RAISER),
    ]
    return list(
        db.session.scalars(
            sa.select(Difference)
            .join(
                Stage,
                sa.and_(
                    Stage.difference_id == Difference.id, Stage.level == Difference.stage_level
                ),
            )
            .where(sa.or_(*conditions))
            .order_by(Stage.deadline, Difference.id)
        )
    )


def notifications_about(difference: Difference) -> list[Notification]:
    """Every notification about a difference with its recipient, newest first: who was told of
    what, and how far each email got (the difference page shows them)."""
    return list(
        db.session.scalars(
            sa.select(Notification)
            .where(Notification.difference_id == difference.id)
            .options(joinedload(Notification.recipient))
            .order_by(Notification.created_at.desc(), Notification.id.desc())
        )
    )


def ensure_may(user: User, difference: Difference, action: workflow.Action, now: datetime):
    """Raise the domain error explaining why ``user`` may not take ``action`` now, if so."""
    workflow.check(actor_for(user), situation(difference, now), action)


def ensure_may_add_learning_note(user: User, difference: Difference, now: datetime) -> None:
    """Raise the domain error explaining why ``user`` may not add a learning note now, if so."""
    workflow.check_learning_note(actor_for(user), situation(difference, now))


@dataclass(frozen=True)
class OversightFacts:
    """What the difference page shows about its history's integrity and its learning."""

    verification: history.Verification
    learning_notes: list
    may_add_learning_note: bool


def oversight_facts(user: User, difference: Difference, now: datetime) -> OversightFacts:
    from escalate.models import LearningNote

    notes = db.session.scalars(
        sa.select(LearningNote)
        .where(LearningNote.difference_id == difference.id)
        .order_by(LearningNote.created_at, LearningNote.id)
    ).all()
    return OversightFacts(
        verification=verify_difference(difference),
        learning_notes=list(notes),
        may_add_learning_note=workflow.may_add_learning_note(
            actor_for(user), situation(difference, now)
        ),
    )
