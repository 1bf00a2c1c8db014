"""Single sign-on through a real OpenID Connect provider (oidc-provider-mock, built on Authlib's
server, run by the tests on a local port): the redirect flow goes over real HTTP to the provider
and back, escalate reads the provider's discovery document and checks its signed ID token.
Accounts are matched by verified email whatever its case; an unknown or unverified email is
refused and nothing is created; an agency can be made single sign-on only; sessions begun this
way follow the same rules as any other and skip the code from an app."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa

from escalate.config import ConfigError, load_config
from escalate.extensions import db
from escalate.models import Agency, Role, User
from tests import factories
from tests.conftest import csrf_token_from, persist, sign_in, submit
from tests.openid_provider import PROVIDER_NAME, free_port, give_claims, single_sign_on
from tests.test_sign_in_limits import close, limited_app

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def app_config(provider):
    return {"CLOCK": lambda: NOW, **single_sign_on(provider)}


def at_the_provider(browser, provider, sub, claims, *, deny=False):
    """Press the button on escalate's sign-in page, sign in at the provider as ``sub`` (who has
    ``claims``), and come back to escalate: every hop a real HTTP request, as a browser makes
    them. Returns escalate's answer to the return from the provider."""
    give_claims(provider, sub, claims)
    page = browser.get("/sign-in").get_data(as_text=True)
    assert f"Sign in with {PROVIDER_NAME}" in page
    start = browser.get("/sign-in/single-sign-on")
    assert start.status_code == 302
    # The provider's authorisation endpoint, as its discovery document names it.
    assert start.location.startswith(f"{provider}/oauth2/authorize?")
    shown = requests.get(start.location, timeout=10)
    assert shown.status_code == 200
    answer = requests.post(
        start.location,
        data={"action": "deny"} if deny else {"sub": sub},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert back.path == "/sign-in/single-sign-on/return"
    return browser.get(f"{back.path}?{back.query}")


def count_users(app) -> int:
    with app.app_context():
        found = db.session.scalar(sa.select(sa.func.count(User.id)))
        db.session.remove()
    return found


def test_a_person_signs_in_through_the_provider_matched_by_verified_email(app, provider):
    gp = persist(app, lambda: factories.user(Role.PRACTITIONER, email="emma.clarke@gp.example"))
    browser = app.test_client()
    response = at_the_provider(
        browser, provider, "emma-at-work",
        {"email": "Emma.Clarke@GP.example", "email_verified": True},
    )
    assert response.status_code == 302
    home = browser.get(response.location, follow_redirects=True).get_data(as_text=True)
    assert f"Signed in as <strong>{gp.name}</strong>" in home
    account = browser.get("/account").get_data(as_text=True)
    assert "single sign-on" in account
    # Signing out ends it, on every machine, as for any session.
    token = csrf_token_from(account)
    browser.post("/sign-out", data={"csrf_token": token})
    assert browser.get("/account").status_code == 302


@pytest.mark.parametrize("enrolled", [True, False])
def test_administrators_signing_in_through_the_provider_skip_the_code(app, provider, enrolled):
    admin = persist(app, lambda: factories.user(Role.ADMIN, two_factor=enrolled))
    browser = app.test_client()
    response = at_the_provider(
        browser, provider, f"admin-{enrolled}", {"email": admin.email, "email_verified": True}
    )
    assert response.status_code == 302 and not response.location.endswith("/sign-in/code")
    landed = browser.get("/", follow_redirects=True)
    assert landed.request.path == "/admin"  # not asked for a code, nor sent to set one up


@pytest.mark.parametrize(
    "claims, heading",
    [
        ({"email": "nobody@gp.example", "email_verified": True},
         "There is no escalate account for this email address"),
        ({"email": "emma.clarke@gp.example", "email_verified": False},
         "Your email address could not be matched to an account"),
        ({"email": "emma.clarke@gp.example"},
         "Your email address could not be matched to an account"),
        ({"email": "emma.clarke@gp.example", "email_verified": "true"},
         "Your email address could not be matched to an account"),
        ({"name": "No Email"}, "Your email address could not be matched to an account"),
    ],
)
def test_an_unknown_or_unverified_email_is_refused_and_nothing_is_created(
    app, provider, claims, heading
):
    persist(app, lambda: factories.user(Role.PRACTITIONER, email="emma.clarke@gp.example"))
    before = count_users(app)
    browser = app.test_client()
    response = at_the_provider(browser, provider, f"someone-{len(claims)}", claims)
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert heading in page and "Nothing has been created" in page
    assert count_users(app) == before
    assert browser.get("/account").status_code == 302


def test_a_deactivated_account_is_refused(app, provider):
    gone = persist(app, lambda: factories.user(Role.MANAGER, active=False))
    response = at_the_provider(
        app.test_client(), provider, "gone", {"email": gone.email, "email_verified": True}
    )
    assert response.status_code == 403
    assert "Your escalate account is deactivated" in response.get_data(as_text=True)


def test_cancelling_at_the_provider_or_a_forged_return_signs_nobody_in(app, provider):
    gp = persist(app, lambda: factories.user(Role.PRACTITIONER))
    browser = app.test_client()
    cancelled = at_the_provider(
        browser, provider, "cancels", {"email": gp.email, "email_verified": True}, deny=True
    )
    assert cancelled.status_code == 403
    assert "You did not sign in" in cancelled.get_data(as_text=True)
    # A return that escalate did not start (another browser's, or made up): refused.
    forged = app.test_client().get("/sign-in/single-sign-on/return?code=abc&state=made-up")
    assert forged.status_code == 400
    assert "Signing in did not complete" in forged.get_data(as_text=True)
    assert browser.get("/account").status_code == 302


def test_an_agency_that_uses_single_sign_on_only_refuses_passwords(app, provider, client_for):
    admin = persist(app, lambda: factories.user(Role.ADMIN))
    nurse = persist(app, lambda: factories.user(Role.PRACTITIONER, email="ruth.bell@nhs.example"))
    nurses_browser = client_for(nurse)  # signed in with a password while it was allowed
    admins = client_for(admin)
    agency_id = nurse.agency_id
    with app.app_context():
        name, kind = db.session.get(Agency, agency_id).name, db.session.get(Agency, agency_id).kind
        db.session.remove()
    saved = submit(admins, f"/admin/agencies/{agency_id}/change",
                   {"name": name, "kind": kind.value, "sign_in": "single-sign-on"})
    assert saved.status_code == 302
    page = admins.get(f"/admin/agencies/{agency_id}").get_data(as_text=True)
    assert "sign in with single sign-on only" in page
    assert "single sign-on only" in admins.get("/changes").get_data(as_text=True)
    # Their password session ends; the right password is refused with a pointer to the button.
    assert nurses_browser.get("/account").status_code == 302
    refused = submit(app.test_client(), "/sign-in",
                     {"email": nurse.email, "password": factories.PASSWORD})
    assert refused.status_code == 200
    text = refused.get_data(as_text=True)
    assert f"Your agency signs in with {PROVIDER_NAME}, not a password" in text
    assert f"use the button “Sign in with {PROVIDER_NAME}”" in text
    # A wrong password says only that it is wrong (nobody learns whose account it is).
    wrong = submit(app.test_client(), "/sign-in", {"email": nurse.email, "password": "wrong"})
    assert "Enter a correct email address and password" in wrong.get_data(as_text=True)
    # The provider still signs them in.
    browser = app.test_client()
    back = at_the_provider(browser, provider, "ruth", {"email": nurse.email,
                                                       "email_verified": True})
    assert back.status_code == 302
    assert browser.get("/account").status_code == 200


def test_failed_returns_count_towards_the_sign_in_limits(database_url, provider, app):
    limited = limited_app(
        database_url, CLOCK=lambda: NOW, SIGN_IN_LIMIT_PER_ADDRESS="2 per 15 minutes",
        **single_sign_on(provider),
    )
    gp = persist(app, lambda: factories.user(Role.PRACTITIONER))
    unknown = {"email": "stranger@elsewhere.example", "email_verified": True}
    statuses = [at_the_provider(limited.test_client(), provider, "stranger", unknown).status_code
                for _ in range(2)]
    assert statuses == [403, 403]
    blocked = at_the_provider(limited.test_client(), provider, "gp",
                              {"email": gp.email, "email_verified": True})
    assert blocked.status_code == 429
    # The password page counts the same failures for this address.
    assert submit(limited.test_client(), "/sign-in",
                  {"email": gp.email, "password": factories.PASSWORD}).status_code == 429
    close(limited)


class TestTheSessionRules:
    class Clock:
        now = NOW

        def __call__(self):
            return self.now

    @pytest.fixture
    def clock(self):
        return self.Clock()

    @pytest.fixture
    def app_config(self, provider, clock):
        return {"CLOCK": clock, **single_sign_on(provider)}

    def test_a_single_sign_on_session_ends_when_idle_or_old(self, app, provider, clock):
        gp = persist(app, lambda: factories.user(Role.PRACTITIONER))
        browser = app.test_client()
        at_the_provider(browser, provider, "idle", {"email": gp.email, "email_verified": True})
        clock.now = NOW + timedelta(minutes=29)
        assert browser.get("/account").status_code == 200
        clock.now = NOW + timedelta(minutes=60)
        assert browser.get("/account").status_code == 302  # 31 minutes unused
        other = app.test_client()
        at_the_provider(other, provider, "busy", {"email": gp.email, "email_verified": True})
        signed_in_at = clock.now
        for minutes in range(20, 60 * 13, 20):
            clock.now = signed_in_at + timedelta(minutes=minutes)
            if other.get("/account").status_code != 200:
                break
        # However busy, it ends twelve hours after signing in.
        assert clock.now - signed_in_at == timedelta(hours=12)


def test_without_configuration_there_is_no_single_sign_on(database_url, app):
    from tests.conftest import make_app

    plain = make_app(database_url)
    browser = plain.test_client()
    assert "Sign in with" not in browser.get("/sign-in").get_data(as_text=True)
    assert browser.get("/sign-in/single-sign-on").status_code == 404
    assert browser.get("/sign-in/single-sign-on/return?code=x&state=y").status_code == 404
    close(plain)


def test_an_unreachable_provider_gets_a_clear_page(database_url, app):
    from tests.conftest import make_app

    nobody = free_port()  # closed again: nothing listens there
    down = make_app(database_url, **single_sign_on(f"http://127.0.0.1:{nobody}"))
    response = down.test_client().get("/sign-in/single-sign-on")
    assert response.status_code == 502
    assert "Signing in is not working at the moment" in response.get_data(as_text=True)
    close(down)


PRODUCTION = {"ESCALATE_ENV": "production", "SECRET_KEY": "s" * 40, "HISTORY_KEY": "h" * 40,
              "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"}


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"OIDC_ISSUER": "https://login.example/tenant/v2.0"},
         "set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET too"),
        ({"OIDC_CLIENT_ID": "x", "OIDC_CLIENT_SECRET": "y"}, "set OIDC_ISSUER too"),
        ({"OIDC_ISSUER": "http://login.example", "OIDC_CLIENT_ID": "x",
          "OIDC_CLIENT_SECRET": "y"}, "starting with https://"),
        ({"OIDC_ISSUER": "login.example", "OIDC_CLIENT_ID": "x", "OIDC_CLIENT_SECRET": "y"},
         "starting with https://"),
    ],
)
def test_single_sign_on_settings_are_checked_at_start_up(tmp_path, environ, message):
    with pytest.raises(ConfigError, match=message):
        load_config(str(tmp_path), {**PRODUCTION, **environ})


def test_single_sign_on_settings_are_read(tmp_path):
    config = load_config(str(tmp_path), {
        **PRODUCTION, "OIDC_ISSUER": "https://login.example/tenant/v2.0/",
        "OIDC_CLIENT_ID": "escalate", "OIDC_CLIENT_SECRET": "secret",
        "OIDC_PROVIDER_NAME": "NHS CIS2",
    })
    assert config["OIDC_ISSUER"] == "https://login.example/tenant/v2.0"
    assert config["OIDC_PROVIDER_NAME"] == "NHS CIS2"
    assert load_config(str(tmp_path), PRODUCTION)["OIDC_ISSUER"] is None


def test_a_password_sign_in_still_works_beside_single_sign_on(app):
    gp = persist(app, lambda: factories.user(Role.PRACTITIONER))
    browser = app.test_client()
    sign_in(browser, gp)
    assert "password" in browser.get("/account").get_data(as_text=True)
