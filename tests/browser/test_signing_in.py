"""Signing in as a new user would, in Chromium, with the demo partnership: through the local
OpenID provider (escalate's button, the provider's page, back to escalate signed in); and the
demo administrator setting up two-factor sign-in on first sign-in, then refused without a code.
"""

import threading

import pytest
from selenium.webdriver.common.by import By
from werkzeug.serving import make_server

from tests.browser.test_journey import GP, Person, browser  # noqa: F401 (browser: a fixture)
from tests.openid_provider import PROVIDER_NAME, free_port, give_claims, single_sign_on

ADMIN = "admin@partnership.northshire.example"


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def app_config(provider, port):
    # Links back from the provider name the address the browser uses.
    return {"ESCALATE_BASE_URL": f"http://127.0.0.1:{port}", **single_sign_on(provider)}


@pytest.fixture
def demo_server(app, runner, port):
    result = runner.invoke(args=["escalate", "seed-demo"])
    assert result.exit_code == 0, result.output
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)


def test_a_gp_signs_in_through_the_local_openid_provider(demo_server, browser, provider):  # noqa: F811
    give_claims(provider, "emma-at-riverside", {"email": GP.upper(), "email_verified": True})
    person = Person(browser, demo_server)
    person.visit("/sign-in")
    person._then_wait_for_the_next_page(
        browser.find_element(By.LINK_TEXT, f"Sign in with {PROVIDER_NAME}").click
    )
    assert browser.current_url.startswith(provider)  # the provider's own page
    person.fill_by_name("sub", "emma-at-riverside")
    person._then_wait_for_the_next_page(
        browser.find_element(By.XPATH, "//button[normalize-space()='Authorize']").click
    )
    assert browser.current_url.startswith(demo_server)
    assert "Signed in as" in person.text() and "Dr Emma Clarke" in person.text(), person.text()
    person.visit("/account")
    assert "single sign-on" in person.text()
    person.sign_out()


def test_the_demo_administrator_sets_up_two_factor_sign_in_and_needs_it(demo_server, browser):  # noqa: F811
    person = Person(browser, demo_server)
    person.visit("/sign-in")
    person.fill("email", ADMIN)
    person.fill("password", "northshire-demo")
    person.press("Sign in")
    assert "Set up two-factor sign-in before you continue" in person.text()
    person.visit("/admin/users")  # anything else: back to setting it up
    assert "Set up two-factor sign-in" in person.text()
    assert "People" not in browser.find_element(By.TAG_NAME, "h1").text
    person.set_up_app(ADMIN)
    person.visit("/admin")
    assert "Administration" in person.text()
    person.sign_out()

    # Now the password alone does not open the account.
    person.visit("/sign-in")
    person.fill("email", ADMIN)
    person.fill("password", "northshire-demo")
    person.press("Sign in")
    assert "Enter the code from your authenticator app" in person.text()
    person.visit("/admin")
    assert "Sign in" in browser.find_element(By.TAG_NAME, "h1").text
    person.sign_in(ADMIN)  # with the next code from the app
    person.visit("/admin")
    assert "Administration" in person.text()
