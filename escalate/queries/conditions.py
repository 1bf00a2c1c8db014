"""The rules of escalate.workflow and escalate.deadlines as SQL conditions, for lists and look-ups.

Each condition here has a Python twin that decides the same question for one difference; the
tests hold every pair together (tests/test_conditions.py).

"""

from datetime import datetime

import sqlalchemy as sa

from escalate.models import Assignment, Difference, Stage, State, User
from escalate.workflow import MANAGING_ROLES, OVERSIGHT_ROLES

OPEN_STATES = (State.AWAITING_RESPONSE, State.AWAITING_RAISER)


def visible_to(user: User):
    """The differences ``user`` may see (product.md §1); twin of ``workflow.can_see``."""
    if user.role in OVERSIGHT_ROLES:
        return sa.true()
    involved = (
        sa.select(Assignment.id)
        .join(Stage, Stage.id == Assignment.stage_id)
        .where(Stage.difference_id == Difference.id, Assignment.user_id == user.id)
        .exists()
    )
    clauses = [
        Difference.raiser_id == user.id,
        Difference.named_professional_id == user.id,
        involved,
    ]
    if user.role in MANAGING_ROLES and user.agency_id is not None:
        clauses.append(Difference.raising_agency_id == user.agency_id)
        clauses.append(Difference.receiving_agency_id == user.agency_id)
    return sa.or_(*clauses)


def open_stage_on():
    """Join condition: a difference's current stage."""
    return sa.and_(Stage.difference_id == Difference.id, Stage.level == Difference.stage_level)


def overdue(now: datetime):
    """Overdue at ``now``, with the current stage joined; twin of ``deadlines.is_overdue``."""
    return sa.and_(Difference.state == State.AWAITING_RESPONSE, Stage.deadline < now)
