"""The raiser's supporters (product.md §4): chosen when a difference is raised, in the raising
transaction."""

from datetime import datetime

import sqlalchemy as sa

from escalate import workflow
from escalate.extensions import db
from escalate.models import AgencySafeguardingLead, Difference, Supporter, User
from escalate.queries.differences import person_for


def add_supporters(difference: Difference, raiser: User, now: datetime) -> list[User]:
    """Record who supports the raiser: their line manager, else their agency's designated
    safeguarding leads. Returns them (perhaps nobody) for the raising event and its messages."""
    leads = list(
        db.session.scalars(
            sa.select(User)
            .join(AgencySafeguardingLead, AgencySafeguardingLead.user_id == User.id)
            .where(AgencySafeguardingLead.agency_id == raiser.agency_id)
            .order_by(User.name, User.id)
        )
    )
    manager = raiser.line_manager
    chosen, basis = workflow.pick_supporters(
        raiser.id, person_for(manager), [person_for(u) for u in leads]
    )
    by_id = {u.id: u for u in [*leads, *([manager] if manager else [])]}
    supporters = [by_id[p.id] for p in chosen]
    for user in supporters:
        difference.supporters.append(Supporter(user=user, basis=basis, added_at=now))
    return supporters
