"""Fixtures. Every database test runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set."""

import os
import re
from html import unescape as html_unescape

import pytest
import sqlalchemy as sa

# The suite never reads a developer's configuration or writes a key into the instance folder.
os.environ["ESCALATE_ENV"] = "development"
os.environ["SECRET_KEY"] = "test-secret-key-that-is-long-enough-for-production-0123"
os.environ.pop("DATABASE_URL", None)

from escalate import create_app, notify, services  # noqa: E402
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
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app_config():
    """Overrides for one test's application (a test or module redefines it)."""
    return {}


@pytest.fixture
def bare_app(database_url, app_config):
    """The application with an empty database that has no tables (for migration tests)."""
    global _postgres_schema_ready
    app = make_app(database_url, **app_config)
    with app.app_context():
        _drop_everything(db.engine)
    _postgres_schema_ready = False
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(database_url, app_config):
    app = make_app(database_url, **app_config)
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
    # A browser names the form's page as the referrer (the CSRF check asks for it over https).
    headers = {"Referer": page.request.url, **kwargs.pop("headers", {})}
    return client.post(url, data=payload, headers=headers, **kwargs)


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
