"""Configuration from environment variables.

Everything a deployment sets comes from the environment; nothing secret lives in the repository.
Problems are reported as :class:`ConfigError` with a sentence a person can act on.
"""

import os
import re
import secrets
from datetime import UTC, datetime
from email.policy import default as email_policy
from pathlib import Path
from urllib.parse import urlsplit

import limits
import limits.storage
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ENVIRONMENTS = ("development", "production")


class ConfigError(Exception):
    """The environment does not describe a configuration escalate can run with."""


def _flag(environ, name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false (got {raw!r}).")


def _whole_number(
    environ, name: str, default: int, *, minimum: int, maximum: int, unit: str
) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not minimum <= int(raw) <= maximum:
        raise ConfigError(
            f"{name} must be a whole number of {unit} from {minimum} to {maximum:,} "
            f"(got {raw!r})."
        )
    return int(raw)


def _mail_sender(environ) -> str:
    raw = environ.get("MAIL_DEFAULT_SENDER", "").strip() or "escalate@localhost"
    header = email_policy.header_factory("From", raw)
    if header.defects or len(header.addresses) != 1 or not header.addresses[0].domain:
        raise ConfigError(
            "MAIL_DEFAULT_SENDER must be one email address, like rpd@northshire.example or "
            f"Northshire partnership <rpd@northshire.example> (got {raw!r})."
        )
    return raw


def _base_url(environ) -> str:
    raw = environ.get("ESCALATE_BASE_URL", "").strip() or f"http://127.0.0.1:{_port(environ)}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            "ESCALATE_BASE_URL must be the address people use to reach escalate, starting with "
            f"https:// (for example https://escalate.example.org); got {raw!r}."
        )
    return raw.rstrip("/")


def _port(environ) -> int:
    """The port `make run` serves on (PORT, 5000 unless set): without ESCALATE_BASE_URL, links in
    emails point there, so they work whatever port the development server was given."""
    text = environ.get("PORT", "").strip() or "5000"
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"PORT must be a port number from 1 to 65535 (got {text!r}).")
    return int(text)


def url_settings(base_url: str) -> dict:
    """Flask's settings for building addresses outside a request, from ESCALATE_BASE_URL.

    The worker emails links with ``url_for(..., _external=True)`` and has no request to take a
    host from: these make those links start with the address people use to reach escalate.
    """
    parts = urlsplit(base_url)
    return {
        "SERVER_NAME": parts.netloc,
        "APPLICATION_ROOT": parts.path.rstrip("/") or "/",
        "PREFERRED_URL_SCHEME": parts.scheme,
    }


def _rate_limit_storage(environ, production: bool) -> str:
    """Where sign-in attempts are counted. Every web process must count in the same place, or
    each process allows the limit again: in production that is a shared store such as Redis."""
    raw = environ.get("RATELIMIT_STORAGE_URI", "").strip()
    scheme = urlsplit(raw).scheme
    if raw and scheme not in limits.storage.SCHEMES:
        raise ConfigError(
            f"RATELIMIT_STORAGE_URI must be a storage address such as redis://127.0.0.1:6379/0 "
            f"(got {raw!r})."
        )
    if production and (not raw or scheme == "memory"):
        raise ConfigError(
            "RATELIMIT_STORAGE_URI must name storage that every web process shares, such as "
            "redis://127.0.0.1:6379/0: with memory:// each process counts sign-in attempts "
            "on its own and lets the limit through again."
        )
    return raw or "memory://"


def _limit(environ, name: str, default: str) -> str:
    raw = environ.get(name, "").strip() or default
    try:
        limits.parse_many(raw)
    except ValueError:
        raise ConfigError(
            f"{name} must be a rate such as {default!r} (got {raw!r})."
        ) from None
    return raw


def _development_secret_key(instance_path: str, name: str = "secret_key") -> str:
    """Return a development key kept in the instance folder, creating it on first run."""
    path = Path(instance_path) / name
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Readable by the owner only: the keys sign session cookies and seal the history.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def _history_keys(environ, instance_path: str, production: bool) -> tuple[str, tuple[str, ...]]:
    """The key that seals new history events, and the earlier keys kept to verify old ones."""
    key = environ.get("HISTORY_KEY", "").strip()
    if not key:
        if production:
            raise ConfigError(
                "HISTORY_KEY is not set. In production escalate seals every history event with "
                "a key kept outside the database: set HISTORY_KEY to 32 or more random "
                "characters (for example the output of: "
                "python -c 'import secrets; print(secrets.token_hex(32))') and keep a copy "
                "somewhere safe."
            )
        key = _development_secret_key(instance_path, "history_key")
    elif production and len(key) < 32:
        raise ConfigError("HISTORY_KEY is too short: use at least 32 random characters.")
    old = tuple(k for k in environ.get("HISTORY_OLD_KEYS", "").replace(",", " ").split() if k)
    return key, old


