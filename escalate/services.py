"""Use cases. The only layer that commits: each public function is one transaction."""

from collections.abc import Iterable

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from escalate.extensions import db
from escalate.models import AGENCY_ROLES, Agency, AgencyStageContact, Role, User
from escalate.workflow import InvalidRequest

MIN_PASSWORD_LENGTH = 12

# Compared against when no account matches, so a failed sign-in takes as long either way.
_UNUSED_HASH = generate_password_hash("an unused password for timing parity")


def normalise_email(email: str) -> str:
    """The form in which an email address is stored and looked up: trimmed and lower-cased."""
    return (email or "").strip().lower()


def check_password_strength(password: str) -> None:
    """Refuse a password that is too short to protect an account on a shared machine."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long."
        )


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def find_agency_by_name(name: str) -> Agency | None:
    return db.session.scalar(
        sa.select(Agency).where(sa.func.lower(Agency.name) == (name or "").strip().lower())
    )


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with this email and password, or None (and never say which failed)."""
    user = find_user_by_email(email)
    if user is None or not user.password_hash:
        check_password_hash(_UNUSED_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    return user if user.active else None


def _build_user(
    *,
    email: str,
    name: str,
    role: Role | str,
    agency: Agency | None,
    job_title: str = "",
    line_manager: User | None = None,
    password: str | None = None,
    password_hash: str | None = None,
) -> User:
    email = normalise_email(email)
    if not email or "@" not in email:
        raise InvalidRequest("Enter an email address in the correct format, like name@example.org.")
    if not (name or "").strip():
        raise InvalidRequest("Enter the person's full name.")
    try:
        role = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidRequest(f"Unknown role {role!r}. Choose one of: {allowed}.") from None
    if role in AGENCY_ROLES and agency is None:
        raise InvalidRequest(f"A {role.value} must belong to an agency.")
    if find_user_by_email(email) is not None:
        raise InvalidRequest(f"There is already an account for {email}.")
    if password is not None:
        check_password_strength(password)
        password_hash = generate_password_hash(password)
    return User(
        email=email,
        name=name.strip(),
        job_title=(job_title or "").strip(),
        role=role,
        agency=agency,
        line_manager=line_manager,
        password_hash=password_hash,
    )


def create_user(
    *,
    email: str,
    name: str,
    role: Role | str,
    password: str,
    agency_name: str | None = None,
    job_title: str = "",
) -> User:
    """Create an account that can sign in straight away (used to bootstrap an administrator)."""
    agency = None
    if agency_name:
        agency = find_agency_by_name(agency_name)
        if agency is None:
            known = db.session.scalars(sa.select(Agency.name).order_by(Agency.name)).all()
            hint = f" Known agencies: {', '.join(known)}." if known else " No agencies exist yet."
            raise InvalidRequest(f"There is no agency called {agency_name!r}.{hint}")
    user = _build_user(
        email=email, name=name, role=role, agency=agency, job_title=job_title, password=password
    )
    db.session.add(user)
    db.session.commit()
    return user


def seed_demo(password: str) -> dict[str, int]:
    """Load the fictional Northshire partnership; running it again adds nothing already there."""
    from escalate import demo

    created = {"agencies": 0, "users": 0, "stage contacts": 0}
    password_hash = generate_password_hash(password)
    agencies: dict[str, Agency] = {}
    for name, kind in demo.AGENCIES:
        agency = find_agency_by_name(name)
        if agency is None:
            agency = Agency(name=name, kind=kind)
            db.session.add(agency)
            created["agencies"] += 1
        agencies[name] = agency
    db.session.flush()

    users: dict[str, User] = {}
    for person in demo.USERS:
        user = find_user_by_email(person.email)
        if user is None:
            user = _build_user(
                email=person.email,
                name=person.name,
                job_title=person.job_title,
                role=person.role,
                agency=agencies.get(person.agency),
                line_manager=users.get(person.line_manager) if person.line_manager else None,
                password_hash=password_hash,
            )
            db.session.add(user)
            db.session.flush()
            created["users"] += 1
        users[person.email] = user

    for agency_name, level, email in demo.STAGE_CONTACTS:
        agency, user = agencies[agency_name], users[email]
        exists = db.session.scalar(
            sa.select(AgencyStageContact.id).where(
                AgencyStageContact.agency_id == agency.id,
                AgencyStageContact.stage_level == level,
                AgencyStageContact.user_id == user.id,
            )
        )
        if exists is None:
            db.session.add(AgencyStageContact(agency=agency, stage_level=level, user=user))
            created["stage contacts"] += 1
    db.session.commit()
    return created


def stage_contacts_for(agency: Agency, level: int) -> Iterable[User]:
    """The active users an agency names for a stage level."""
    return db.session.scalars(
        sa.select(User)
        .join(AgencyStageContact, AgencyStageContact.user_id == User.id)
        .where(
            AgencyStageContact.agency_id == agency.id,
            AgencyStageContact.stage_level == level,
            User.active.is_(True),
        )
        .order_by(User.name)
    ).all()
