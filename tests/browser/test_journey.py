"""The whole journey in a real browser (Debian's Chromium), with the demo partnership's logins.

A GP raises a difference with children's social care; the named social worker upholds the
decision; the GP escalates; the managers respond; the GP's manager escalates; the senior
managers escalate; the partnership decides. The GP's inbox then holds every outcome with its
rationale. If Chromium cannot start, these tests fail: they never skip.
"""

import re
import shutil
import threading
import time

import pyotp
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait
from werkzeug.serving import make_server

from escalate.demo import DEMO_PASSWORD
from tests.browser.pages import POLL, replaced

GP = "emma.clarke@riverside.northshire.example"
SOCIAL_WORKER = "sam.okafor@csc.northshire.example"
TEAM_MANAGER = "jo.evans@csc.northshire.example"
GP_LEAD = "david.chen@riverside.northshire.example"
HEAD_OF_SERVICE = "priya.shah@csc.northshire.example"
CHAIR = "ruth.adeyemi@partnership.northshire.example"


@pytest.fixture
def live_server(app, runner):
    result = runner.invoke(args=["escalate", "seed-demo"])
    assert result.exit_code == 0, result.output
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser(tmp_path):
    chromium = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver")
    assert chromium and chromedriver, (
        "Chromium and chromedriver are needed for the browser tests: "
        "apt-get install chromium chromium-driver"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--window-size=1280,1600",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # to read CSP reports
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


class Person:
    """One professional at the keyboard: signs in (setting up an authenticator app the first
    time, if their role needs one, then typing its codes), follows links, fills GOV.UK forms."""

    def __init__(self, driver, base_url):
        self.driver, self.base = driver, base_url
        self.apps = {}  # email -> the authenticator app set up for it
        self.last_step = {}  # email -> the time step of the last code typed (each works once)

    def visit(self, path):
        self.driver.get(self.base + path)

    def sign_in(self, email):
        self.visit("/sign-in")
        self.fill("email", email)
        self.fill("password", DEMO_PASSWORD)
        self.press("Sign in")
        if "Set up two-factor sign-in" in self.text():
            self.set_up_app(email)
        elif "Enter the code from your authenticator app" in self.text():
            self.fill("code", self.code(email))
            self.press("Continue")
        assert "Signed in as" in self.text(), self.text()
        assert "Set up two-factor sign-in before you continue" not in self.text()

    def set_up_app(self, email):
        """Add escalate to an authenticator app from the key shown as text, and type its code."""
        key = self.driver.find_element(By.ID, "setup-key").text.replace(" ", "")
        assert self.driver.find_element(By.CSS_SELECTOR, ".app-qr-code svg")
        self.apps[email] = pyotp.TOTP(key)
        self.fill("code", self.code(email))
        self.press("Turn on two-factor sign-in")
        assert "Two-factor sign-in is on" in self.text()
        assert len(self.driver.find_elements(By.CSS_SELECTOR, ".app-recovery-codes li")) == 10
        self.follow("Continue")

    def code(self, email) -> str:
        """The app's code now, or its next one if this one was typed already."""
        now = time.time()
        step = max(int(now) // 30, self.last_step.get(email, -1) + 1)
        if step > int(now) // 30 + 1:
            time.sleep(30 - now % 30)
        self.last_step[email] = step
        return self.apps[email].at(step * 30)

    def sign_out(self):
        button = self.driver.find_element(By.CSS_SELECTOR, ".app-signed-in .app-link-button")
        self._then_wait_for_the_next_page(button.click)
        assert "You have signed out" in self.text()

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def fill(self, field_id, value):
        element = self.driver.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)

    def fill_by_name(self, name, value):
        element = self.driver.find_element(By.NAME, name)
        element.clear()
        element.send_keys(value)

    def choose(self, name, value):
        radio = self.driver.find_element(By.CSS_SELECTOR, f"input[name='{name}'][value='{value}']")
        self.driver.find_element(
            By.CSS_SELECTOR, f"label[for='{radio.get_attribute('id')}']"
        ).click()
        assert radio.is_selected()

    def select(self, field_id, visible_text):
        Select(self.driver.find_element(By.ID, field_id)).select_by_visible_text(visible_text)

    def _then_wait_for_the_next_page(self, click):
        page = self.driver.find_element(By.TAG_NAME, "html")
        click()
        WebDriverWait(self.driver, 10, poll_frequency=POLL).until(replaced(page))

    def press(self, label):
        button = self.driver.find_element(
            By.XPATH,
            f"//main//button[normalize-space()='{label}'] | "
            f"//main//input[@type='submit' and @value='{label}']",
        )
        self._then_wait_for_the_next_page(button.click)

    def follow(self, link_text):
        self._then_wait_for_the_next_page(self.driver.find_element(By.LINK_TEXT, link_text).click)

    def act(self, reference, action_link, fields, button):
        """From 'Waiting for you', open the difference and take an action on it."""
        self.follow("Waiting for you")
        self.follow(reference)
        self.follow(action_link)
        for name, value in fields.items():
            if name == "outcome":
                self.choose("outcome", value)
            else:
                self.fill(name, value)
        self.press(button)
        assert "There is a problem" not in self.text(), self.text()


def test_a_difference_from_raising_to_the_partnerships_decision(live_server, browser):
    person = Person(browser, live_server)

    person.sign_in(GP)
    person.follow("Raise a difference")
    assert "Is the child at immediate risk of significant harm?" in person.text()
    person.choose("immediate_risk", "no")
    person.press("Continue")
    person.fill("child_reference", "CSC-99001")
    person.fill("child_initials", "AB")
    people = Select(browser.find_element(By.ID, "named_professional"))
    everyone = [option.text for option in people.options]
    agencies = {name.split(" – ")[-1] for name in everyone[1:]}
    assert len(agencies) > 1, "before an agency is chosen, everyone is offered"
    person.select("receiving_agency", "Northshire Children's Social Care")
    # Once the agency is chosen, only its people are offered.
    offered = [option.text for option in people.options]
    assert offered[0] == "I do not know" and len(offered) > 1
    assert all(name.endswith("Children's Social Care") for name in offered[1:]), offered
    person.select(
        "named_professional", "Sam Okafor, Social Worker – Northshire Children's Social Care"
    )
    person.choose("category", "medical")
    person.fill("decision", "Not to arrange a child protection medical for the bruising I saw.")
    person.fill(
        "reasons",
        "Bruising on both upper arms of a pre-verbal child is not explained "
        "by the account given; it needs a paediatric opinion.",
    )
    person.fill("desired_outcome", "A child protection medical this week.")
    # When and with whom it was discussed is asked only after "Yes".
    discussion = browser.find_element(By.ID, "informal_discussion")
    assert not discussion.is_displayed()
    person.choose("discussed_informally", "yes")
    assert discussion.is_displayed()
    person.choose("discussed_informally", "no")
    assert not discussion.is_displayed()
    person.press("Continue")
    assert "Check your answers before raising the difference" in person.text()
    # Back to the questions and forward again: the answers are all there, nothing is sent
    # again, and the browser never asks to confirm a form resubmission.
    browser.back()
    assert browser.find_element(By.ID, "child_reference").get_attribute("value") == "CSC-99001"
    browser.forward()
    assert "Check your answers before raising the difference" in person.text()
    browser.refresh()
    assert "Check your answers before raising the difference" in person.text()
    person.press("Raise the difference")
    assert "Difference raised" in person.text()
    reference = re.search(r"RPD-\d{4}-\d{5}", person.text()).group(0)
    person.sign_out()

    person.sign_in(SOCIAL_WORKER)
    person.act(
        reference,
        "Respond",
        {
            "outcome": "upheld",
            "rationale": "The parent's explanation fits the marks, and the nursery saw the fall.",
            "child_impact": "No medical; the family keeps its early help support.",
        },
        "Send response",
    )
    person.sign_out()

    person.sign_in(GP)
    person.act(
        reference,
        "Escalate to the next stage",
        {
            "rationale": "Two separate bruises on both arms do not fit a single fall at nursery.",
        },
        "Escalate",
    )
    person.sign_out()

    person.sign_in(TEAM_MANAGER)
    person.act(
        reference,
        "Respond",
        {
            "outcome": "upheld",
            "rationale": "Managers reviewed the nursery's incident log, which records two falls.",
            "child_impact": "The decision stands; the social worker visits again this week.",
        },
        "Send response",
    )
    person.sign_out()

    person.sign_in(GP_LEAD)
    person.act(
        reference,
        "Escalate to the next stage",
        {
            "rationale": "We still disagree: a second fall is not in the parent's account.",
        },
        "Escalate",
    )
    person.sign_out()

    person.sign_in(HEAD_OF_SERVICE)
    person.act(
        reference,
        "Escalate to the next stage",
        {
            "rationale": "The designated doctor and I cannot agree: the partnership should decide.",
        },
        "Escalate",
    )
    person.sign_out()

    person.sign_in(CHAIR)
    person.act(
        reference,
        "Record the partnership's decision",
        {
            "outcome": "agreed",
            "decision": "Social care arranges a child protection medical within two days.",
            "rationale": "Unexplained bruising in a pre-verbal child needs a paediatric opinion.",
            "child_impact": "The child is seen by a paediatrician and the plan is reviewed after.",
        },
        "Record the decision",
    )
    assert "Resolved" in person.text()
    person.sign_out()

    person.sign_in(GP)
    person.follow("Your differences")
    person.follow(reference)
    assert "Resolved" in person.text()
    person.visit("/inbox")
    subjects = [
        row.text
        for row in browser.find_elements(By.CSS_SELECTOR, "tbody tr")
        if reference in row.text
    ]
    assert len(subjects) == 7, subjects
    everything_said = []
    for link in [
        a.get_attribute("href")
        for a in browser.find_elements(By.CSS_SELECTOR, "tbody a")
        if reference in a.text
    ]:
        browser.get(link)
        everything_said.append(person.text())
    said = "\n".join(everything_said)
    for rationale in (
        "The parent's explanation fits the marks",
        "Two separate bruises on both arms",
        "Managers reviewed the nursery's incident log",
        "a second fall is not in the parent's account",
        "the partnership should decide",
        "Unexplained bruising in a pre-verbal child needs a paediatric opinion.",
    ):
        assert rationale in said


def test_pages_work_under_the_content_security_policy(live_server, browser):
    """Every kind of script the pages run (the GOV.UK template's inline line, GOV.UK Frontend,
    the oversight charts) runs, and the browser reports no Content-Security-Policy violation."""
    person = Person(browser, live_server)
    person.sign_in(GP)
    for path in ("/waiting", "/differences/new", "/differences/yours", "/inbox", "/account"):
        person.visit(path)
        classes = browser.find_element(By.TAG_NAME, "body").get_attribute("class")
        assert "js-enabled" in classes and "govuk-frontend-supported" in classes, path
    person.visit("/differences/new/details?urgent=no")
    # GOV.UK Frontend's character count ran: it adds its live message.
    assert browser.find_elements(By.CSS_SELECTOR, ".govuk-character-count__status")
    person.sign_out()
    person.sign_in(CHAIR)
    for path in ("/oversight/", "/oversight/report", "/oversight/unresolved", "/changes"):
        person.visit(path)
        assert "js-enabled" in browser.find_element(By.TAG_NAME, "body").get_attribute("class")
        if path in ("/oversight/", "/oversight/report"):
            WebDriverWait(browser, 10, poll_frequency=POLL).until(
                expected_conditions.presence_of_element_located(
                    (By.CSS_SELECTOR, ".app-chart--drawn canvas")
                )
            )
    reports = [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]
    assert reports == []
    # And the policy is in force: an inline script without the nonce does not run.
    ran = browser.execute_script(
        "var s = document.createElement('script'); s.textContent = 'window.inlineRan = true';"
        "document.head.appendChild(s); return window.inlineRan === true;"
    )
    assert ran is False
