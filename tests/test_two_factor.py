"""Two-factor sign-in: administrators, partnership members and auditors set up an authenticator
app before anything else and cannot sign in without a code; codes work within one step either
side of now and only once; recovery codes are shown once, kept hashed and work once; wrong codes
count towards the sign-in limits; an administrator can reset it (recorded); the partnership can
ask it of everyone."""

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa

from escalate import two_factor
from escalate.extensions import db
from escalate.models import AdminChange, PartnershipSettings, RecoveryCode, Role, User
from tests import factories
from tests.conftest import csrf_token_from, persist, sign_in, submit
from tests.test_sign_in_limits import close, limited_app

NOW = datetime(2026, 11, 23, 10, 0, 10, tzinfo=UTC)  # a Monday, 10 seconds into a time step
SETUP_KEY = re.compile(r'id="setup-key">([A-Z2-7 ]+)<')
RECOVERY = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


def account(app, role, **fields):
    return persist(app, lambda: factories.user(role, **fields))


def reload(app, user_id) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        db.session.remove()
    return user


def changes(app, action) -> list[str]:
    with app.app_context():
        found = db.session.scalars(
            sa.select(AdminChange.summary)
            .where(AdminChange.action == action)
            .order_by(AdminChange.id)
        ).all()
        db.session.remove()
    return list(found)


def password_step(browser, user, password=factories.PASSWORD):
    return submit(browser, "/sign-in", {"email": user.email, "password": password})


def code_step(browser, code):
    return submit(browser, "/sign-in/code", {"code": code})


def set_up(browser, at=NOW) -> tuple[str, list[str]]:
    """Set up an authenticator app through the page, as a person would: read the key shown as
    text, let the app make a code, enter it. Returns the key and the recovery codes shown."""
    page = browser.get("/account/two-factor").get_data(as_text=True)
    assert "<svg" in page and "QR code for your authenticator app" in page
    key = SETUP_KEY.search(page).group(1).replace(" ", "")
    code = pyotp.TOTP(key).at(at)
    shown = submit(browser, "/account/two-factor", {"code": code})
    assert shown.status_code == 200
    codes = RECOVERY.findall(shown.get_data(as_text=True))
    return key, codes


