"""Fixtures. Every database test runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set.

Each database gets its schema once per session and is emptied before every test (then given the
default stage policy and settings). An application is built once for each database and
configuration, and lent to every test that asks for the same (see `app`). Tests marked
`read_only` may share the data their fixtures built (see `kept`).
"""

import contextlib
import datetime as dt
import decimal
import enum
import os
import re
import shutil
import tempfile
import types
from collections import OrderedDict
from dataclasses import dataclass, field
from html import unescape as html_unescape
from pathlib import Path

import jinja2
import pytest
import sqlalchemy as sa

# The suite never reads a developer's configuration or writes a key into the instance folder.
os.environ["ESCALATE_ENV"] = "development"
os.environ["SECRET_KEY"] = "test-secret-key-that-is-long-enough-for-production-0123"
os.environ["HISTORY_KEY"] = "test-history-key-that-is-long-enough-for-production-4567"
os.environ.pop("HISTORY_OLD_KEYS", None)
os.environ.pop("HISTORY_AUDITORS", None)
os.environ.pop("DATABASE_URL", None)

from escalate import create_app, notify, services, two_factor  # noqa: E402
from escalate.extensions import db, limiter  # noqa: E402
from escalate.models import Base  # noqa: E402
from tests import factories  # noqa: E402
from tests.openid_provider import provider  # noqa: E402, F401 (a fixture: the OpenID provider)