def _addresses(environ, name: str) -> tuple[str, ...]:
    raw = environ.get(name, "")
    found = tuple(part.strip() for part in raw.split(",") if part.strip())
    for address in found:
        header = email_policy.header_factory("To", address)
        if header.defects or len(header.addresses) != 1 or not header.addresses[0].domain:
            raise ConfigError(
                f"{name} must be email addresses separated by commas (got {address!r})."
            )
    return found


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _single_sign_on(environ) -> dict:
    """OpenID Connect single sign-on: the provider's issuer address and escalate's client id and
    secret there, all three or none."""
    issuer = environ.get("OIDC_ISSUER", "").strip().rstrip("/")
    client_id = environ.get("OIDC_CLIENT_ID", "").strip()
    secret = environ.get("OIDC_CLIENT_SECRET", "").strip()
    name = environ.get("OIDC_PROVIDER_NAME", "").strip()
    given = {"OIDC_ISSUER": issuer, "OIDC_CLIENT_ID": client_id, "OIDC_CLIENT_SECRET": secret}
    if not any(given.values()):
        return {"OIDC_ISSUER": None, "OIDC_CLIENT_ID": None, "OIDC_CLIENT_SECRET": None,
                "OIDC_PROVIDER_NAME": None}
    missing = [key for key, value in given.items() if not value]
    if missing:
        raise ConfigError(
            "Single sign-on needs OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET together: "
            f"set {' and '.join(missing)} too, or none of them."
        )
    parts = urlsplit(issuer)
    if not parts.hostname or not (
        parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)
    ):
        raise ConfigError(
            "OIDC_ISSUER must be the provider's issuer address, starting with https:// (for "
            "example https://login.microsoftonline.com/TENANT-ID/v2.0; http:// only for a "
            f"provider on this machine); got {issuer!r}."
        )
    if len(name) > 60:
        raise ConfigError("OIDC_PROVIDER_NAME must be at most 60 characters, like NHS CIS2.")
    return {"OIDC_ISSUER": issuer, "OIDC_CLIENT_ID": client_id, "OIDC_CLIENT_SECRET": secret,
            "OIDC_PROVIDER_NAME": name or None}


_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


def _domains(environ, name: str) -> tuple[str, ...]:
    """Email domains separated by commas or spaces, in lower case (``@nhs.net`` reads as
    ``nhs.net``)."""
    found = []
    for part in environ.get(name, "").replace(",", " ").split():
        domain = part.strip().lower().lstrip("@").rstrip(".")
        if not _DOMAIN.match(domain):
            raise ConfigError(
                f"{name} must be email domains separated by commas, like nhs.net, "
                f"northshire.gov.uk (got {part!r})."
            )
        found.append(domain)
    return tuple(dict.fromkeys(found))


def _database_url(environ, instance_path: str) -> str:
    url = environ.get("DATABASE_URL", "").strip()
    if not url:
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        return "sqlite:///" + str(Path(instance_path) / "escalate.sqlite")
    # SQLAlchemy removed the "postgres://" alias some hosting platforms still hand out.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            "DATABASE_URL is not a database URL. Use, for example, "
            "postgresql+psycopg://user:password@host:5432/escalate or sqlite:////path/escalate.sqlite"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"DATABASE_URL uses {parsed.get_backend_name()!r}; escalate supports PostgreSQL "
            "(postgresql+psycopg://…) and SQLite (sqlite:///…)."
        )
    return url


