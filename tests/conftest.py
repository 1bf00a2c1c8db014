"""Fixtures. Every database test runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set."""

import os
import re
from html import unescape as html_unescape

import pytest
import sqlalchemy as sa

# The suite never reads a developer's configuration or writes a key into the instance folder.
os.environ["ESCALATE_ENV"] = "development"
os.environ["SECRET_KEY"] = "test-secret-key-that-is-long-enough-for-production-0123"
os.environ["HISTORY_KEY"] = "test-history-key-that-is-long-enough-for-production-4567"
os.environ.pop("HISTORY_OLD_KEYS", None)
os.environ.pop("HISTORY_AUDITORS", None)
os.environ.pop("DATABASE_URL", None)

from escalate import create_app, services  # noqa: E402
from escalate.extensions import db  # noqa: E402
from escalate.models import Base  # noqa: E402
from tests import factories  # noqa: E402

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
DATABASES = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
_postgres_schema_ready = False


def pytest_report_header(config):
    return "databases: " + ", ".join(DATABASES)


def _drop_everything(engine) -> None:
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


def _reset_postgres(engine) -> None:
    """Create the schema on first use, then empty every table between tests (fast and thorough)."""
    global _postgres_schema_ready
    if not _postgres_schema_ready:
        _drop_everything(engine)
        Base.metadata.create_all(engine)
        _postgres_schema_ready = True
    names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'escalate.sqlite'}"
    return POSTGRES_URL


def make_app(database_url: str, **overrides):
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": "escalate.test",
        # No test reads or writes the instance folder's checkpoints (the fixtures give a file).
        "HISTORY_CHECKPOINT_LOG": os.devnull,
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app_config():
    """Overrides for one test's application (a test or module redefines it)."""
    return {}


def checkpoint_log(tmp_path) -> dict:
    """Each test's history checkpoints go to its own file, never the instance folder."""
    return {"HISTORY_CHECKPOINT_LOG": str(tmp_path / "history-checkpoints.jsonl")}


@pytest.fixture
def bare_app(database_url, app_config, tmp_path):
    """The application with an empty database that has no tables (for migration tests)."""
    global _postgres_schema_ready
    app = make_app(database_url, **{**checkpoint_log(tmp_path), **app_config})
    with app.app_context():
        _drop_everything(db.engine)
    _postgres_schema_ready = False
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(database_url, app_config, tmp_path):
    app = make_app(database_url, **{**checkpoint_log(tmp_path), **app_config})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            _reset_postgres(db.engine)
        else:
            Base.metadata.create_all(db.engine)
        services.setup.install_defaults()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def persist(app, build):
    """Run build() in its own application context, commit, and return its result detached.

    Tests that also make requests use this instead of `ctx`, so that every request reads the
    database afresh as it would in production.
    """
    with app.app_context():
        made = build()
        db.session.commit()
        for item in made if isinstance(made, tuple | list) else (made,):
            db.session.refresh(item)
            db.session.expunge(item)
        db.session.remove()
    return made


@pytest.fixture
def ctx(app):
    """An application context, for tests that call services directly (and make no requests)."""
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "the page has no CSRF token field"
    return match.group(1)


HIDDEN_INPUT = re.compile(r"<input\b[^>]*\btype=\"hidden\"[^>]*>")
ATTRIBUTE = re.compile(r'\b(name|value)="([^"]*)"')


def hidden_fields(html: str) -> dict:
    """The hidden inputs of a page (CSRF token, the version of a difference…), as a browser
    would send them back."""
    fields = {}
    for tag in HIDDEN_INPUT.findall(html):
        attributes = dict(ATTRIBUTE.findall(tag))
        if "name" in attributes:
            fields.setdefault(attributes["name"], html_unescape(attributes.get("value", "")))
    return fields


def submit(client, url: str, data: dict, *, form_page: str | None = None, **kwargs):
    """Post a form the way a browser would: load the page first and send its hidden fields
    (the CSRF token, the version of the difference shown) back with the answers."""
    page = client.get(form_page or url)
    assert page.status_code == 200, f"{form_page or url} answered {page.status_code}"
    html = page.get_data(as_text=True)
    payload = {**hidden_fields(html), "csrf_token": csrf_token_from(html), **data}
    return client.post(url, data=payload, **kwargs)


def sign_in(client, user, password: str = factories.PASSWORD):
    response = submit(client, "/sign-in", {"email": user.email, "password": password})
    assert response.status_code == 302, "sign-in did not succeed"
    return response


@pytest.fixture
def login(client):
    """login(user): sign the test client in as user, through the real sign-in form."""

    def _login(user, password: str = factories.PASSWORD):
        return sign_in(client, user, password)

    return _login


@pytest.fixture
def signed_in_as(app, client):
    """signed_in_as(role, **fields): create a user with that role and sign the client in."""

    def _signed_in_as(role, **fields):
        user = persist(app, lambda: factories.user(role=role, **fields))
        sign_in(client, user)
        return user

    return _signed_in_as


@pytest.fixture
def people(app):
    """The small test partnership of tests/partnership.py, as plain ids, emails and names."""
    from tests import partnership

    with app.app_context():
        built = partnership.build()
        db.session.commit()
        result = partnership.ids(built)
        db.session.remove()
    return result


@pytest.fixture
def client_for(app):
    """client_for(person): a new browser session signed in as that person."""

    def _client_for(person):
        browser = app.test_client()
        sign_in(browser, person)
        return browser

    return _client_for
