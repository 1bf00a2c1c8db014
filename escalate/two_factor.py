"""Two-factor sign-in: codes from an authenticator app (TOTP, RFC 6238) and single-use recovery
codes. Pure: no Flask, no database; the clock is a parameter."""

import hashlib
import hmac
import re
import secrets
from datetime import datetime

import pyotp

from escalate.wording import RECOVERY_CODE_COUNT, TWO_FACTOR_ISSUER

STEP_SECONDS = 30  # what every authenticator app uses
WINDOW = 1  # steps either side of now: a phone's clock may be a little out
_APP_CODE = re.compile(r"\d{6}")
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_RECOVERY_LENGTH = 10  # 10 characters of 31: about 50 bits each


def new_secret() -> str:
    """A new shared secret for an authenticator app (base32, 160 bits)."""
    return pyotp.random_base32()


def setup_address(secret: str, email: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TWO_FACTOR_ISSUER)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def step_at(now: datetime) -> int:
    """The time step (of 30 seconds) that ``now`` falls in."""
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The app's six-digit code for a time step."""
    return pyotp.TOTP(secret).generate_otp(step)


def tidy(code: str | None) -> str:
    """A code as typed, without the spaces and dashes people put in, lower-cased."""
    return re.sub(r"[\s\-]", "", code or "").lower()


def is_app_code(code: str | None) -> bool:
    return bool(_APP_CODE.fullmatch(tidy(code)))


def matching_step(
    secret: str, code: str | None, now: datetime, last_step: int | None
) -> int | None:
    """The time step whose code ``code`` is, within one step either side of ``now`` and after
    ``last_step`` (the step of the last code accepted: no code is accepted twice); else None."""
    typed = tidy(code)
    if not _APP_CODE.fullmatch(typed):
        return None
    current = step_at(now)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(code_at(secret, step), typed):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten single-use recovery codes, like ``k7qm2-x9w4p``."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def recovery_hash(code: str | None) -> str:
    """What is stored of a recovery code: the SHA-256 of the code as tidied (a copy of the
    database gives none of them away)."""
    return hashlib.sha256(tidy(code).encode("utf-8", "replace")).hexdigest()
