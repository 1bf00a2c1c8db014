"""Signing in and out, and the account page."""

import pytest

from escalate.extensions import db
from escalate.models import Role, User
from tests import factories
from tests.conftest import csrf_token_from, make_app, persist, sign_in, submit

GENERIC_FAILURE = "Enter a correct email address and password"


@pytest.fixture
def gp(app):
    return persist(app, lambda: factories.user(
        Role.PRACTITIONER, agency=factories.agency("Riverside Medical Practice"),
        email="emma.clarke@example.org", name="Dr Emma Clarke", job_title="GP"))


def test_visitors_are_sent_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/sign-in")
    page = client.get("/account", follow_redirects=True).get_data(as_text=True)
    assert "Sign in to continue." in page
    assert "<h1 class=\"govuk-heading-l\">Sign in</h1>" in page


def test_sign_in_page_uses_the_govuk_layout(client):
    page = client.get("/sign-in").get_data(as_text=True)
    assert "Resolve a professional difference" in page
    assert "govuk-service-navigation" in page and "govuk-footer" in page
    assert 'autocomplete="current-password"' in page


@pytest.mark.parametrize("role", list(Role))
def test_every_role_signs_in_and_sees_who_they_are(signed_in_as, client, role):
    user = signed_in_as(role, name="Alex Example", job_title="Something senior")
    page = client.get("/account").get_data(as_text=True)
    assert "Alex Example" in page
    assert user.email in page
    assert role.label in page
    assert "Sign out" in page


def test_email_is_matched_regardless_of_case(client, gp):
    response = submit(client, "/sign-in", {"email": "  Emma.CLARKE@Example.org ",
                                            "password": factories.PASSWORD})
    assert response.status_code == 302
    assert "Dr Emma Clarke" in client.get("/account").get_data(as_text=True)


@pytest.mark.parametrize(
    "email, password",
    [
        ("emma.clarke@example.org", "wrong password"),
        ("nobody@example.org", factories.PASSWORD),
    ],
)
def test_failed_sign_in_says_the_same_thing_whatever_was_wrong(client, gp, email, password):
    response = submit(client, "/sign-in", {"email": email, "password": password})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert GENERIC_FAILURE in page
    assert "There is a problem" in page
    assert client.get("/account").status_code == 302


def test_empty_fields_are_named_in_the_error_summary(client, gp):
    response = submit(client, "/sign-in", {"email": "", "password": ""})
    page = response.get_data(as_text=True)
    assert "Enter your email address" in page
    assert "Enter your password" in page
    assert "<title>Error: Sign in" in page


def test_a_deactivated_account_cannot_sign_in_and_loses_its_session(app, client, gp):
    sign_in(client, gp)
    with app.app_context():
        db.session.get(User, gp.id).active = False
        db.session.commit()
    assert client.get("/account").status_code == 302
    response = submit(client, "/sign-in", {"email": gp.email, "password": factories.PASSWORD})
    assert GENERIC_FAILURE in response.get_data(as_text=True)


def test_sign_out_ends_the_session(client, gp):
    sign_in(client, gp)
    page = client.get("/account").get_data(as_text=True)
    response = client.post("/sign-out", data={"csrf_token": csrf_token_from(page)},
                           follow_redirects=True)
    assert "You have signed out" in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_sign_out_needs_a_post(client, gp):
    sign_in(client, gp)
    assert client.get("/sign-out").status_code == 405
    assert client.get("/account").status_code == 200


def test_a_form_without_its_csrf_token_is_refused_and_signs_nobody_in(client, gp):
    response = client.post("/sign-in", data={"email": gp.email, "password": factories.PASSWORD})
    assert response.status_code == 400
    assert "nothing was saved" in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_sign_in_does_not_redirect_off_site(client, gp):
    page = client.get("/sign-in?next=https://evil.example/").get_data(as_text=True)
    response = client.post(
        "/sign-in?next=https://evil.example/",
        data={"csrf_token": csrf_token_from(page), "email": gp.email,
              "password": factories.PASSWORD},
    )
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


def test_sign_in_returns_to_the_page_asked_for(client, gp):
    page = client.get("/sign-in?next=/account").get_data(as_text=True)
    response = client.post(
        "/sign-in?next=/account",
        data={"csrf_token": csrf_token_from(page), "email": gp.email,
              "password": factories.PASSWORD},
    )
    assert response.headers["Location"].endswith("/account")


def test_session_cookie_is_httponly_and_samesite(client, gp):
    response = sign_in(client, gp)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_pages_are_not_cached_on_shared_machines(client, gp):
    sign_in(client, gp)
    response = client.get("/account")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_repeated_failed_sign_ins_are_slowed_down(database_url, gp):
    limited = make_app(database_url, RATELIMIT_ENABLED=True)
    client = limited.test_client()
    statuses = [
        submit(client, "/sign-in", {"email": gp.email, "password": "wrong"}).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429
    response = submit(client, "/sign-in", {"email": gp.email, "password": factories.PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    with limited.app_context():
        db.engine.dispose()
