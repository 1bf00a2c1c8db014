"""Sign-in limits: failed sign-ins only, counted per account whatever the address and per address
(generously: a school is one address), in one store that every web process shares; the client's
address from the trusted proxies only."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

from escalate.config import ConfigError, load_config
from escalate.extensions import db
from escalate.models import Role
from tests import factories
from tests.conftest import make_app, persist, submit

REDIS_URL = os.environ.get("TEST_REDIS_URL", "").strip()
ROOT = Path(__file__).resolve().parent.parent


def limited_app(database_url, **config):
    settings = {
        "RATELIMIT_ENABLED": True,
        "SIGN_IN_LIMIT_PER_ACCOUNT": "10 per 15 minutes",
        "SIGN_IN_LIMIT_PER_ADDRESS": "60 per 15 minutes",
    }
    return make_app(database_url, **(settings | config))


@pytest.fixture
def accounts(app):
    return persist(app, lambda: [factories.user(Role.PRACTITIONER) for _ in range(8)])


def attempt(app, user, password, address="192.0.2.10", headers=None):
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    response = submit(
        browser,
        "/sign-in",
        {"email": user.email, "password": password},
        headers=headers or {},
    )
    return response.status_code


def close(app):
    with app.app_context():
        db.engine.dispose()


def test_failures_are_counted_per_account_whatever_the_address(database_url, accounts):
    limited = limited_app(database_url)
    target, other = accounts[0], accounts[1]
    statuses = [
        attempt(limited, target, "wrong guess", address=f"198.51.100.{n}") for n in range(11)
    ]
    assert statuses == [200] * 10 + [429]
    # Even the right password waits: the account is being guessed at.
    assert attempt(limited, target, factories.PASSWORD, address="203.0.113.9") == 429
    assert attempt(limited, other, factories.PASSWORD, address="198.51.100.1") == 302
    close(limited)


def test_one_person_failing_does_not_lock_out_everyone_at_the_same_address(database_url, accounts):
    limited = limited_app(database_url)
    careless, colleague = accounts[0], accounts[1]
    assert [attempt(limited, careless, "wrong") for _ in range(11)][-1] == 429
    assert attempt(limited, colleague, factories.PASSWORD) == 302
    close(limited)


def test_successful_sign_ins_are_not_counted(database_url, accounts):
    limited = limited_app(database_url, SIGN_IN_LIMIT_PER_ADDRESS="10 per 15 minutes")
    user = accounts[0]
    assert [attempt(limited, user, factories.PASSWORD) for _ in range(15)] == [302] * 15
    assert [attempt(limited, user, "wrong") for _ in range(10)] == [200] * 10
    assert attempt(limited, user, "wrong") == 429
    close(limited)


def test_an_address_trying_many_accounts_is_stopped(database_url, accounts):
    limited = limited_app(database_url, SIGN_IN_LIMIT_PER_ADDRESS="20 per 15 minutes")
    statuses = [attempt(limited, accounts[n % 8], "wrong") for n in range(21)]
    assert statuses == [200] * 20 + [429]
    assert attempt(limited, accounts[0], "wrong", address="192.0.2.99") == 200
    close(limited)


def test_the_client_address_comes_from_trusted_proxies_only(database_url, accounts):
    user = accounts[0]
    behind_proxy = limited_app(
        database_url, TRUSTED_PROXIES=1, SIGN_IN_LIMIT_PER_ADDRESS="5 per 15 minutes"
    )
    # Everyone arrives from the proxy's address; X-Forwarded-For tells them apart.
    for n in range(5):
        assert attempt(
            behind_proxy, accounts[n], "wrong", "10.0.0.1", {"X-Forwarded-For": "192.0.2.1"}
        ) == 200
    assert attempt(
        behind_proxy, user, "wrong", "10.0.0.1", {"X-Forwarded-For": "192.0.2.1"}
    ) == 429
    assert attempt(
        behind_proxy, user, factories.PASSWORD, "10.0.0.1", {"X-Forwarded-For": "192.0.2.2"}
    ) == 302
    close(behind_proxy)

    direct = limited_app(database_url, SIGN_IN_LIMIT_PER_ADDRESS="5 per 15 minutes")
    # Without a trusted proxy the header is the client's own claim, and changes nothing.
    for n in range(5):
        assert attempt(
            direct, accounts[n], "wrong", "192.0.2.7", {"X-Forwarded-For": f"198.51.100.{n}"}
        ) == 200
    assert attempt(
        direct, user, factories.PASSWORD, "192.0.2.7", {"X-Forwarded-For": "203.0.113.1"}
    ) == 429
    close(direct)


# --- One count for every process ----------------------------------------------------------------


@pytest.fixture
def shared_store():
    """The Redis that `make test` and CI use (TEST_REDIS_URL): unset or unreachable is a
    failure, never a skip."""
    if not REDIS_URL:
        pytest.fail("TEST_REDIS_URL is not set: `make test` sets it to the local Redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"TEST_REDIS_URL={REDIS_URL} cannot be reached: {error}")
    yield REDIS_URL
    client.close()


PROCESS = """
import json, sys
from tests.conftest import make_app, submit
database_url, storage, prefix, email, count = sys.argv[1:]
app = make_app(database_url, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=storage,
               RATELIMIT_KEY_PREFIX=prefix, RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=False,
               SIGN_IN_LIMIT_PER_ACCOUNT="10 per 15 minutes")
