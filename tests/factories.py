"""Test data builders. They add to the session and flush; the test decides when to commit."""

import itertools
from functools import cache

from werkzeug.security import generate_password_hash

from escalate.extensions import db
from escalate.models import AGENCY_ROLES, Agency, AgencyKind, AgencyStageContact, Role, User

PASSWORD = "correct horse battery staple"
_sequence = itertools.count(1)


@cache
def _hash(password: str) -> str:
    # Hashing is deliberately slow; hash each test password once per run.
    return generate_password_hash(password)


def agency(name: str | None = None, kind: AgencyKind = AgencyKind.CHILDRENS_SOCIAL_CARE) -> Agency:
    made = Agency(name=name or f"Agency {next(_sequence)}", kind=kind)
    db.session.add(made)
    db.session.flush()
    return made


def user(
    role: Role | str = Role.PRACTITIONER,
    *,
    agency: Agency | None = None,
    email: str | None = None,
    name: str | None = None,
    line_manager: User | None = None,
    password: str = PASSWORD,
    active: bool = True,
    job_title: str = "",
) -> User:
    role = Role(role)
    number = next(_sequence)
    if agency is None and role in AGENCY_ROLES:
        agency = globals()["agency"]()
    made = User(
        email=(email or f"{role.value}{number}@example.org").lower(),
        name=name or f"{role.value.title()} {number}",
        job_title=job_title,
        role=role,
        agency=agency,
        line_manager=line_manager,
        active=active,
        password_hash=_hash(password),
    )
    db.session.add(made)
    db.session.flush()
    return made


def stage_contact(agency: Agency, level: int, contact: User) -> AgencyStageContact:
    made = AgencyStageContact(agency=agency, stage_level=level, user=contact)
    db.session.add(made)
    db.session.flush()
    return made
