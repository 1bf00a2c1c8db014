"""Configuration from the environment: clear messages, nothing started on bad settings."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from escalate.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        load_config(str(tmp_path), {"ESCALATE_ENV": "production"})


def test_production_is_the_default(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(str(tmp_path), {})


def test_production_refuses_a_short_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="too short"):
        load_config(str(tmp_path), {"ESCALATE_ENV": "production", "SECRET_KEY": "abc"})


def test_development_generates_a_private_key_once_and_keeps_it(tmp_path):
    first = load_config(str(tmp_path), {"ESCALATE_ENV": "development"})
    key_file = tmp_path / "secret_key"
    assert key_file.read_text() == first["SECRET_KEY"]
    assert len(first["SECRET_KEY"]) >= 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = load_config(str(tmp_path), {"ESCALATE_ENV": "development"})
    assert second["SECRET_KEY"] == first["SECRET_KEY"]


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    config = load_config(str(tmp_path), {"ESCALATE_ENV": "development"})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/escalate.sqlite"


@pytest.mark.parametrize(
    "given, expected",
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_postgres_urls_use_psycopg(tmp_path, given, expected):
    config = load_config(str(tmp_path), {"ESCALATE_ENV": "development", "DATABASE_URL": given})
    assert config["SQLALCHEMY_DATABASE_URI"] == expected


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL is not a database URL"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "escalate supports PostgreSQL"),
        ({"ESCALATE_ENV": "staging"}, "ESCALATE_ENV must be one of development, production"),
        ({"SESSION_COOKIE_SECURE": "perhaps"}, "SESSION_COOKIE_SECURE must be true or false"),
    ],
)
def test_bad_configuration_gets_a_clear_message(tmp_path, environ, message):
    with pytest.raises(ConfigError, match=message):
        load_config(str(tmp_path), {"ESCALATE_ENV": "development", **environ})


PRODUCTION = {
    "ESCALATE_ENV": "production",
    "SECRET_KEY": "k" * 40,
    "HISTORY_KEY": "h" * 40,
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
}


def test_production_refuses_to_start_without_a_history_key(tmp_path):
    with pytest.raises(ConfigError, match="HISTORY_KEY is not set"):
        load_config(str(tmp_path), {k: v for k, v in PRODUCTION.items() if k != "HISTORY_KEY"})
    with pytest.raises(ConfigError, match="HISTORY_KEY is too short"):
        load_config(str(tmp_path), {**PRODUCTION, "HISTORY_KEY": "short"})
    assert not (tmp_path / "history_key").exists()


def test_development_generates_a_history_key_apart_from_the_secret_key(tmp_path):
    first = load_config(str(tmp_path), {"ESCALATE_ENV": "development"})
    key_file = tmp_path / "history_key"
    assert key_file.read_text() == first["HISTORY_KEY"] != first["SECRET_KEY"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_config(str(tmp_path), {"ESCALATE_ENV": "development"})["HISTORY_KEY"] == (
        first["HISTORY_KEY"]
    )
    assert first["HISTORY_OLD_KEYS"] == ()
    assert first["HISTORY_CHECKPOINT_LOG"] == str(tmp_path / "history-checkpoints.jsonl")
    assert first["HISTORY_AUDITORS"] == ()


def test_history_settings_are_read_from_the_environment(tmp_path):
    config = load_config(
        str(tmp_path),
        {
            **PRODUCTION,
            "HISTORY_OLD_KEYS": "o" * 40 + ", " + "p" * 40,
            "HISTORY_CHECKPOINT_LOG": "/var/log/escalate/checkpoints.jsonl",
            "HISTORY_AUDITORS": "audit@scrutiny.example, Chair <chair@partnership.example>",
        },
    )
    assert config["HISTORY_KEY"] == "h" * 40
    assert config["HISTORY_OLD_KEYS"] == ("o" * 40, "p" * 40)
    assert config["HISTORY_CHECKPOINT_LOG"] == "/var/log/escalate/checkpoints.jsonl"
    assert config["HISTORY_AUDITORS"] == (
        "audit@scrutiny.example",
        "Chair <chair@partnership.example>",
    )
    with pytest.raises(ConfigError, match="HISTORY_AUDITORS must be email addresses"):
        load_config(str(tmp_path), {**PRODUCTION, "HISTORY_AUDITORS": "auditors"})


def test_session_cookies_are_httponly_samesite_and_secure_in_production(tmp_path):
    config = load_config(str(tmp_path), PRODUCTION)
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["SESSION_COOKIE_SECURE"] is True


def _run_wsgi(environ):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ESCALATE_ENV")}
    env.update(environ)
    return subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_the_server_will_not_start_in_production_without_a_key_and_says_why():
    result = _run_wsgi({"ESCALATE_ENV": "production"})
    assert result.returncode == 1
    assert "escalate cannot start: SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_server_will_not_start_in_production_without_a_history_key():
    result = _run_wsgi({"ESCALATE_ENV": "production", "SECRET_KEY": "k" * 40, "HISTORY_KEY": ""})
    assert result.returncode == 1
    assert "escalate cannot start: HISTORY_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_server_will_not_start_with_a_bad_database_url_and_says_why():
    result = _run_wsgi({"ESCALATE_ENV": "production", "SECRET_KEY": "k" * 40,
                        "DATABASE_URL": "oracle://x@y/z"})
    assert result.returncode == 1
    assert "escalate supports PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr


def test_email_settings_have_working_defaults(tmp_path):
    config = load_config(str(tmp_path), {"ESCALATE_ENV": "development"})
    assert config["MAIL_SERVER"] is None  # email is written to instance/mail
    assert config["EMAIL_LINK_ONLY"] is False
    assert config["EMAIL_MAX_ATTEMPTS"] == 8
    assert config["EMAIL_CLAIM_SECONDS"] == 300
    assert config["WORKER_INTERVAL"] == 15
    assert config["ESCALATE_BASE_URL"] == "http://127.0.0.1:5000"


def test_email_settings_are_read_from_the_environment(tmp_path):
    config = load_config(
        str(tmp_path),
        {
            "ESCALATE_ENV": "development",
            "EMAIL_LINK_ONLY": "yes",
            "EMAIL_MAX_ATTEMPTS": "3",
            "WORKER_INTERVAL": "60",
            "ESCALATE_BASE_URL": "https://rpd.northshire.example/",
            "MAIL_DEFAULT_SENDER": "Northshire partnership <rpd@northshire.example>",
        },
    )
    assert config["MAIL_DEFAULT_SENDER"] == "Northshire partnership <rpd@northshire.example>"
    assert config["EMAIL_LINK_ONLY"] is True
    assert (config["EMAIL_MAX_ATTEMPTS"], config["WORKER_INTERVAL"]) == (3, 60)
    assert config["ESCALATE_BASE_URL"] == "https://rpd.northshire.example"


def test_links_for_email_start_with_the_base_url_in_the_worker_and_in_a_request(tmp_path):
    from escalate import create_app, notify
    from escalate.extensions import db

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'escalate.sqlite'}",
            "ESCALATE_BASE_URL": "https://rpd.northshire.example/escalate",
        }
    )
    expected = "https://rpd.northshire.example/escalate/set-password/abc"
    with app.app_context():  # the worker: no request to take an address from
        assert notify.external_url("admin.set_password", token="abc") == expected
        assert notify.external_url("respond.show", reference="RPD-2026-00001") == (
            "https://rpd.northshire.example/escalate/differences/RPD-2026-00001"
        )
        db.engine.dispose()
    # A page behind a proxy that speaks plain http to the application, on another host name.
    with app.test_request_context("/admin", base_url="http://10.0.0.5:8000/escalate"):
        assert notify.external_url("admin.set_password", token="abc") == expected


def test_links_in_development_emails_use_the_port_make_run_was_given(tmp_path, monkeypatch):
    from escalate import create_app, notify
    from escalate.extensions import db

    assert load_config(str(tmp_path), {"ESCALATE_ENV": "development", "PORT": "8123"})[
        "ESCALATE_BASE_URL"
    ] == "http://127.0.0.1:8123"
    # `make run PORT=8123` exports PORT to the web server and to the worker that sends email.
    monkeypatch.delenv("ESCALATE_BASE_URL", raising=False)
    monkeypatch.setenv("PORT", "8123")
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'escalate.sqlite'}"}
    )
    with app.app_context():
        assert notify.external_url("respond.show", reference="RPD-2026-00001") == (
            "http://127.0.0.1:8123/differences/RPD-2026-00001"
        )
        db.engine.dispose()
    # An address given outright wins over the port.
    assert load_config(
        str(tmp_path),
        {"ESCALATE_ENV": "development", "PORT": "8123", "ESCALATE_BASE_URL": "https://a.example"},
    )["ESCALATE_BASE_URL"] == "https://a.example"


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"EMAIL_LINK_ONLY": "sometimes"}, "EMAIL_LINK_ONLY must be true or false"),
        ({"EMAIL_MAX_ATTEMPTS": "0"}, "EMAIL_MAX_ATTEMPTS must be a whole number of attempts"),
        ({"EMAIL_MAX_ATTEMPTS": "eight"}, "EMAIL_MAX_ATTEMPTS must be a whole number"),
        ({"EMAIL_CLAIM_SECONDS": "-5"}, "EMAIL_CLAIM_SECONDS must be a whole number of seconds"),
        ({"WORKER_INTERVAL": "1.5"}, "WORKER_INTERVAL must be a whole number of seconds"),
        ({"ESCALATE_BASE_URL": "rpd.northshire.example"}, "ESCALATE_BASE_URL must be the address"),
        ({"MAIL_PORT": "smtp"}, "MAIL_PORT must be a port number"),
        ({"PORT": "80800"}, "PORT must be a port number from 1 to 65535"),
        ({"PORT": "http"}, "PORT must be a port number"),
        ({"MAIL_DEFAULT_SENDER": "escalate"}, "MAIL_DEFAULT_SENDER must be one email address"),
        ({"MAIL_DEFAULT_SENDER": "a@x.org, b@x.org"}, "MAIL_DEFAULT_SENDER must be one"),
        ({"MAIL_DEFAULT_SENDER": "RPD <rpd@x.org"}, "MAIL_DEFAULT_SENDER must be one"),
        ({"MAIL_USE_TLS": "true", "MAIL_USE_SSL": "true"}, "Set MAIL_USE_TLS or MAIL_USE_SSL"),
    ],
)
def test_bad_email_settings_get_a_clear_message(tmp_path, environ, message):
    with pytest.raises(ConfigError, match=message):
        load_config(str(tmp_path), {"ESCALATE_ENV": "development", **environ})
