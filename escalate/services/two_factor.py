"""Two-factor sign-in: setting up an authenticator app, checking the code that completes a
password sign-in, and an administrator's reset. The rules of the codes are in
escalate.two_factor; who must use them in escalate.policy."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from escalate import two_factor
from escalate.extensions import db
from escalate.models import RecoveryCode, User
from escalate.queries.setup import get_user
from escalate.services._records import record_admin_change, require_admin
from escalate.services.accounts import end_sessions
from escalate.workflow import FieldError, InvalidRequest

WRONG_SETUP_CODE = (
    "Enter the 6-digit code your authenticator app shows now for escalate "
    "(check the app has added the key, and that the phone's clock is right)"
)


def _locked_user(user_id: int) -> User:
    # Locked, so that two sign-ins with the same code at the same moment cannot both succeed.
    user = db.session.scalar(sa.select(User).where(User.id == user_id).with_for_update())
    if user is None:
        raise InvalidRequest("Account not found.")
    return user


def set_up(user_id: int, secret: str, code: str | None, now: datetime) -> list[str]:
    """Start using the authenticator app that holds ``secret``, once ``code`` from it proves
    the app has it. Replaces any earlier app and recovery codes; returns the new recovery codes
    (shown once: only their hashes are kept)."""
    user = _locked_user(user_id)
    if not secret or len(secret) > 64:
        raise InvalidRequest("Start setting up two-factor sign-in again.")
    step = two_factor.matching_step(secret, code, now, None)
    if step is None:
        raise FieldError("code", WRONG_SETUP_CODE)
    had_it = user.has_two_factor
    user.totp_secret = secret
    user.totp_last_step = step
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = two_factor.new_recovery_codes()
    db.session.add_all(
        RecoveryCode(user_id=user.id, code_hash=two_factor.recovery_hash(code)) for code in codes
    )
    record_admin_change(
        user,
        now,
        entity="user",
        entity_id=user.id,
        action="two-factor set up",
        summary=f"{user.name} ({user.email}) set up two-factor sign-in"
        + (" with a new app" if had_it else ""),
        before={"two-factor sign-in": "on" if had_it else "off"},
        after={"two-factor sign-in": "on"},
    )
    db.session.commit()
    return codes


@dataclass(frozen=True)
class CodeAccepted:
    """A code that completed a sign-in: from the app, or a recovery code (and how many are
    left)."""

    recovery: bool
    recovery_codes_left: int


def check_code(user_id: int, code: str | None, now: datetime) -> CodeAccepted | None:
    """Accept ``code`` for the account, once: a code from its app within a step of now and
    newer than the last one accepted, or one of its unused recovery codes (then used up).
    None when the code is not right."""
    user = _locked_user(user_id)
    if not user.active or not user.has_two_factor:
        db.session.rollback()
        return None
    if two_factor.is_app_code(code):
        step = two_factor.matching_step(user.totp_secret, code, now, user.totp_last_step)
        if step is None:
            db.session.rollback()
            return None
        user.totp_last_step = step
        db.session.commit()
        return CodeAccepted(recovery=False, recovery_codes_left=-1)
    unused = db.session.scalars(
        sa.select(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    ).all()
    typed = two_factor.recovery_hash(code)
    match = next((c for c in unused if c.code_hash == typed), None)
    if match is None:
        db.session.rollback()
        return None
    match.used_at = now
    record_admin_change(
        user,
        now,
        entity="user",
        entity_id=user.id,
        action="recovery code used",
        summary=f"{user.name} ({user.email}) signed in with a recovery code "
        f"({len(unused) - 1} left)",
    )
    db.session.commit()
    return CodeAccepted(recovery=True, recovery_codes_left=len(unused) - 1)


def reset(actor: User | None, user_id: int, now: datetime) -> User:
    """Turn off a person's two-factor sign-in (a lost phone): their app and recovery codes stop
    working, their sessions end, and they set up a new app the next time they sign in with a
    password (if they must have one)."""
    require_admin(actor)
    user = get_user(user_id)
    if not user.has_two_factor:
        raise InvalidRequest(f"{user.name} has not set up two-factor sign-in.")
    user.totp_secret = None
    user.totp_last_step = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    end_sessions(user)
    record_admin_change(
        actor,
        now,
        entity="user",
        entity_id=user.id,
        action="two-factor reset",
        summary=f"Two-factor sign-in of {user.name} ({user.email}) reset",
        before={"two-factor sign-in": "on"},
        after={"two-factor sign-in": "off"},
    )
    db.session.commit()
    return user
