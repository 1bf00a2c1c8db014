"""Checks on what people type into forms, command-line arguments and imported files: one
definition of each, so the pages, the CLI and the importer accept and refuse alike.

Pure: no Flask, no database session. A refusal is a FieldError naming the field, with a message
written for the person who typed the value.
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

import email_validator

from escalate.models import AGENCY_ROLES, AgencyKind, Role
from escalate.wording import MAX_EMAIL_CHARACTERS, MAX_NAME_CHARACTERS
from escalate.workflow import FieldError, InvalidRequest


def normalise_email(email: str | None) -> str:
    """The form in which an email address is stored and looked up: trimmed and lower-cased."""
    return (email or "").strip().lower()


def check_role_and_agency(role: Role | str, has_agency: bool) -> Role:
    """The role, if it is one, and if the account has the agency the role needs."""
    try:
        role = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise FieldError("role", f"Choose a role: one of {allowed}") from None
    if role in AGENCY_ROLES and not has_agency:
        raise FieldError(
            "agency", f"Select an agency: a {role.label.lower()} acts for an agency"
        )
    return role


def check_line_manager(
    user_id: int | None, manager_id: int | None, manager_of: Mapping[int, int | None]
) -> None:
    """Refuse a line manager who is the person themselves or reports to them, at any distance.

    ``manager_of`` maps each user id to their line manager's id, as the accounts stand now.
    """
    if manager_id is None or user_id is None:
        return
    if manager_id == user_id:
        raise FieldError("line_manager", "A person cannot be their own line manager")
    seen = set()
    current = manager_id
    while current is not None and current not in seen:
        if current == user_id:
            raise FieldError(
                "line_manager",
                "That person reports to this one (directly or through others): choose someone "
                "outside their line",
            )
        seen.add(current)
        current = manager_of.get(current)


def check_still_an_admin(*, active_admin_ids: set[int], user_id: int, remains_admin: bool):
    """Refuse a change that would leave the partnership with no active administrator."""
    if not remains_admin and active_admin_ids <= {user_id}:
        raise InvalidRequest(
            "This is the only active administrator. Make someone else an administrator first, "
            "so that the partnership can still manage escalate."
        )


def check_name(
    value: str | None,
    *,
    field: str,
    what: str,
    limit: int = MAX_NAME_CHARACTERS,
    required: bool = True,
) -> str:
    """A one-line name (a person's, an agency's, a job title), its spaces tidied."""
    cleaned = " ".join((value or "").split())
    if not cleaned and required:
        raise FieldError(field, f"Enter {what}")
    if len(cleaned) > limit:
        raise FieldError(
            field, f"{what[0].upper()}{what[1:]} must be {limit} characters or fewer"
        )
    return cleaned


def check_email(value: str | None, *, field: str = "email") -> str:
    """An address mail can be sent to (checked by email-validator, without looking the domain
    up): no spaces, line breaks or header text, a domain with a dot. Returned as stored."""
    cleaned = normalise_email(value)
    if not cleaned:
        raise FieldError(field, "Enter an email address")
    try:
        checked = email_validator.validate_email(cleaned, check_deliverability=False)
    except email_validator.EmailNotValidError:
        checked = None
    if checked is None or len(checked.normalized) > MAX_EMAIL_CHARACTERS:
        raise FieldError(
            field, "Enter an email address in the correct format, like name@example.org"
        )
    return checked.normalized.lower()


def agency_kind(value: str | None) -> AgencyKind:
    """An agency kind from its stored value or its label, ignoring case ("Police", "police")."""
    wanted = " ".join((value or "").replace("_", " ").split()).lower()
    for kind in AgencyKind:
        if wanted in (kind.value.replace("_", " "), kind.label.lower()):
            return kind
    allowed = "; ".join(kind.label for kind in AgencyKind)
    raise FieldError("kind", f"Choose the kind of agency: one of {allowed}")


# --- One-time links to set a password ----------------------------------------------------

INVITATION_LIFETIME = timedelta(days=7)


def new_token() -> str:
    """A random, unguessable token for a one-time link (256 bits)."""
    return secrets.token_urlsafe(32)


def invitation_token(secret_key: str, nonce: str) -> str:
    """The token of a one-time link, made from the invitation's random ``nonce`` and the
    application's SECRET_KEY (an HMAC-SHA256, 256 bits).

    Whoever creates the link and whoever emails it later make the same token, so it need not
    be stored anywhere: the database keeps the nonce and the token's hash, and neither opens the
    account without the key (which can already sign anyone's session).
    """
    digest = hmac.new(
        secret_key.encode(), b"escalate set-password link\0" + nonce.encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, so a copy of the database opens no account."""
    return hashlib.sha256((token or "").encode()).hexdigest()


def invitation_problem(*, used_at, expires_at, user_active: bool, now: datetime) -> str | None:
    """Why an invitation link cannot be used now ("used", "expired", "inactive"), or None."""
    if used_at is not None:
        return "used"
    if not user_active:
        return "inactive"
    if now >= expires_at:
        return "expired"
    return None
