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
# Recording every request's time would rewrite the cookie on every response; a minute's
# precision is enough for a timeout counted in minutes.
SEEN_PRECISION = timedelta(minutes=1)


def started(now: datetime, version: int) -> dict:
    """What a new session keeps about itself."""
    stamp = int(now.timestamp())
    return {VERSION: version, SIGNED_IN_AT: stamp, SEEN_AT: stamp}


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