statuses = [submit(app.test_client(), "/sign-in", {"email": email, "password": "wrong"}).status_code
            for _ in range(int(count))]
print(json.dumps(statuses))
"""


def web_process(database_url, storage, prefix, email, count) -> list[int]:
    """Failed sign-ins made by a separate process (as each gunicorn worker is)."""
    result = subprocess.run(
        [sys.executable, "-c", PROCESS, database_url, storage, prefix, email, str(count)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_process_counts_in_the_same_store(database_url, accounts, shared_store):
    prefix = f"test-{uuid.uuid4().hex}"
    email = accounts[0].email
    first = web_process(database_url, shared_store, prefix, email, 6)
    second = web_process(database_url, shared_store, prefix, email, 6)
    assert first + second == [200] * 10 + [429] * 2
    cleanup = redis.Redis.from_url(shared_store)
    for key in cleanup.scan_iter(f"*{prefix}*"):
        cleanup.delete(key)
    cleanup.close()


def test_memory_stores_in_separate_processes_each_allow_the_limit(database_url, accounts):
    # Why production refuses memory://: each process counts alone.
    email = accounts[0].email
    first = web_process(database_url, "memory://", "p", email, 6)
    second = web_process(database_url, "memory://", "p", email, 6)
    assert first + second == [200] * 12


# --- Settings -----------------------------------------------------------------------------------

PRODUCTION = {"ESCALATE_ENV": "production", "SECRET_KEY": "k" * 40, "HISTORY_KEY": "h" * 40}


@pytest.mark.parametrize("uri", [None, "", "memory://"])
def test_production_needs_a_store_every_process_shares(tmp_path, uri):
    environ = dict(PRODUCTION) if uri is None else {**PRODUCTION, "RATELIMIT_STORAGE_URI": uri}
    with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URI must name storage that every"):
        load_config(str(tmp_path), environ)


def test_development_counts_in_memory_and_production_in_redis(tmp_path):
    assert load_config(str(tmp_path), {"ESCALATE_ENV": "development"})[
        "RATELIMIT_STORAGE_URI"
    ] == "memory://"
    config = load_config(
        str(tmp_path), {**PRODUCTION, "RATELIMIT_STORAGE_URI": "redis://cache.internal:6379/2"}
    )
    assert config["RATELIMIT_STORAGE_URI"] == "redis://cache.internal:6379/2"
    assert config["TRUSTED_PROXIES"] == 0


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"RATELIMIT_STORAGE_URI": "postgres://x"}, "RATELIMIT_STORAGE_URI must be a storage"),
        ({"SIGN_IN_LIMIT_PER_ACCOUNT": "ten a minute"}, "SIGN_IN_LIMIT_PER_ACCOUNT must be a"),
        ({"SIGN_IN_LIMIT_PER_ADDRESS": "5 per fortnight"}, "SIGN_IN_LIMIT_PER_ADDRESS must be"),
        ({"TRUSTED_PROXIES": "-1"}, "TRUSTED_PROXIES must be a whole number of proxies"),
        ({"TRUSTED_PROXIES": "9"}, "TRUSTED_PROXIES must be a whole number of proxies"),
    ],
)
def test_bad_limit_settings_get_a_clear_message(tmp_path, environ, message):
    with pytest.raises(ConfigError, match=message):
        load_config(str(tmp_path), {"ESCALATE_ENV": "development", **environ})
