"""Accounts: signing in, creating and inviting people, changing, deactivating and reactivating
them, setting a password with a one-time link.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from escalate import validation
from escalate.extensions import db
from escalate.models import (
    AGENCY_ROLES,
    Agency,
    AgencyStageContact,
    Invitation,
    Role,
    User,
)
from escalate.queries.setup import (
    find_agency_by_name,
    find_user_by_email,
    get_user,
    manager_map,
)
from escalate.services._records import (
    notify_invited,
    record_admin_change,
    record_admin_edit,
    require_admin,
    user_record,
)
from escalate.workflow import FieldError, InvalidRequest

# Compared against when no account matches, so a failed sign-in takes as long either way.
_UNUSED_HASH = generate_password_hash("an unused password for timing parity")


def end_sessions(user: User) -> None:
    """End every session of ``user`` begun before now, in the caller's transaction: each stored
    its version of the account at sign-in, and no longer matches."""
    user.session_version = User.session_version + 1


def sign_out(user: User) -> None:
    """Sign ``user`` out of every session, on every machine (a copied cookie stops working)."""
    end_sessions(user)
    db.session.commit()


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with this email and password, or None (and never say which failed)."""
    user = find_user_by_email(email)
    if user is None or not user.password_hash:
        check_password_hash(_UNUSED_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    return user if user.active else None


@dataclass(frozen=True)
class SingleSignOnMatch:
    """The account a single sign-on is for, or why there is none ("no email", "unverified",
    "unknown", "deactivated")."""

    user: User | None
    refusal: str | None = None
    email: str | None = None


def single_sign_on_account(email, email_verified) -> SingleSignOnMatch:
    """The active account whose email address the provider has verified, matched whatever its
    case. Nothing is created: someone without an account is refused."""
    if not isinstance(email, str) or not email.strip():
        return SingleSignOnMatch(None, "no email")
    email = validation.normalise_email(email)
    if email_verified is not True:
        return SingleSignOnMatch(None, "unverified", email)
    user = find_user_by_email(email)
    if user is None:
        return SingleSignOnMatch(None, "unknown", email)
    if not user.active:
        return SingleSignOnMatch(None, "deactivated", email)
    return SingleSignOnMatch(user, email=email)


def build_user(
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
    email = validation.check_email(email)
    name = validation.check_name(name, field="name", what="the person's full name")
    job_title = validation.check_name(
        job_title, field="job_title", what="the job title", required=False
    )
    role = validation.check_role_and_agency(role, agency is not None)
    if find_user_by_email(email) is not None:
        raise InvalidRequest(f"There is already an account for {email}.")
    if password is not None:
        validation.check_password(password)
        password_hash = generate_password_hash(password)
    return User(
        email=email,
        name=name,
        job_title=job_title,
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
        validation.check_text(
            agency_name, field="agency", what="the agency's name", multiline=False
        )
        agency = find_agency_by_name(agency_name)
        if agency is None:
            known = db.session.scalars(sa.select(Agency.name).order_by(Agency.name)).all()
            hint = f" Known agencies: {', '.join(known)}." if known else " No agencies exist yet."
            raise InvalidRequest(f"There is no agency called {agency_name!r}.{hint}")
    user = build_user(
        email=email, name=name, role=role, agency=agency, job_title=job_title, password=password
    )
    db.session.add(user)
    db.session.commit()
    return user


def _account_fields(user_id, *, email, name, job_title, role, agency_id, line_manager_id):
    """Check what an administrator typed for an account; return the values to store."""
    email = validation.check_email(email)
    existing = find_user_by_email(email)
    if existing is not None and existing.id != user_id:
        raise FieldError("email", f"There is already an account for {email}")
    name = validation.check_name(name, field="name", what="the person's full name")
    job_title = validation.check_name(
        job_title, field="job_title", what="the job title", required=False
    )
    agency = db.session.get(Agency, agency_id) if agency_id else None
    if agency_id and agency is None:
        raise FieldError("agency", "Select an agency from the list")
    role = validation.check_role_and_agency(role, agency is not None)
    manager = db.session.get(User, line_manager_id) if line_manager_id else None
    if line_manager_id and (
        manager is None or not manager.active or manager.role not in AGENCY_ROLES
    ):
        raise FieldError(
            "line_manager",
            "Select an active practitioner, manager or senior manager as the line manager",
        )
    validation.check_line_manager(user_id, line_manager_id or None, manager_map())
    return {
        "email": email,
        "name": name,
        "job_title": job_title,
        "role": role,
        "agency": agency,
        "line_manager": manager,
    }


def create_invitation(
    user: User, actor: User | None, now: datetime, secret_key: str
) -> tuple[str, Invitation]:
    """A new one-time link for ``user``, and the outbox row that emails it to them; earlier
    unused links stop working. The token is returned, never stored."""
    db.session.execute(
        sa.update(Invitation)
        .where(
            Invitation.user_id == user.id,
            Invitation.used_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(expires_at=now)
    )
    nonce = validation.new_token()
    token = validation.invitation_token(secret_key, nonce)
    invitation = Invitation(
        user=user,
        token_hash=validation.token_hash(token),
        nonce=nonce,
        created_by_id=actor.id if actor else None,
        created_at=now,
        expires_at=now + validation.INVITATION_LIFETIME,
    )
    db.session.add(invitation)
    notify_invited(invitation, now)
    return token, invitation


@dataclass(frozen=True)
class Invited:
    """An account with a new set-password link, on its way by email. The token exists only
    here (for the administrator's page), never stored."""

    user: User
    token: str
    expires_at: datetime


def invite_user(
    actor: User | None,
    *,
    email,
    name,
    job_title="",
    role,
    agency_id=None,
    line_manager_id=None,
    now: datetime,
    secret_key: str,
) -> Invited:
    """Create an account without a password, and email its owner a one-time link to set one.

    ``secret_key`` is the application's SECRET_KEY, which the link's token is made with.
    """
    require_admin(actor)
    fields = _account_fields(
        None,
        email=email,
        name=name,
        job_title=job_title,
        role=role,
        agency_id=agency_id,
        line_manager_id=line_manager_id,
    )
    user = User(**fields, password_hash=None, active=True, created_at=now)
    db.session.add(user)
    db.session.flush()
    token, invitation = create_invitation(user, actor, now, secret_key)
    record_admin_change(
        actor,
        now,
        entity="user",
        entity_id=user.id,
        action="invited",
        summary=f"{user.name} ({user.email}) invited as {user.role.label.lower()}",
        after=user_record(user),
    )
    db.session.commit()
    return Invited(user, token, invitation.expires_at)


def send_new_link(actor: User | None, user_id: int, now: datetime, secret_key: str) -> Invited:
    """Email a fresh set-password link to an account's owner (first invitation lost, or password
    forgotten)."""
    require_admin(actor)
    user = get_user(user_id)
    if not user.active:
        raise InvalidRequest(f"{user.name}'s account is deactivated: reactivate it first.")
    token, invitation = create_invitation(user, actor, now, secret_key)
    record_admin_change(
        actor,
        now,
        entity="user",
        entity_id=user.id,
        action="link sent",
        summary=f"New set-password link for {user.name} ({user.email})",
    )
    db.session.commit()
    return Invited(user, token, invitation.expires_at)


def _lock_active_admins() -> set[int]:
    # Locked so that two administrators removing each other at once cannot both succeed.
    return set(
        db.session.scalars(
            sa.select(User.id)
            .where(User.role == Role.ADMIN, User.active.is_(True))
            .with_for_update()
        )
    )


def change_user(
    actor: User | None,
    user_id: int,
    *,
    email,
    name,
    job_title="",
    role,
    agency_id=None,
    line_manager_id=None,
    now: datetime,
) -> bool:
    """Change an account's details, role, agency or line manager; False when nothing changed."""
    require_admin(actor)
    user = get_user(user_id)
    fields = _account_fields(
        user.id,
        email=email,
        name=name,
        job_title=job_title,
        role=role,
        agency_id=agency_id,
        line_manager_id=line_manager_id,
    )
    if user.role == Role.ADMIN and fields["role"] != Role.ADMIN and user.active:
        validation.check_still_an_admin(
            active_admin_ids=_lock_active_admins(), user_id=user.id, remains_admin=False
        )
    new_agency = fields["agency"]
    if user.agency_id is not None and (new_agency is None or new_agency.id != user.agency_id):
        levels = db.session.scalars(
            sa.select(AgencyStageContact.stage_level).where(
                AgencyStageContact.user_id == user.id,
                AgencyStageContact.agency_id == user.agency_id,
            )
        ).all()
        if levels:
            raise FieldError(
                "agency",
                f"{user.name} is a stage {', '.join(map(str, sorted(levels)))} contact for "
                f"{user.agency.name}: remove them as a contact there before moving them",
            )
    before = user_record(user)
    for key, value in fields.items():
        setattr(user, key, value)
    changed = record_admin_edit(
        actor,
        now,
        entity="user",
        entity_id=user.id,
        summary=f"Account of {user.name} ({user.email}) changed",
        before=before,
        after=user_record(user),
    )
    db.session.commit()
    return changed


def deactivate_user(actor: User | None, user_id: int, now: datetime) -> User:
    """Stop an account signing in or receiving work. Accounts are never deleted: they appear in
    differences' histories, which must keep saying who did what."""
    require_admin(actor)
    user = get_user(user_id)
    if actor is not None and user.id == actor.id:
        raise InvalidRequest("You cannot deactivate your own account: ask another administrator.")
    if not user.active:
        raise InvalidRequest(f"{user.name}'s account is already deactivated.")
    if user.role == Role.ADMIN:
        validation.check_still_an_admin(
            active_admin_ids=_lock_active_admins(), user_id=user.id, remains_admin=False
        )
    user.active = False
    end_sessions(user)
    record_admin_change(
        actor,
        now,
        entity="user",
        entity_id=user.id,
        action="deactivated",
        summary=f"Account of {user.name} ({user.email}) deactivated",
        before={"active": True},
        after={"active": False},
    )
    db.session.commit()
    return user


def reactivate_user(actor: User | None, user_id: int, now: datetime) -> User:
    require_admin(actor)
    user = get_user(user_id)
    if user.active:
        raise InvalidRequest(f"{user.name}'s account is already active.")
    user.active = True
    end_sessions(user)
    record_admin_change(
        actor,
        now,
        entity="user",
        entity_id=user.id,
        action="reactivated",
        summary=f"Account of {user.name} ({user.email}) reactivated",
        before={"active": False},
        after={"active": True},
    )
    db.session.commit()
    return user


def set_password_from_invitation(token: str, password: str, confirmation: str, now) -> User:
    """Set the password an invitation link is for, and use the link up."""
    invitation = db.session.scalar(
        sa.select(Invitation)
        .where(Invitation.token_hash == validation.token_hash(token))
        .with_for_update()
    )
    problem = (
        "unknown"
        if invitation is None
        else validation.invitation_problem(
            used_at=invitation.used_at,
            expires_at=invitation.expires_at,
            user_active=invitation.user.active,
            now=now,
        )
    )
    if problem is not None:
        raise InvalidRequest(problem)
    validation.check_password(password)
    if password != confirmation:
        raise FieldError("confirmation", "The passwords do not match")
    user = invitation.user
    had_password = user.password_hash is not None
    user.password_hash = generate_password_hash(password)
    end_sessions(user)
    invitation.used_at = now
    record_admin_change(
        user,
        now,
        entity="user",
        entity_id=user.id,
        action="password set",
        summary=f"{user.name} ({user.email}) set a password with a one-time link",
        before={"password": "set" if had_password else "not set"},
        after={"password": "set"},
    )
    db.session.commit()
    return user
