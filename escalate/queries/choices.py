"""The choices forms offer: agencies, professionals, responders, line managers. Never commits."""

from collections.abc import Iterable

import sqlalchemy as sa

from escalate.extensions import db
from escalate.models import (
    AGENCY_ROLES,
    Agency,
    AgencyStageContact,
    Difference,
    Role,
    User,
)


def other_agencies(user: User) -> list[Agency]:
    """The agencies a user may raise a difference with: every other agency that has
    professionals to answer it (not, say, the partnership's own business unit)."""
    return list(
        db.session.scalars(
            sa.select(Agency)
            .where(Agency.id != user.agency_id, has_professionals(Agency.id))
            .order_by(Agency.name)
        )
    )


def has_professionals(agency_id):
    return (
        sa.select(User.id)
        .where(User.agency_id == agency_id, User.active.is_(True), User.role.in_(AGENCY_ROLES))
        .exists()
    )


def professionals_outside(user: User) -> list[User]:
    """Active professionals of other agencies, who can be named as having made a decision."""
    return list(
        db.session.scalars(
            sa.select(User)
            .join(Agency, Agency.id == User.agency_id)
            .where(
                User.agency_id != user.agency_id,
                User.active.is_(True),
                User.role.in_(AGENCY_ROLES),
            )
            .order_by(Agency.name, User.name)
        )
    )


def possible_responders(difference: Difference) -> list[User]:
    """Who the open stage could be reassigned to: the receiving agency, or at the final stage
    the partnership."""
    stage = difference.open_stage
    query = sa.select(User).where(User.active.is_(True))
    if stage is not None and stage.is_final:
        query = query.where(User.role == Role.PARTNERSHIP)
    else:
        query = query.where(
            User.agency_id == difference.receiving_agency_id, User.role.in_(AGENCY_ROLES)
        )
    return list(db.session.scalars(query.order_by(User.name)))


def all_agencies() -> list[Agency]:
    return list(db.session.scalars(sa.select(Agency).order_by(Agency.name)))


def possible_line_managers(user: User | None = None) -> list[User]:
    """Active professionals who could manage ``user`` (not themselves): a line manager may be
    asked to respond or lead at stage 2, so administrators and auditors cannot be one."""
    query = (
        sa.select(User)
        .where(User.active.is_(True), User.role.in_(AGENCY_ROLES))
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
            User.active.is_(True),
            User.role.in_(AGENCY_ROLES),
        )
        .order_by(User.name)
    ).all()