def load_config(instance_path: str, environ=None) -> dict:
    """Build the Flask configuration from ``environ`` (the process environment by default)."""
    environ = os.environ if environ is None else environ
    env = environ.get("ESCALATE_ENV", "production").strip().lower() or "production"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"ESCALATE_ENV must be one of {', '.join(ENVIRONMENTS)} (got {env!r}).")
    production = env == "production"

    secret_key = environ.get("SECRET_KEY", "").strip()
    if not secret_key:
        if production:
            raise ConfigError(
                "SECRET_KEY is not set. In production escalate needs a long random SECRET_KEY "
                "(for example the output of: "
                "python -c 'import secrets; print(secrets.token_hex(32))'). "
                "For local development set ESCALATE_ENV=development instead."
            )
        secret_key = _development_secret_key(instance_path)
    elif production and len(secret_key) < 32:
        raise ConfigError(
            "SECRET_KEY is too short: use at least 32 random characters in production."
        )

    history_key, old_history_keys = _history_keys(environ, instance_path, production)

    mail_server = environ.get("MAIL_SERVER", "").strip() or None
    use_tls = _flag(environ, "MAIL_USE_TLS", False)
    use_ssl = _flag(environ, "MAIL_USE_SSL", False)
    if use_tls and use_ssl:
        raise ConfigError("Set MAIL_USE_TLS or MAIL_USE_SSL, not both.")
    port_text = environ.get("MAIL_PORT", "").strip() or ("465" if use_ssl else "25")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"MAIL_PORT must be a port number from 1 to 65535 (got {port_text!r}).")

    return {
        "ESCALATE_ENV": env,
        "MAIL_SERVER": mail_server,
        "MAIL_PORT": int(port_text),
        "MAIL_USE_TLS": use_tls,
        "MAIL_USE_SSL": use_ssl,
        "MAIL_USERNAME": environ.get("MAIL_USERNAME", "").strip() or None,
        "MAIL_PASSWORD": environ.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": _mail_sender(environ),
        # Links in emails point here (the address people use to reach the service); SERVER_NAME,
        # APPLICATION_ROOT and PREFERRED_URL_SCHEME follow from it (url_settings).
        "ESCALATE_BASE_URL": _base_url(environ),
        # An object with send(message) to use instead of the sender MAIL_SERVER describes (tests).
        "EMAIL_SENDER": None,
        # "There is an update on RPD-…, sign in to read it": for partnerships without secure email.
        "EMAIL_LINK_ONLY": _flag(environ, "EMAIL_LINK_ONLY", False),
        # Addresses at these domains, or their subdomains, are sent whole messages; every other
        # address is sent only the reference and a link (notify.secure_address).
        "SECURE_EMAIL_DOMAINS": _domains(environ, "SECURE_EMAIL_DOMAINS"),
        # Tries before an email is marked failed and the partnership told (back-off 1, 2, 4… min).
        "EMAIL_MAX_ATTEMPTS": _whole_number(
            environ, "EMAIL_MAX_ATTEMPTS", 8, minimum=1, maximum=100, unit="attempts"
        ),
        # How long a worker holds an email it is sending before another may take it over (a
        # worker that died mid-send): longer than the SMTP timeout of 30 seconds.
        "EMAIL_CLAIM_SECONDS": _whole_number(
            environ, "EMAIL_CLAIM_SECONDS", 300, minimum=1, maximum=86_400, unit="seconds"
        ),
        # The retention policy: the sweep anonymises a difference this many years after it
        # closed, keeping its figures and dates (services.retention).
        "RETENTION_YEARS": _whole_number(
            environ, "RETENTION_YEARS", 6, minimum=1, maximum=100, unit="years"
        ),
        # The sweep sends the partnership a weekly digest of what is open (once each week).
        "WEEKLY_DIGEST": _flag(environ, "WEEKLY_DIGEST", True),
        # Pause between rounds of `flask escalate worker`.
        "WORKER_INTERVAL": _whole_number(
            environ, "WORKER_INTERVAL", 15, minimum=1, maximum=86_400, unit="seconds"
        ),
        "SECRET_KEY": secret_key,
        # The history's seals (HMAC-SHA256): the key never goes into the database. Earlier keys
        # are kept to verify what they sealed (SECURITY.md, "Rotating the history key").
        "HISTORY_KEY": history_key,
        "HISTORY_OLD_KEYS": old_history_keys,
        # Signed checkpoints of the history, one JSON line each, appended and never rewritten.
        "HISTORY_CHECKPOINT_LOG": environ.get("HISTORY_CHECKPOINT_LOG", "").strip()
        or str(Path(instance_path) / "history-checkpoints.jsonl"),
        # Who is emailed each day's checkpoint (addresses kept outside the database).
        "HISTORY_AUDITORS": _addresses(environ, "HISTORY_AUDITORS"),
        "SQLALCHEMY_DATABASE_URI": _database_url(environ, instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag(environ, "SESSION_COOKIE_SECURE", production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # No page takes a file: a request body beyond this is refused (413) before it is read.
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        # A session ends after this long without a request, and this long after signing in
        # whatever happens: machines are shared, and a browser left open must not stay signed in.
        "SESSION_IDLE_MINUTES": _whole_number(
            environ, "SESSION_IDLE_MINUTES", 30, minimum=1, maximum=1_440, unit="minutes"
        ),
        "SESSION_LIFETIME_HOURS": _whole_number(
            environ, "SESSION_LIFETIME_HOURS", 12, minimum=1, maximum=168, unit="hours"
        ),
        "RATELIMIT_ENABLED": _flag(environ, "RATELIMIT_ENABLED", True),
        "RATELIMIT_STORAGE_URI": _rate_limit_storage(environ, production),
        # If the shared store is down, count in each process rather than refuse every sign-in.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        # Failed sign-ins allowed, counted in the shared store: per account (whatever the
        # address) and per address (generous: a school or a hospital is one address).
        "SIGN_IN_LIMIT_PER_ACCOUNT": _limit(
            environ, "SIGN_IN_LIMIT_PER_ACCOUNT", "10 per 15 minutes"
        ),
        "SIGN_IN_LIMIT_PER_ADDRESS": _limit(
            environ, "SIGN_IN_LIMIT_PER_ADDRESS", "60 per 15 minutes"
        ),
        # Reverse proxies in front of escalate whose X-Forwarded-For and X-Forwarded-Proto are
        # believed: 0 when browsers reach escalate directly.
        "TRUSTED_PROXIES": _whole_number(
            environ, "TRUSTED_PROXIES", 0, minimum=0, maximum=5, unit="proxies"
        ),
        # Single sign-on (OpenID Connect): None when not configured.
        **_single_sign_on(environ),
        "SERVICE_NAME": "Resolve a professional difference",
        "CLOCK": lambda: datetime.now(UTC),
        "PARTNERSHIP_NAME": environ.get("PARTNERSHIP_NAME", "").strip() or None,
    }
