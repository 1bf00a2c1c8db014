"""Sessions end on the server's word: signing out, a new password, deactivation and reactivation
end every earlier session (a copied cookie included); an idle session ends after the idle
timeout, any session after its lifetime; signing in starts a new session with a new CSRF token."""

from datetime import UTC, datetime, timedelta

import pytest

from escalate import services
from escalate.auth import sessions
from escalate.config import ConfigError, load_config
from escalate.extensions import db
from escalate.models import Role, User
from tests import factories
from tests.conftest import csrf_token_from, persist, sign_in, submit

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday


class Clock:
    def __init__(self):
        self.now = START

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app_config(clock):
    return {"CLOCK": clock}


@pytest.fixture
def worker(app):
    return persist(app, lambda: factories.user(Role.PRACTITIONER, name="Sam Okafor"))


@pytest.fixture
def admin(app):
    return persist(app, lambda: factories.user(Role.ADMIN, name="Sanjay Patel"))


def copy_of(app, browser):
    """Another browser holding a copy of ``browser``'s session cookie."""
    cookie = browser.get_cookie("session", domain=app.config["SERVER_NAME"].split(":")[0])
    thief = app.test_client()
    thief.set_cookie("session", cookie.value, domain=cookie.domain)
    return thief


def signed_in(browser) -> bool:
    return browser.get("/account").status_code == 200


def test_signing_out_ends_a_copy_of_the_session(app, client, worker):
    sign_in(client, worker)
    copy = copy_of(app, client)
    assert signed_in(copy)
    page = client.get("/account").get_data(as_text=True)
    assert client.post("/sign-out", data={"csrf_token": csrf_token_from(page)}).status_code == 302
    assert not signed_in(client)
    assert not signed_in(copy)


def test_signing_out_ends_the_account_s_sessions_on_other_machines(app, worker):
    office, home = app.test_client(), app.test_client()
    sign_in(office, worker)
    sign_in(home, worker)
    submit(office, "/sign-out", {}, form_page="/account")
    assert not signed_in(home)


def test_a_new_password_ends_every_earlier_session(app, client, clock, worker, admin):
    sign_in(client, worker)
    copy = copy_of(app, client)
    with app.app_context():
        # "Send a new link" on the person's page, for a forgotten password.
        token = services.accounts.send_new_link(
            db.session.get(User, admin.id), worker.id, clock(), app.config["SECRET_KEY"]
        ).token
    visitor = app.test_client()
    done = submit(
        visitor,
        f"/set-password/{token}",
        {"password": "a brand new passphrase", "confirmation": "a brand new passphrase"},
    )
    assert done.status_code == 302
    assert not signed_in(client)
    assert not signed_in(copy)
    sign_in(visitor, worker, "a brand new passphrase")
    assert signed_in(visitor)


def test_deactivation_and_reactivation_end_every_earlier_session(app, client, worker, admin):
    sign_in(client, worker)
    copy = copy_of(app, client)
    desk = app.test_client()
    sign_in(desk, admin)
    submit(desk, f"/admin/users/{worker.id}/deactivate", {})
    assert not signed_in(copy)
    reactivated = submit(
        desk, f"/admin/users/{worker.id}/reactivate", {}, form_page=f"/admin/users/{worker.id}"
    )
    assert reactivated.status_code == 302
    assert not signed_in(copy), "a cookie from before the deactivation works again"
    assert not signed_in(client)
    sign_in(client, worker)
    assert signed_in(client)


def test_a_session_ends_after_30_minutes_without_a_request(client, clock, worker):
    sign_in(client, worker)
    clock.advance(minutes=29)
    assert signed_in(client)
    clock.advance(minutes=29)  # 58 minutes after signing in, 29 after the last request
    assert signed_in(client)
    clock.advance(minutes=30)
    response = client.get("/account")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert not signed_in(client), "the ended session does not come back"


def test_the_idle_timeout_is_a_setting(app, client, clock, worker):
    app.config["SESSION_IDLE_MINUTES"] = 5
    sign_in(client, worker)
    clock.advance(minutes=4)
    assert signed_in(client)
    clock.advance(minutes=5)
    assert not signed_in(client)


def test_a_session_ends_after_its_lifetime_however_busy(client, clock, worker):
    sign_in(client, worker)
    for _ in range(12 * 3 - 1):
        clock.advance(minutes=20)
        assert signed_in(client)
    clock.advance(minutes=20)  # 12 hours after signing in
    assert not signed_in(client)


def test_signing_in_gives_a_new_csrf_token_and_the_old_one_stops_working(client, worker):
    before = csrf_token_from(client.get("/sign-in").get_data(as_text=True))
    sign_in(client, worker)
    after = csrf_token_from(client.get("/account").get_data(as_text=True))
    assert after != before
    refused = client.post("/sign-out", data={"csrf_token": before})
    assert refused.status_code == 400
    assert signed_in(client)


def test_signing_in_again_as_someone_else_keeps_nothing_of_the_first_session(
    app, client, worker, admin
):
    sign_in(client, worker)
    submit(client, "/sign-out", {}, form_page="/account")
    sign_in(client, admin)
    page = client.get("/account").get_data(as_text=True)
    assert admin.name in page and worker.name not in page


# --- The rules and the settings ---------------------------------------------------------------


def test_a_session_without_the_new_fields_counts_as_ended():
    assert sessions.ended(
        {}, version=0, now=START, idle=timedelta(minutes=30), lifetime=timedelta(hours=12)
    ) == "revoked"
    kept = sessions.started(START, 3, sessions.PASSWORD)
    assert sessions.ended(
        kept, version=3, now=START, idle=timedelta(minutes=30), lifetime=timedelta(hours=12)
    ) is None
    assert sessions.ended(
        kept, version=4, now=START, idle=timedelta(minutes=30), lifetime=timedelta(hours=12)
    ) == "revoked"


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"SESSION_IDLE_MINUTES": "0"}, "SESSION_IDLE_MINUTES must be a whole number of minutes"),
        ({"SESSION_IDLE_MINUTES": "half an hour"}, "SESSION_IDLE_MINUTES must be a whole number"),
        ({"SESSION_LIFETIME_HOURS": "1000"}, "SESSION_LIFETIME_HOURS must be a whole number"),
    ],
)
def test_session_settings_are_checked(tmp_path, environ, message):
    with pytest.raises(ConfigError, match=message):
        load_config(str(tmp_path), {"ESCALATE_ENV": "development", **environ})


def test_session_settings_have_defaults(tmp_path):
    config = load_config(str(tmp_path), {"ESCALATE_ENV": "development"})
    assert (config["SESSION_IDLE_MINUTES"], config["SESSION_LIFETIME_HOURS"]) == (30, 12)
    config = load_config(
        str(tmp_path),
        {
            "ESCALATE_ENV": "development",
            "SESSION_IDLE_MINUTES": "15",
            "SESSION_LIFETIME_HOURS": "8",
        },
    )
    assert (config["SESSION_IDLE_MINUTES"], config["SESSION_LIFETIME_HOURS"]) == (15, 8)