@pytest.mark.parametrize("role", [Role.ADMIN, Role.PARTNERSHIP, Role.AUDITOR])
def test_who_must_use_it_sets_it_up_before_anything_else_and_is_refused_without_it(app, role):
    person = account(app, role, two_factor=False)
    browser = app.test_client()
    signed = password_step(browser, person)
    assert signed.status_code == 302
    # Every page sends them to set it up first, whatever they ask for.
    for path in ("/", "/admin", "/oversight/dashboard", "/inbox", "/account", "/changes"):
        response = browser.get(path, follow_redirects=True)
        assert response.request.path == "/account/two-factor", path
        assert "Set up two-factor sign-in before you continue" in response.get_data(as_text=True)
    token = csrf_token_from(browser.get("/account/two-factor").get_data(as_text=True))
    refused = browser.post("/admin/sign-in", data={"for_everyone": "yes", "csrf_token": token})
    assert refused.status_code == 302 and refused.location.endswith("/account/two-factor")
    assert changes(app, "changed") == []

    # A wrong code from the app sets nothing up.
    page = browser.get("/account/two-factor").get_data(as_text=True)
    wrong = submit(browser, "/account/two-factor", {"code": "000000"})
    assert "Enter the 6-digit code your authenticator app shows now" in wrong.get_data(
        as_text=True
    )
    assert not reload(app, person.id).has_two_factor
    # The key shown as text is the one in the QR code, and the app's code turns it on.
    key = SETUP_KEY.search(page).group(1).replace(" ", "")
    assert len(key) == 32
    done = submit(browser, "/account/two-factor", {"code": pyotp.TOTP(key).at(NOW)})
    codes = RECOVERY.findall(done.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "This is the only time they are shown" in done.get_data(as_text=True)
    assert browser.get("/account").status_code == 200
    assert changes(app, "two-factor set up") == [
        f"{person.name} ({person.email}) set up two-factor sign-in"
    ]

    # From now on a password alone does not sign them in.
    browser.post("/sign-out", data={"csrf_token": csrf_token_from(
        browser.get("/account").get_data(as_text=True))})
    again = app.test_client()
    waiting = password_step(again, person)
    assert waiting.location.endswith("/sign-in/code")
    assert again.get("/account").status_code == 302  # not signed in yet
    assert again.get("/admin").location.startswith("/sign-in")
    # The code of the moment they set it up was used: the next one opens the account.
    assert code_step(again, pyotp.TOTP(key).at(NOW)).status_code == 200
    assert code_step(again, pyotp.TOTP(key).at(NOW + timedelta(seconds=30))).status_code == 302
    assert again.get("/account").status_code == 200


def test_codes_work_one_step_either_side_of_now_and_only_once(app):
    admin = account(app, Role.ADMIN)
    step = two_factor.step_at(NOW)

    def tries(offset) -> int:
        browser = app.test_client()
        assert password_step(browser, admin).location.endswith("/sign-in/code")
        code = two_factor.code_at(factories.TOTP_SECRET, step + offset)
        return code_step(browser, code).status_code

    assert tries(-2) == 200  # a minute old: refused
    assert tries(+2) == 200  # a minute ahead: refused
    assert tries(-1) == 302
    assert tries(-1) == 200  # the same code again: refused
    assert tries(0) == 302
    assert tries(0) == 200
    assert tries(-1) == 200  # older than the last one used: refused
    assert tries(+1) == 302
    refused = app.test_client()
    password_step(refused, admin)
    page = code_step(refused, "123456").get_data(as_text=True)
    assert "The code is not right" in page and "a code works once" in page


def test_recovery_codes_are_shown_once_kept_hashed_and_work_once(app):
    chair = account(app, Role.PARTNERSHIP, two_factor=False)
    browser = app.test_client()
    password_step(browser, chair)
    _, codes = set_up(browser)
    with app.app_context():
        stored = db.session.scalars(
            sa.select(RecoveryCode.code_hash).where(RecoveryCode.user_id == chair.id)
        ).all()
        db.session.remove()
    assert len(stored) == 10
    assert not set(codes) & set(stored)
    assert {two_factor.recovery_hash(code) for code in codes} == set(stored)
    # Not shown again anywhere: the account page says how many are left.
    account_page = browser.get("/account").get_data(as_text=True)
    assert "10 recovery codes left" in account_page
    assert not any(code in account_page for code in codes)

    lost_phone = app.test_client()
    password_step(lost_phone, chair)
    typed = codes[3].upper().replace("-", " ")  # as someone might copy it
    signed = code_step(lost_phone, typed)
    assert signed.status_code == 302
    home = lost_phone.get(signed.location, follow_redirects=True).get_data(as_text=True)
    assert "You signed in with a recovery code: 9 of 10 left" in home
    again = app.test_client()
    password_step(again, chair)
    assert code_step(again, codes[3]).status_code == 200
    assert changes(app, "recovery code used") == [
        f"{chair.name} ({chair.email}) signed in with a recovery code (9 left)"
    ]


def test_wrong_codes_count_towards_the_sign_in_limits(database_url, app):
    auditor = account(app, Role.AUDITOR)
    limited = limited_app(database_url, CLOCK=lambda: NOW,
                          SIGN_IN_LIMIT_PER_ACCOUNT="3 per 15 minutes")
    browser = limited.test_client()
    assert password_step(browser, auditor).location.endswith("/sign-in/code")
    assert [code_step(browser, f"00000{n}").status_code for n in range(3)] == [200] * 3
    # The right code waits too, and so does the password page for this account.
    right = two_factor.code_at(factories.TOTP_SECRET, two_factor.step_at(NOW))
    assert code_step(browser, right).status_code == 429
    assert password_step(limited.test_client(), auditor).status_code == 429
    close(limited)


def test_a_right_password_then_a_code_is_not_counted_as_failing(database_url, app):
    auditor = account(app, Role.AUDITOR)
    limited = limited_app(database_url, CLOCK=lambda: NOW,
                          SIGN_IN_LIMIT_PER_ACCOUNT="3 per 15 minutes")
    for _ in range(5):
        browser = limited.test_client()
        sign_in(browser, auditor)
        assert browser.get("/account").status_code == 200
    close(limited)


class TestTheCodeStep:
    @pytest.fixture
    def clock(self):
        return Clock()

    @pytest.fixture
    def app_config(self, clock):
        return {"CLOCK": clock}

    def test_the_code_must_follow_the_password_within_five_minutes(self, app, clock):
        admin = account(app, Role.ADMIN)
        browser = app.test_client()
        password_step(browser, admin)
        clock.now = NOW + timedelta(minutes=5, seconds=1)
        code = two_factor.code_at(factories.TOTP_SECRET, two_factor.step_at(clock.now))
        page = browser.get("/sign-in/code", follow_redirects=True)
        assert page.request.path == "/sign-in"
        assert "Sign in with your email address and password" in page.get_data(as_text=True)
        assert browser.post("/sign-in/code", data={"code": code}).status_code in (302, 400)
        assert browser.get("/account").status_code == 302


def test_an_administrator_resets_a_lost_phone_and_it_is_recorded(app, client_for):
    admin = account(app, Role.ADMIN, name="Sanjay Patel")
    chair = account(app, Role.PARTNERSHIP, name="Ruth Adeyemi")
    chairs_browser = client_for(chair)
    assert chairs_browser.get("/account").status_code == 200
    admins = client_for(admin)
    page = admins.get(f"/admin/users/{chair.id}").get_data(as_text=True)
    assert "Reset two-factor sign-in" in page
    done = submit(admins, f"/admin/users/{chair.id}/reset-two-factor", {},
                  form_page=f"/admin/users/{chair.id}")
    assert done.status_code == 302
    shown = admins.get(done.location).get_data(as_text=True)
    assert "two-factor sign-in has been reset" in shown
    assert changes(app, "two-factor reset") == [
        "Two-factor sign-in of Ruth Adeyemi (" + chair.email + ") reset"
    ]
    with app.app_context():
        change = db.session.scalar(
            sa.select(AdminChange).where(AdminChange.action == "two-factor reset")
        )
        assert change.actor_id == admin.id
        assert db.session.scalar(sa.select(sa.func.count(RecoveryCode.id))) == 0
        db.session.remove()
    # Signed out everywhere; the password then leads to setting up a new app, nothing else.
    assert chairs_browser.get("/account").status_code == 302
    fresh = app.test_client()
    assert password_step(fresh, chair).status_code == 302
    assert fresh.get("/", follow_redirects=True).request.path == "/account/two-factor"
    # A second reset has nothing to reset.
    again = submit(admins, f"/admin/users/{chair.id}/reset-two-factor", {},
                   form_page=f"/admin/users/{chair.id}")
    assert "has not set up two-factor sign-in" in admins.get(again.location).get_data(
        as_text=True
    )


def test_it_is_optional_for_others_unless_the_partnership_asks_it_of_everyone(app, client_for):
    admin = account(app, Role.ADMIN)
    worker = account(app, Role.PRACTITIONER)
    other = account(app, Role.MANAGER)
    browser = app.test_client()
    password_step(browser, worker)
    assert browser.get("/account").status_code == 200  # no code asked for
    # They may turn it on; then their password alone no longer signs them in.
    set_up(browser)
    assert reload(app, worker.id).has_two_factor
    later = app.test_client()
    assert password_step(later, worker).location.endswith("/sign-in/code")

    admins = client_for(admin)
    page = admins.get("/admin/sign-in").get_data(as_text=True)
    assert "Administrators, partnership members and auditors" in page
    saved = submit(admins, "/admin/sign-in", {"for_everyone": "yes"})
    assert saved.status_code == 302
    with app.app_context():
        assert db.session.get(PartnershipSettings, 1).two_factor_for_everyone
        db.session.remove()
    assert changes(app, "changed")[-1] == "Two-factor sign-in required of everyone"
    manager = app.test_client()
    password_step(manager, other)
    assert manager.get("/", follow_redirects=True).request.path == "/account/two-factor"
    assert manager.get("/inbox").location.endswith("/account/two-factor")


def test_a_password_session_ends_once_two_factor_is_set_up_elsewhere(app):
    chair = account(app, Role.PARTNERSHIP, two_factor=False)
    first, second = app.test_client(), app.test_client()
    password_step(first, chair)
    password_step(second, chair)
    set_up(first)
    assert first.get("/account").status_code == 200
    # The other browser signed in with a password alone: it signs in again, with a code.
    response = second.get("/account", follow_redirects=True)
    assert response.request.path == "/sign-in"
    assert "Sign in again with your password and a code" in response.get_data(as_text=True)
