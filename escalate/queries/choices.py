"""The choices forms offer: agencies, professionals, responders, line managers. Never commits."""

from collections.abc import Iterable

import sqlalchemy as sa

from escalate import policy
from escalate.extensions import db
from escalate.models import (
    Agency,
    AgencyStageContact,
    Difference,
    User,
)
from escalate.queries import conditions
from escalate.queries.setup import partnership_settings, policy_stages


def other_agencies(user: User) -> list[Agency]:
    """The agencies a user may raise a difference with: every other agency that has
    professionals to answer it (not, say, the partnership's own business unit)."""
    return list(
        db.session.scalars(
            sa.select(Agency)
            .where(conditions.may_receive(user.agency_id))
            .order_by(Agency.name)
        )
    )


def professionals_outside(user: User) -> list[User]:
    """Active professionals of other agencies, who can be named as having made a decision."""
    return list(
        db.session.scalars(
            sa.select(User)
            .join(Agency, Agency.id == User.agency_id)
            .where(User.agency_id != user.agency_id, conditions.professional())
            .order_by(Agency.name, User.name)
        )
    )


def possible_responders(difference: Difference) -> list[User]:
    """Who the open stage could be reassigned to: the receiving agency, or at the final stage
    the partnership."""
    stage = difference.open_stage
    rule = conditions.may_take_over(
        is_final_stage=stage is not None and stage.is_final,
        receiving_agency_id=difference.receiving_agency_id,
    )
    return list(db.session.scalars(sa.select(User).where(rule).order_by(User.name)))


def all_agencies() -> list[Agency]:
    return list(db.session.scalars(sa.select(Agency).order_by(Agency.name)))


def possible_line_managers(user: User | None = None) -> list[User]:
    """Active professionals who could manage ``user`` (not themselves): a line manager may be
    asked to respond or lead at stage 2, so administrators and auditors cannot be one."""
    query = (
        sa.select(User)
        .where(conditions.professional())
        .order_by(User.name)
    )
    if user is not None:
        query = query.where(User.id != user.id)
    return list(db.session.scalars(query))


def stage_contacts_for(agency: Agency, level: int) -> Iterable[User]:
    """The active users an agency names for a stage level."""
    return db.session.scalars(
        sa.select(User)
        .join(AgencyStageContact, AgencyStageContact.user_id == User.id)
        .where(
            AgencyStageContact.agency_id == agency.id,
            AgencyStageContact.stage_level == level,
            conditions.professional(),
        )
        .order_by(User.name)
    ).all()


def urgent_start_choices() -> list[tuple[str, str]]:
    """The stages the raiser of an urgent difference may start it at, as radio choices."""
    stages = {stage.level: stage for stage in policy_stages()}
    levels = policy.urgent_start_levels(partnership_settings().highest_urgent_start, list(stages))
    return [(str(level), f"Stage {level}: {stages[level].name}") for level in levels]
