"""When a signed-in session stops being valid: the rules, apart from Flask.

A session records, at sign-in, the account's session version and the time; each request records
when it was last used. The session ends when the account's version has moved on (signed out,
new password, deactivated, reactivated), when it has not been used for the idle timeout, or
when it is older than its lifetime, whatever happens.
"""

from datetime import datetime, timedelta

VERSION = "session_version"
SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"
METHOD = "signed_in_with"
PENDING = "second_step"
# How a session was begun. A session from before this was recorded counts as a password alone.
PASSWORD = "password"  # noqa: S105 (a way of signing in, not a password)
TWO_FACTOR = "password and code"
SINGLE_SIGN_ON = "single sign-on"
# Recording every request's time would rewrite the cookie on every response; a minute's
# precision is enough for a timeout counted in minutes.
SEEN_PRECISION = timedelta(minutes=1)


def started(now: datetime, version: int, method: str) -> dict:
    """What a new session keeps about itself."""
    stamp = int(now.timestamp())
    return {VERSION: version, SIGNED_IN_AT: stamp, SEEN_AT: stamp, METHOD: method}


def method(stored) -> str:
    """How the session described by ``stored`` was begun."""
    found = stored.get(METHOD)
    return found if found in (TWO_FACTOR, SINGLE_SIGN_ON) else PASSWORD


def second_step(now: datetime, user_id: int, account: str, next_page: str | None) -> dict:
    """What a session keeps between a right password and the code that completes the sign-in:
    not signed in yet."""
    return {PENDING: {"user": user_id, "at": int(now.timestamp()), "account": account,
                      "next": next_page}}


def awaiting_code(stored, now: datetime, within: timedelta) -> dict | None:
    """The sign-in waiting for its code (user, account, next), or None when there is none or
    it was begun too long ago."""
    pending = stored.get(PENDING)
    try:
        user_id, at = int(pending["user"]), float(pending["at"])
    except (KeyError, TypeError, ValueError):
        return None
    if not 0 <= now.timestamp() - at < within.total_seconds():
        return None
    return {"user": user_id, "account": str(pending.get("account") or ""),
            "next": pending.get("next")}


def ended(
    stored, *, version: int, now: datetime, idle: timedelta, lifetime: timedelta
) -> str | None:
    """Why the session described by ``stored`` has ended ("revoked", "idle", "expired"), or None
    if it is still valid at ``now``. A session from before these rules counts as revoked."""
    try:
        stored_version = stored[VERSION]
        signed_in_at = float(stored[SIGNED_IN_AT])
        seen_at = float(stored[SEEN_AT])
    except (KeyError, TypeError, ValueError):
        return "revoked"
    if stored_version != version:
        return "revoked"
    moment = now.timestamp()
    if moment - signed_in_at >= lifetime.total_seconds():
        return "expired"
    if moment - seen_at >= idle.total_seconds():
        return "idle"
    return None


def seen(stored, now: datetime) -> bool:
    """True when the session's last-used time should be brought up to ``now``."""
    try:
        return now.timestamp() - float(stored[SEEN_AT]) >= SEEN_PRECISION.total_seconds()
    except (KeyError, TypeError, ValueError):
        return True
