"""Who may see which differences, as SQL for lists and look-ups (product.md §1).

`escalate.workflow.can_see` states the same rule for one difference; the tests check that both
answer alike for every role.
"""

import sqlalchemy as sa

from escalate.models import Assignment, Difference, Stage, User
from escalate.workflow import MANAGING_ROLES, OVERSIGHT_ROLES


def visible_to(user: User):
    """A WHERE clause selecting the differences ``user`` may see."""
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