def _database_of_this_worker(url: str) -> str:
    """TEST_DATABASE_URL, or when the suite runs in several processes (pytest-xdist) a database
    of this process's own beside it (``test_gw0``…), made on first use."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker:
        return url
    given = sa.engine.make_url(url)
    own = f"{given.database}_{worker}"
    engine = sa.create_engine(given, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own}
            )
            if not exists:
                connection.exec_driver_sql(f'CREATE DATABASE "{own}"')
    finally:
        engine.dispose()
    return given.set(database=own).render_as_string(hide_password=False)


POSTGRES_URL = _database_of_this_worker(os.environ.get("TEST_DATABASE_URL", "").strip())
DATABASES = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


def pytest_report_header(config):
    return "databases: " + ", ".join(DATABASES)


# --- The databases: one schema each per session, emptied before every test ---------------------


@dataclass
class Kept:
    """Data left in a database for the next test marked read_only with the same `key`: the
    values its fixtures returned, and every row as it stood once they had built it."""

    key: tuple
    values: dict = field(default_factory=dict)
    rows: dict | None = None


@dataclass
class DatabaseState:
    schema_ready: bool = False
    kept: Kept | None = None
    reading: tuple | None = None  # the key of the read_only test running now


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
    state.kept = None
    if state.schema_ready:
        _delete_every_row(db.engine)
    else:
        _drop_everything(db.engine)
        Base.metadata.create_all(db.engine)
        state.schema_ready = True
    services.setup.install_defaults()
    db.session.remove()


# Written by signing in, which a read_only test may do: the step of the last two-factor code.
SIGN_IN_BOOKKEEPING = {"totp_last_step"}
# Reading a page writes who read it to the access log: a test that only reads still adds to it,
# and no test's data depends on it.
ACCESS_LOG = ("access_entry", "access_head")


def _every_row() -> dict:
    """In an app context: every row of every table (but the sign-in bookkeeping and the access
    log) and, on PostgreSQL, where each sequence stands (so that any change at all shows)."""
    with db.engine.connect() as connection:
        rows = {
            table.name: connection.execute(
                sa.select(*(c for c in table.columns if c.name not in SIGN_IN_BOOKKEEPING))
                .order_by(*table.primary_key.columns)
            ).all()
            for table in Base.metadata.sorted_tables
            if table.name not in ACCESS_LOG
        }
        if connection.dialect.name == "postgresql":
            rows["(sequences)"] = connection.execute(
                sa.text(
                    "SELECT sequencename, last_value FROM pg_sequences"
                    " WHERE schemaname = current_schema() AND sequencename NOT LIKE 'access_%'"
                    " ORDER BY sequencename"
                )
            ).all()
    return rows


def _tallies_that_differ() -> list:
    """In an app context: each person whose inbox tally is not what their messages add up to
    (person, tally, counted)."""
    with db.engine.connect() as connection:
        if not sa.inspect(connection).has_table("inbox_tally"):
            return []  # a migration test left the schema before the tally
        counted = {
            row.recipient_id: (row.messages, row.unread)
            for row in connection.execute(
                sa.text(
                    "SELECT recipient_id, count(*) AS messages,"
                    " sum(CASE WHEN read_at IS NULL THEN 1 ELSE 0 END) AS unread"
                    " FROM notification WHERE invitation_id IS NULL GROUP BY recipient_id"
                )
            )
        }
        tallied = {
            row.user_id: (row.messages, row.unread)
            for row in connection.execute(
                sa.text("SELECT user_id, messages, unread FROM inbox_tally")
            )
            if (row.messages, row.unread) != (0, 0)
        }
    return [
        (person, tallied.get(person), counted.get(person))
        for person in sorted(set(counted) | set(tallied))
        if tallied.get(person) != counted.get(person)
    ]


@pytest.fixture(scope="session")
def sqlite_url():
    # A folder of this session's own: pytest's numbered temporary folders are pruned by any other
    # test session that starts on the same machine, which would delete the database mid-run.
    folder = tempfile.mkdtemp(prefix="escalate-tests-")
    yield f"sqlite:///{Path(folder) / 'escalate.sqlite'}"
    shutil.rmtree(folder, ignore_errors=True)


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
        # No test writes checkpoints into the instance folder (`app` gives each its own file).
        "HISTORY_CHECKPOINT_LOG": os.devnull,
        # The test accounts' domains (example.org, gp.example…) receive whole messages; tests of
        # the other kind of address set their own.
        "SECURE_EMAIL_DOMAINS": ("example", "example.org"),
        # The sweep's weekly digest only where a test asks for it (tests/test_raisers_voice.py).
        "WEEKLY_DIGEST": False,
    }
    config.update(overrides)
    app = create_app(config)
    app.jinja_env.bytecode_cache = _COMPILED_TEMPLATES
    _LOOSE_APPS.append(app)
    return app


class _CompiledTemplates(jinja2.BytecodeCache):
    """Templates compiled once for the whole run rather than once for each application the
    tests build (compiling them was a fifth of the suite's time). Keyed by Jinja on each
    template's name and source, so a changed template is compiled again."""

    def __init__(self):
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        code = self.compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


_COMPILED_TEMPLATES = _CompiledTemplates()


def _dispose(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# Applications a test built for itself with make_app (a production configuration, a second
# limiter…): their connections are closed when the test ends, not whenever the garbage
# collector finds them (psycopg warns then, and under -W error that fails some later test).
_LOOSE_APPS: list = []


@pytest.fixture(autouse=True)
def _close_loose_apps():
    yield
    while _LOOSE_APPS:
        _dispose(_LOOSE_APPS.pop())


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
            _LOOSE_APPS.remove(self._built[key])  # kept for other tests; closed by close()
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


def checkpoint_log(tmp_path) -> dict:
    """Each test's history checkpoints go to its own file, never the instance folder."""
    return {"HISTORY_CHECKPOINT_LOG": str(tmp_path / "history-checkpoints.jsonl")}

def _reading_key(request, app_key) -> tuple | None:
    """For a test marked read_only: what its data depends on (its module, its application and
    its fixtures, not its own parameters); None for any other test."""
    if app_key is None or request.node.get_closest_marker("read_only") is None:
        return None
    parameters = set()
    for mark in request.node.iter_markers("parametrize"):
        if mark.kwargs.get("indirect") or len(mark.args) > 2:
            return None  # parameters that reach the fixtures
        names = mark.args[0]
        parameters.update(names.replace(" ", "").split(",") if isinstance(names, str) else names)
    fixtures = frozenset(request.node.fixturenames) - parameters
    return request.node.module.__name__, app_key, fixtures


def _serve(request, app, database_url: str, app_key, applications=None):
    """Lend `app` to one test, on an emptied database (or the data kept for it), and give it back
    as it was: its configuration, its instance folder, no session left open."""
    # Flask-Limiter keeps `enabled` on its one object, as the last application built set it.
    limiter.enabled = app.config["RATELIMIT_ENABLED"]
    config, instance_path, views = dict(app.config), app.instance_path, set(app.view_functions)
    app.config.update(checkpoint_log(request.getfixturevalue("tmp_path")))
    state = _state(database_url)
    reading = _reading_key(request, app_key)
    with app.app_context():
        kept = state.kept
        if not (
            reading is not None
            and kept is not None
            and kept.key == reading
            and kept.rows is not None
            and _every_row() == kept.rows
        ):
            _empty(database_url)
            if reading is not None:
                state.kept = Kept(reading)
    state.reading = reading
    yield app
    state.reading = None
    problems = []
    with app.app_context():
        db.session.remove()
        if not request.node.get_closest_marker("tampers") and (differ := _tallies_that_differ()):
            problems.append(f"its inbox tallies differ from the messages: {differ}")
        if db.engine.dialect.name == "sqlite":
            # Close the test's connections: a pooled SQLite connection that a test left with a
            # read unfinished keeps its snapshot, and would show later tests (and the worker
            # processes they start) a database that has moved on.
            db.engine.dispose()
        kept = state.kept
        if kept is not None and kept.key == reading:
            if kept.rows is None:
                state.kept = None  # its fixtures built nothing to share
            elif _every_row() != kept.rows:
                state.kept = None
                problems.append("it is marked read_only but changed the database")
    app.config.clear()
    app.config.update(config)
    app.instance_path = instance_path
    if app_key is not None and set(app.view_functions) != views:
        applications.forget(app_key)
        problems.append("it added routes to a shared application: use `own_app`")
    if problems:
        pytest.fail(f"{request.node.nodeid}: " + "; ".join(problems), pytrace=False)


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
def bare_app(database_url, app_config, tmp_path):
    """The application with an empty database that has no tables (for migration tests)."""
    app = make_app(database_url, **{**checkpoint_log(tmp_path), **app_config})
    state = _state(database_url)
    state.schema_ready, state.kept = False, None  # the next test creates the schema again
    with app.app_context():
        _drop_everything(db.engine)
    yield app
    _dispose(app)


def kept(request, name: str, build):
    """What a data fixture gives: build() for most tests. A test marked read_only, with the same
    module, application and fixtures as the read_only test before it on this database, is given
    what build() gave that test instead, when every row is still as it was then (`app` checks);
    that build is not run again. The marker says that the test changes nothing in the database
    (`app` checks after it) and that its data does not depend on its parameters."""
    state = _state(request.getfixturevalue("database_url"))
    shared = state.kept
    if shared is None or state.reading is None or shared.key != state.reading:
        return build()
    if name not in shared.values:
        shared.values[name] = build()
        with request.getfixturevalue("app").app_context():
            shared.rows = _every_row()
    return shared.values[name]


@contextlib.contextmanager
def statements_run(engine):
    """Every SQL statement ``engine`` sends inside the block, with its parameters, in order."""
    sent = []

    def remember(connection, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", remember)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", remember)


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
    # A browser names the form's page as the referrer (the CSRF check asks for it over https).
    headers = {"Referer": page.request.url, **kwargs.pop("headers", {})}
    return client.post(url, data=payload, headers=headers, **kwargs)


def revealed_under(form: str, value: str) -> str:
    """The name of the question a radio answer reveals (GOV.UK conditional reveal)."""
    reveal = re.search(rf'value="{value}"[^>]*aria-controls="([^"]+)"', form).group(1)
    block = form[form.index(f'id="{reveal}"') :]
    return re.search(r'<textarea[^>]*name="([^"]+)"', block).group(1)


def sign_in(client, user, password: str = factories.PASSWORD):
    """Sign in through the real pages: the password, then (for an account with two-factor
    sign-in) the code its authenticator app shows now."""
    response = submit(client, "/sign-in", {"email": user.email, "password": password})
    assert response.status_code == 302, "sign-in did not succeed"
    if response.location.endswith("/sign-in/code"):
        code = factories.next_code(client.application, user.email)
        response = submit(client, "/sign-in/code", {"code": code})
        assert response.status_code == 302, "the code did not complete the sign-in"
    return response


SETUP_KEY = re.compile(r'id="setup-key">([A-Z2-7 ]+)<')


def set_up_two_factor(client) -> str:
    """Set up two-factor sign-in through its page, as a person with an authenticator app does:
    the key shown as text goes into the app, the app's code of the moment (by the application's
    clock) comes back. Returns the key."""
    page = client.get("/account/two-factor")
    assert page.status_code == 200, f"the set-up page answered {page.status_code}"
    key = SETUP_KEY.search(page.get_data(as_text=True)).group(1).replace(" ", "")
    now = client.application.config["CLOCK"]()
    code = two_factor.code_at(key, two_factor.step_at(now))
    done = submit(client, "/account/two-factor", {"code": code})
    assert "Two-factor sign-in is on" in done.get_data(as_text=True)
    return key


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
def people(request, app):
    """The small test partnership of tests/partnership.py, as plain ids, emails and names."""
    from tests import partnership

    def build():
        with app.app_context():
            built = partnership.build()
            db.session.commit()
            result = partnership.ids(built)
            db.session.remove()
        return result

    return kept(request, "people", build)


@pytest.fixture
def client_for(app):
    """client_for(person): a new browser session signed in as that person."""

    def _client_for(person):
        browser = app.test_client()
        sign_in(browser, person)
        return browser

    return _client_for


SET_PASSWORD_LINK = re.compile(r"https?://\S+/set-password/[A-Za-z0-9_\-]+")


class SentMail:
    """The one fake sender: keeps every email escalate hands over for delivery, in order, instead
    of sending it. Set ``refused`` (addresses), ``down`` or ``dies_after_sending`` to have it
    answer like a mail server that refuses an address for good, one that cannot be reached, or
    a worker killed just after the server took the message."""

    def __init__(self, app):
        self.app = app
        self.messages = []
        self.refused: set[str] = set()
        self.down = False
        self.dies_after_sending = False

    def send(self, message) -> None:
        if self.down:
            raise notify.DeliveryError("Could not reach the mail server: Connection refused")
        if self.address(message) in self.refused:
            raise notify.DeliveryError(
                "The mail server refused the address: 550 5.1.1 No such user here", permanent=True
            )
        self.messages.append(message)
        if self.dies_after_sending:
            raise SystemExit("killed just after the mail server took the message")

    @staticmethod
    def address(message) -> str:
        return message["To"].addresses[0].addr_spec

    @staticmethod
    def text(message) -> str:
        return message.get_body(("plain",)).get_content()

    def to(self, address: str) -> list:
        return [m for m in self.messages if self.address(m) == address]

    def link_to(self, address: str) -> str:
        """The set-password link in the latest email to ``address``, as its reader would open it."""
        (link,) = set(SET_PASSWORD_LINK.findall(self.text(self.to(address)[-1])))
        return link

    def token_for(self, address: str) -> str:
        return self.link_to(address).rsplit("/", 1)[1]

    def deliver(self, **options):
        """What the worker does for email each round: send every notification that is due."""
        with self.app.app_context():
            counts = services.delivery.deliver_due(
                notify.mailer_from_app(self.app),
                self.app.config["CLOCK"],
                worker_id="test-worker",
                **options,
            )
            db.session.remove()
        return counts


@pytest.fixture
def sent_mail(app):
    """The application's mailer hands every email to a SentMail instead of a mail server."""
    sender = SentMail(app)
    app.config["EMAIL_SENDER"] = sender
    return sender


# --- What the accessibility tests checked, in the run's summary --------------------------------
# tests/browser/test_accessibility.py records its count of page states as a property of its
# report, which reaches this process from any worker process (pytest-xdist).

ACCESSIBILITY_PROPERTY = "accessibility_page_states"
_ACCESSIBILITY_CHECKED: dict[str, int] = {}  # database -> page states checked


def pytest_runtest_logreport(report):
    for name, value in getattr(report, "user_properties", ()):
        if name == ACCESSIBILITY_PROPERTY:
            database, count = value
            _ACCESSIBILITY_CHECKED[database] = count


def pytest_terminal_summary(terminalreporter):
    for database, count in _ACCESSIBILITY_CHECKED.items():
        terminalreporter.write_line(
            f"accessibility: {count} page states checked with axe-core, at 320 px, "
            f"for one h1 and a title ({database})"
        )
