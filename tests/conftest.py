"""Fixtures. Every database test runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set.

Each database gets its schema once per session and is emptied before every test (then given the
default stage policy and settings). An application is built once for each database and
configuration, and lent to every test that asks for the same (see `app`).
"""

import datetime as dt
import decimal
import enum
import os
import re
import types
from collections import OrderedDict
from dataclasses import dataclass
from html import unescape as html_unescape

import pytest
import sqlalchemy as sa

# The suite never reads a developer's configuration or writes a key into the instance folder.
os.environ["ESCALATE_ENV"] = "development"
os.environ["SECRET_KEY"] = "test-secret-key-that-is-long-enough-for-production-0123"
os.environ.pop("DATABASE_URL", None)

from escalate import create_app, services  # noqa: E402
from escalate.extensions import db, limiter  # noqa: E402
from escalate.models import Base  # noqa: E402
from tests import factories  # noqa: E402

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
DATABASES = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


def pytest_report_header(config):
    return "databases: " + ", ".join(DATABASES)


# --- The databases: one schema each per session, emptied before every test ---------------------


@dataclass
class DatabaseState:
    schema_ready: bool = False


_databases: dict[str, DatabaseState] = {}


def _state(database_url: str) -> DatabaseState:
    return _databases.setdefault(database_url, DatabaseState())


def _drop_everything(engine) -> None:
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


def _delete_every_row(engine) -> None:
    """Empty every table, and start ids at 1 again. (DELETE rather than TRUNCATE: on tables this
    small, PostgreSQL's TRUNCATE costs ten times as much.)"""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # An error rather than a suite that hangs behind a transaction a test left open.
            connection.execute(sa.text("SET LOCAL lock_timeout = '30s'"))
        for table in reversed(Base.metadata.sorted_tables):  # rows that refer to others go first
            connection.execute(table.delete())
        if engine.dialect.name == "postgresql":
            connection.execute(
                sa.text(
                    "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false)"
                    " FROM pg_sequences WHERE schemaname = current_schema()"
                )
            )
        # SQLite starts again at 1 by itself once a table is empty, except for AUTOINCREMENT
        # tables, which count in sqlite_sequence.
        elif connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
        ).first():
            connection.exec_driver_sql("DELETE FROM sqlite_sequence")


def _empty(database_url: str) -> None:
    """In an app context: create the schema on first use, or after a test dropped it; otherwise
    empty every table. Then install the default stage policy and settings."""
    state = _state(database_url)
    if state.schema_ready:
        _delete_every_row(db.engine)
    else:
        _drop_everything(db.engine)
        Base.metadata.create_all(db.engine)
        state.schema_ready = True
    services.install_defaults()
    db.session.remove()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('database') / 'escalate.sqlite'}"


@pytest.fixture(params=DATABASES)
def database_url(request, sqlite_url):
    if request.param == "sqlite":
        return sqlite_url
    return POSTGRES_URL


# --- The applications: one per database and configuration --------------------------------------


def make_app(database_url: str, **overrides):
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": "escalate.test",
    }
    config.update(overrides)
    return create_app(config)


def _dispose(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class Unshareable(Exception):
    """A configuration value that only the test that made it may use (a clock it moves…)."""


PLAIN = (bool, int, float, str, bytes, dt.date, dt.time, dt.timedelta, decimal.Decimal, enum.Enum)


def frozen(value):
    """A hashable stand-in for a configuration value, equal for values that behave the same."""
    if value is None or isinstance(value, PLAIN):
        return type(value), value
    if isinstance(value, tuple | list):
        return type(value), tuple(frozen(item) for item in value)
    if isinstance(value, dict):
        return dict, tuple(sorted(((repr(k), frozen(v)) for k, v in value.items())))
    if isinstance(value, types.FunctionType):
        # `lambda: NOW`, made afresh for each test: the same code, reading the same globals
        # and the same closed-over values, does the same.
        try:
            cells = tuple(frozen(cell.cell_contents) for cell in value.__closure__ or ())
        except ValueError:  # an empty cell
            raise Unshareable from None
        return (
            types.FunctionType,
            value.__code__,
            id(value.__globals__),
            cells,
            frozen(value.__defaults__),
            frozen(value.__kwdefaults__),
        )
    raise Unshareable


class Applications:
    """The applications built so far, by database and configuration (the most recently used
    last). Building one costs little; its first page costs more (Jinja compiles every template
    again for each new application)."""

    SIZE = 8

    def __init__(self):
        self._built = OrderedDict()

    def get(self, database_url: str, overrides: dict):
        """(application, key): key is None for an application built for one test alone."""
        try:
            key = (database_url, frozen(overrides))
        except Unshareable:
            return make_app(database_url, **overrides), None
        if key in self._built:
            self._built.move_to_end(key)
        else:
            self._built[key] = make_app(database_url, **overrides)
            while len(self._built) > self.SIZE:
                _dispose(self._built.popitem(last=False)[1])
        return self._built[key], key

    def forget(self, key) -> None:
        app = self._built.pop(key, None)
        if app is not None:
            _dispose(app)

    def close(self) -> None:
        while self._built:
            _dispose(self._built.popitem()[1])


@pytest.fixture(scope="session")
def applications():
    built = Applications()
    yield built
    built.close()


@pytest.fixture
def app_config():
    """Overrides for one test's application (a test or module redefines it)."""
    return {}


def _serve(request, app, database_url: str, app_key, applications=None):
    """Lend `app` to one test, on an emptied database, and give it back as it was: its
    configuration, its instance folder, no session left open."""
    # Flask-Limiter keeps `enabled` on its one object, as the last application built set it.
    limiter.enabled = app.config["RATELIMIT_ENABLED"]
    config, instance_path, views = dict(app.config), app.instance_path, set(app.view_functions)
    with app.app_context():
        _empty(database_url)
    yield app
    with app.app_context():
        db.session.remove()
    app.config.clear()
    app.config.update(config)
    app.instance_path = instance_path
    if app_key is not None and set(app.view_functions) != views:
        applications.forget(app_key)
        pytest.fail(
            f"{request.node.nodeid}: it added routes to a shared application: use `own_app`",
            pytrace=False,
        )


@pytest.fixture
def app(request, database_url, app_config, applications):
    """The application for this database and configuration, shared with the other tests that ask
    for the same; its database emptied for this test."""
    app, key = applications.get(database_url, app_config)
    try:
        yield from _serve(request, app, database_url, key, applications)
    finally:
        if key is None:
            _dispose(app)


@pytest.fixture
def own_app(request, database_url, app_config):
    """An application built for this test alone (a module that adds routes uses it as `app`)."""
    app = make_app(database_url, **app_config)
    try:
        yield from _serve(request, app, database_url, None)
    finally:
        _dispose(app)


@pytest.fixture
def bare_app(database_url, app_config):
    """The application with an empty database that has no tables (for migration tests)."""
    app = make_app(database_url, **app_config)
    _state(database_url).schema_ready = False  # the next test creates the schema again
    with app.app_context():
        _drop_everything(db.engine)
    yield app
    _dispose(app)


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
