"""The rules of escalate.workflow and escalate.deadlines as SQL conditions, for lists and look-ups.

Each condition here has a Python twin that decides the same question for one difference; the
tests hold every pair together (tests/test_conditions.py).

"""

from datetime import datetime

import sqlalchemy as sa

from escalate.models import (
    AGENCY_ROLES,
    Agency,
    Assignment,
    Difference,
    Role,
    Side,
    Stage,
    State,
    Supporter,
    User,
)
from escalate.workflow import MANAGING_ROLES, OVERSIGHT_ROLES

OPEN_STATES = (State.AWAITING_RESPONSE, State.AWAITING_RAISER)


def visible_to(user: User):
    """The differences ``user`` may see (product.md §1); twin of ``workflow.can_see``."""
    return _visible(reach(user), user.id, user.agency_id)


def reach(user: User) -> str:
    """How far ``user`` sees: every difference, their agency's, or their own."""
    if user.role in OVERSIGHT_ROLES:
        return "all"
    if user.role in MANAGING_ROLES and user.agency_id is not None:
        return "agency"
    return "own"


def visible_bound(reach_: str):
    """``visible_to`` for every person of one ``reach``, the person and their agency bound as
    ``person`` and ``agency``: for statements built once."""
    return _visible(reach_, sa.bindparam("person"), sa.bindparam("agency"))


def _visible(reach_: str, person, agency):
    if reach_ == "all":
        return sa.true()
    involved = (
        sa.select(Assignment.id)
        .join(Stage, Stage.id == Assignment.stage_id)
        .where(Stage.difference_id == Difference.id, Assignment.user_id == person)
        .exists()
    )
    supporting = (
        sa.select(Supporter.id)
        .where(Supporter.difference_id == Difference.id, Supporter.user_id == person)
        .exists()
    )
    clauses = [
        Difference.raiser_id == person,
        Difference.named_professional_id == person,
        involved,
        supporting,
    ]
    if reach_ == "agency":
        clauses.append(Difference.raising_agency_id == agency)
        clauses.append(Difference.receiving_agency_id == agency)
    return sa.or_(*clauses)


def current_party(user_id, side: Side):
    """Differences at whose current stage ``user_id`` is an active responder (or lead, by
    ``side``); twin of ``situation``'s ``responder_ids`` and ``lead_ids``.

    A stage is open (not closed) exactly while it is its difference's current stage and the
    difference is open, so the database starts from the few open stages (an index on
    stage.closed_at) and never reads the person's history of assignments."""
    return Difference.id.in_(
        sa.select(Stage.difference_id)
        .join(Assignment, Assignment.stage_id == Stage.id)
        .where(
            Stage.closed_at.is_(None),
            Assignment.user_id == user_id,
            Assignment.active.is_(True),
            Assignment.side == side,
        )
    )


def open_stage_on():
    """Join condition: an open difference's current stage. That stage is the one not closed, so
    the database can start from the few open stages (the index on ``stage.closed_at``) rather
    than read every stage ever opened."""
    return sa.and_(
        Stage.difference_id == Difference.id,
        Stage.level == Difference.stage_level,
        Stage.closed_at.is_(None),
    )


def overdue(now: datetime):
    """A stage overdue at ``now``: still open, no response, its deadline passed. Joined to a
    difference's current stage, the twin of ``deadlines.is_overdue`` (a stage is open and
    unanswered exactly while its difference awaits the response)."""
    return sa.and_(Stage.closed_at.is_(None), Stage.responded_at.is_(None), Stage.deadline < now)


def professional():
    """Active practitioners, managers and seniors; twin of ``workflow.is_professional``."""
    return sa.and_(User.active.is_(True), User.role.in_(AGENCY_ROLES))


def professional_of(agency_id):
    """The professionals of an agency; twin of ``workflow.is_professional_of``."""
    return sa.and_(professional(), User.agency_id == agency_id)


def has_professionals(agency_id):
    """The agency has someone who can answer for it."""
    return sa.select(User.id).where(professional_of(agency_id)).exists()


def may_receive(raiser_agency_id):
    """Agencies a difference may be raised with; twin of ``workflow.may_receive``."""
    return sa.and_(Agency.id != raiser_agency_id, has_professionals(Agency.id))


def may_take_over(*, is_final_stage: bool, receiving_agency_id: int):
    """Who an open stage may be reassigned to; twin of ``workflow.may_take_over``."""
    if is_final_stage:
        return sa.and_(User.active.is_(True), User.role == Role.PARTNERSHIP)
    return professional_of(receiving_agency_id)
