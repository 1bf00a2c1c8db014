"""Accessibility of every page state, for every role, in a real browser (Debian's Chromium).

On the demo partnership, each page a person can reach is opened in each state they can reach it
in: with its lists full and empty, each form as first shown and sent blank (every error shown),
and the pages that say something went wrong (400, 403, 404, 405, 409, 429). On every one,
axe-core checks WCAG 2.0, 2.1 and 2.2 A and AA, the page must not scroll sideways at 320 CSS
pixels, and it must have one h1 and a title that names it. Any failure fails the test, with every
problem listed. The respond and audit journeys are then done by keyboard alone, the focus
visible at every stop.

The number of page states checked is printed at the end of the run (tests/browser/conftest.py).
If Chromium cannot start, these tests fail: they never skip.
"""

import re
import uuid
from datetime import UTC, date, datetime

import pyotp
import pytest
import sqlalchemy as sa
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from escalate.demo import DEMO_PASSWORD
from escalate.extensions import db
from escalate.models import Difference, State, User
from tests.browser import pages
from tests.conftest import ACCESSIBILITY_PROPERTY as PROPERTY

GP = "emma.clarke@riverside.northshire.example"
SOCIAL_WORKER = "sam.okafor@csc.northshire.example"
SCHOOL_DSL = "kate.murphy@academy.northshire.example"
FAMILY_SUPPORT = "mia.jones@earlyhelp.northshire.example"
TEAM_MANAGER = "jo.evans@csc.northshire.example"
GP_LEAD = "david.chen@riverside.northshire.example"
HEAD_OF_SERVICE = "priya.shah@csc.northshire.example"
DESIGNATED_DOCTOR = "anna.fisher@icb.northshire.example"
CHAIR = "ruth.adeyemi@partnership.northshire.example"
AUDITOR = "inspector@scrutiny.example"
ADMIN = "admin@partnership.northshire.example"
AGENCY_PEOPLE = {  # email: role
    GP: "practitioner",
    SOCIAL_WORKER: "practitioner",
    SCHOOL_DSL: "practitioner",
    FAMILY_SUPPORT: "practitioner",
    TEAM_MANAGER: "manager",
    GP_LEAD: "manager",
    HEAD_OF_SERVICE: "senior",
    DESIGNATED_DOCTOR: "senior",
}
# Fewer than this many states checked means the catalogue lost pages on the way.
AT_LEAST = 150


@pytest.fixture
def app_config():
    # Sign-in limits on, so that the "too many attempts" page can be reached.
    return {
        "RATELIMIT_ENABLED": True,
        "SIGN_IN_LIMIT_PER_ACCOUNT": "3 per 15 minutes",
        "SIGN_IN_LIMIT_PER_ADDRESS": "1000 per 15 minutes",
    }


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    """One browser for the whole module."""
    chromium = pages.start_chromium(tmp_path_factory.mktemp("chromium"))
    yield chromium
    chromium.quit()


@pytest.fixture
def demo(app, runner):
    result = runner.invoke(args=["escalate", "seed-demo"])
    assert result.exit_code == 0, result.output
    with pages.served(app) as base_url:
        yield base_url


class Catalogue:
    """Checks page states one after another and keeps every problem, to fail once at the end."""

    def __init__(self, browser: pages.Browser):
        self.browser = browser
        self.checked: list[str] = []
        self.failures: list[str] = []

    def check(self, state: str, status_text: str | None = None) -> None:
        """Check the page as it stands now; `status_text`, when given, must be on it (so that
        the state checked is the state meant)."""
        browser = self.browser
        label = f"{state} [{browser.path}]"
        self.checked.append(label)
        problems = browser.problems()
        if status_text is not None and status_text not in browser.text():
            problems.append(f"expected {status_text!r} on the page")
        if problems:
            self.failures.append(label + "\n    " + "\n    ".join(problems))

    def visit(self, state: str, path: str, status_text: str | None = None) -> None:
        self.browser.visit(path)
        self.check(state, status_text)

    def errors_of(self, state: str, button_text: str | None = None) -> None:
        """Send the form on this page blank, and check the page with all its errors."""
        self.browser.submit_blank(button_text)
        self.check(state + ", sent blank", "There is a problem")


def references(browser: pages.Browser) -> list[str]:
    return [
        href
        for href in browser.links("main a[href^='/differences/RPD-']")
        if re.fullmatch(r"/differences/RPD-\d{4}-\d{5}", href)
    ]


def actions_on(browser: pages.Browser, path: str) -> list[str]:
    return [
        href
        for href in browser.links(f"main a[href^='{path}/']")
        if not href.endswith("/raised")
    ]


def walk_signed_out(c: Catalogue) -> None:
    b = c.browser
    b.sign_out()
    c.visit("signed out: sign in", "/sign-in")
    c.errors_of("signed out: sign in")
    b.fill({"email": "nobody@example.org", "password": "not the password"}, "Sign in")
    c.check("signed out: sign in refused", "Enter a correct email address and password")
    c.visit("signed out: accessibility statement", "/accessibility")
    c.visit("signed out: a page that does not exist (404)", "/no-such-page", "Page not found")
    c.visit("signed out: a set-password link that does not exist (404)", "/set-password/nope")
    b.visit("/sign-out")
    c.check("signed out: a page asked for the wrong way (405)")
    # A form sent with a session that has expired (its CSRF token no longer matches): 400.
    b.visit("/sign-in")
    b.driver.execute_script("document.querySelector('[name=csrf_token]').value = 'expired'")
    b.fill({"email": GP, "password": DEMO_PASSWORD}, "Sign in")
    c.check("signed out: a form sent after its session expired (400)")
    # Too many failed sign-ins for one account: 429.
    guessed = f"guessed-{uuid.uuid4().hex[:8]}@example.org"
    for _ in range(4):
        b.visit("/sign-in")
        b.fill({"email": guessed, "password": "wrong guess"}, "Sign in")
    c.check("signed out: too many sign-in attempts (429)")


def walk_agency_person(c: Catalogue, email: str, seen: set) -> None:
    """Everything a practitioner, manager or senior manager sees, and every action form they
    may use on the differences in their lists (each form once for each role)."""
    b = c.browser
    b.sign_in(email)
    role = AGENCY_PEOPLE.get(email, "practitioner")
    who = f"{email.split('@')[0]} ({role})"
    c.visit(f"{who}: waiting for you", "/waiting")
    c.visit(f"{who}: your differences", "/differences/yours")
    c.visit(f"{who}: inbox", "/inbox")
    messages = b.links("main a[href^='/inbox/']")
    if messages:
        c.visit(f"{who}: a message", messages[0])
    c.visit(f"{who}: your account", "/account")
    c.visit(f"{who}: the dashboard is not for them (403)", "/oversight/")
    c.visit(f"{who}: a difference that does not exist (404)", "/differences/RPD-1999-99999")
    b.visit("/differences/yours")
    listed = references(b)
    b.visit("/waiting")
    listed += [r for r in references(b) if r not in listed]
    for path in listed:
        c.visit(f"{who}: a difference", path)
        for action in actions_on(b, path):
            slug = action.rsplit("/", 1)[1]
            if (role, slug) in seen:
                continue  # the same form for the same role: once is enough
            seen.add((role, slug))
            c.visit(f"{who}: {slug}", action)
            if slug == "accept":
                # Its only field is optional: too long a comment is the error it can show.
                b.driver.execute_script(
                    "document.getElementById('comment').value = 'x'.repeat(10001)"
                )
                b.after(b.form_with("Accept and resolve")[1].click)
                c.check(f"{who}: accept, comment too long", "There is a problem")
            else:
                c.errors_of(f"{who}: {slug}")
            b.visit(path)
        # Confirming an outcome is recorded on the agency's own system: its form is on the
        # difference's page; its own page is where a refused date is shown.
        records = b.driver.execute_script(
            "return [...document.querySelectorAll(\"main form[action*='/records/']\")]"
            ".map(function (form) { return form.getAttribute('action'); })"
        )
        if records and (role, "records") not in seen:
            seen.add((role, "records"))
            c.visit(f"{who}: confirm an outcome is recorded", records[0])
            c.errors_of(f"{who}: confirm an outcome is recorded", "Confirm it is recorded")


def walk_raising(c: Catalogue) -> None:
    """The raise journey, every question sent blank on the way, as the GP."""
    b = c.browser
    b.sign_in(GP)
    c.visit("GP: is the child at immediate risk?", "/differences/new")
    c.errors_of("GP: is the child at immediate risk?")
    b.fill({"immediate_risk=yes": True}, "Continue")
    c.check("GP: act now, the child is at immediate risk")
    c.visit("GP: tell us about an urgent difference", "/differences/new/details?urgent=yes")
    c.errors_of("GP: tell us about an urgent difference")
    c.visit("GP: tell us about the difference", "/differences/new/details?urgent=no")
    c.errors_of("GP: tell us about the difference")
    b.visit("/differences/new/details?urgent=no")
    b.fill(
        {
            "child_reference": "CSC-99001",
            "child_initials": "AB",
            "receiving_agency": "Northshire Children's Social Care",
            "category=medical": True,
            "decision": "Not to arrange a child protection medical for the bruising I saw.",
            "reasons": "Bruising on both upper arms of a pre-verbal child is not explained "
            "by the account given; it needs a paediatric opinion.",
            "desired_outcome": "A child protection medical this week.",
            "discussed_informally=no": True,
        },
        "Continue",
    )
    c.check("GP: check your answers", "Check your answers")
    b.after(b.form_with("Raise the difference")[1].click)
    c.check("GP: difference raised", "Difference raised")
    # Someone else acted first: the form comes back as typed, with the difference as it is now.
    raised = re.search(r"RPD-\d{4}-\d{5}", b.text()).group(0)
    b.visit(f"/differences/{raised}/withdraw")
    b.driver.execute_script("document.getElementById('version').value = '0'")
    b.fill(
        {"rationale": "The social worker has agreed to arrange the medical after all."},
        "Withdraw the difference",
    )
    c.check("GP: someone else acted first (409)", "changed")


def walk_oversight(c: Catalogue, email: str) -> None:
    b = c.browser
    b.sign_in(email, c)
    who = "partnership" if email == CHAIR else "auditor"
    b.visit("/oversight/")
    for section in b.links("nav.moj-sub-navigation a"):
        c.visit(f"{who}: dashboard {section.rsplit('/', 1)[-1] or 'overview'}", section)
    c.visit(f"{who}: unresolved differences", "/oversight/unresolved")
    b.visit("/oversight/unresolved")
    first_agency = b.driver.execute_script(
        "return document.querySelector('#agency option:nth-child(2)').value"
    )
    c.visit(
        f"{who}: unresolved, filtered",
        f"/oversight/unresolved?agency={first_agency}&side=raising&only=overdue&sort=oldest",
        "Selected filters",
    )
    c.visit(
        f"{who}: unresolved, filters that cannot be used",
        "/oversight/unresolved?stage=99&min_age=soon&sort=sideways",
        "Some filters were not used",
    )
    c.visit(
        f"{who}: unresolved, nothing matches",
        "/oversight/unresolved?min_age=36500",
        "No unresolved differences match",
    )
    c.visit(f"{who}: report", "/oversight/report")
    c.errors_of(f"{who}: report", "Show the report")
    c.visit(
        f"{who}: report of a period with nothing in it",
        "/oversight/report?start=1&start=1&start=2020"
        "&end=31&end=3&end=2020",
    )
    c.visit(f"{who}: report spreadsheet asked for wrongly (400)", "/oversight/report.csv?from=x")
    c.visit(f"{who}: changes", "/changes")
    c.visit(f"{who}: inbox", "/inbox")
    c.visit(f"{who}: your account", "/account")
    c.visit(f"{who}: administration is not for them (403)", "/admin")
    c.visit(f"{who}: learning", "/oversight/learning")
    c.visit(f"{who}: learning, overdue only", "/oversight/learning?only=overdue")
    if who == "partnership":
        c.visit("partnership: waiting for you", "/waiting")
        c.visit("partnership: your differences", "/differences/yours")
        b.visit("/oversight/report")
        c.errors_of("partnership: report, its impact", "Save the impact")
        b.visit("/oversight/learning")
        notes = [h for h in b.links("main a[href^='/oversight/learning/']")]
        assert notes, "the demo's learning notes have no update links"
        c.visit("partnership: update a learning note", notes[0])
        c.errors_of("partnership: update a learning note")


def walk_differences_as_partnership(c: Catalogue, app) -> None:
    """Every difference of the demo, in every state, as the partnership sees it; its decision
    and learning-note forms."""
    b = c.browser
    b.sign_in(CHAIR)
    with app.app_context():
        rows = db.session.execute(
            sa.select(Difference.reference, Difference.state, Difference.stage_level).order_by(
                Difference.id
            )
        ).all()
        db.session.remove()
    for reference, state, level in rows:
        c.visit(f"partnership: a difference, {state.value} at stage {level}",
                f"/differences/{reference}")
    final = next(r for r, state, level in rows if level == 4 and state == State.AWAITING_RESPONSE)
    c.visit("partnership: decide", f"/differences/{final}/decide")
    c.errors_of("partnership: decide")
    closed = next(r for r, state, _ in rows if state == State.RESOLVED)
    c.visit("partnership: learning note", f"/oversight/differences/{closed}/learning-note")
    c.errors_of("partnership: learning note")
    c.visit(
        "partnership: a learning note on an open difference (409)",
        f"/oversight/differences/{final}/learning-note",
    )


def walk_administration(c: Catalogue) -> None:
    b = c.browser
    b.sign_in(ADMIN, c)
    c.visit("admin: administration", "/admin")
    c.visit("admin: agencies", "/admin/agencies")
    c.visit("admin: add an agency", "/admin/agencies/new")
    c.errors_of("admin: add an agency")
    b.visit("/admin/agencies")
    agency = b.links("main a[href^='/admin/agencies/']")[-1]
    c.visit("admin: an agency and its stage contacts", agency)
    c.errors_of("admin: add a stage contact", "Add stage contact")
    c.visit("admin: change an agency", agency + "/change")
    c.errors_of("admin: change an agency")
    c.visit("admin: people", "/admin/users")
    c.visit(
        "admin: people, none match", "/admin/users?role=auditor&status=deactivated", "No accounts"
    )
    c.visit("admin: invite someone", "/admin/users/invite")
    c.errors_of("admin: invite someone")
    b.visit("/admin/users/invite")
    newcomer = f"new.{uuid.uuid4().hex[:6]}@csc.northshire.example"
    b.fill(
        {
            "name": "Alex Newman",
            "email": newcomer,
            "job_title": "Social Worker",
            "role=practitioner": True,
            "agency": "Northshire Children's Social Care",
        },
        "Create account and send link",
    )
    c.check("admin: an invitation made", "Alex Newman")
    link = b.driver.execute_script(
        "return document.querySelector('.app-secret-link code').textContent"
    )
    b.visit("/admin/users")
    person = b.links("main a[href^='/admin/users/']")[-1]
    c.visit("admin: a person", person)
    c.visit("admin: change a person", person + "/change")
    c.errors_of("admin: change a person")
    c.visit("admin: deactivate a person", person + "/deactivate")
    c.visit("admin: stage policy", "/admin/policy")
    c.visit("admin: change a stage", "/admin/policy/stages/1")
    c.errors_of("admin: change a stage")
    c.visit("admin: add a stage", "/admin/policy/stages/new")
    c.errors_of("admin: add a stage")
    c.visit("admin: remove the last stage", "/admin/policy/stages/remove-last")
    c.visit("admin: recompute deadlines", "/admin/policy/recompute")
    c.visit("admin: working calendar", "/admin/calendar")
    c.errors_of("admin: working calendar, a closure day", "Add closure day")
    c.visit("admin: if a child is in immediate danger", "/admin/act-now")
    c.errors_of("admin: if a child is in immediate danger")
    c.visit("admin: changes", "/changes")
    c.visit("admin: the dashboard is not for them (403)", "/oversight/")
    c.visit("admin: a set-password link while signed in (409)", link.split("://", 1)[1][
        link.split("://", 1)[1].index("/"):
    ])
    # The newcomer sets their password, and finds everything empty.
    b.sign_out()
    path = link.split("://", 1)[1]
    path = path[path.index("/"):]
    c.visit("newcomer: set your password", path)
    c.errors_of("newcomer: set your password")
    b.visit(path)
    password = "a long enough password for the newcomer"
    b.fill({"password": password, "confirmation": password}, "Set password")
    b.password = password
    b.sign_in(newcomer)
    b.password = DEMO_PASSWORD
    c.visit("newcomer: nothing waiting", "/waiting", "Nothing is waiting for you")
    c.visit("newcomer: no differences", "/differences/yours", "You have not raised any")
    c.visit("newcomer: no messages", "/inbox", "You have no messages")


def leave_questions_for_the_raising_side(app) -> None:
    """A request for more time and a lead's proposal to withdraw, each waiting for the raising
    side, so that the pages that answer them are checked too (the demo holds neither)."""
    from escalate import queries, services, workflow
    from escalate.models import Side

    with app.app_context():
        now = (app.config.get("CLOCK") or (lambda: datetime.now(UTC)))()
        asked = proposed = False
        for d in db.session.scalars(
            sa.select(Difference).where(Difference.state == State.AWAITING_RESPONSE)
            .order_by(Difference.id)
        ):
            if d.raiser.email not in AGENCY_PEOPLE:
                continue  # its raiser's pages are not walked
            stage = d.open_stage
            for action, side in (
                (workflow.Action.EXTEND, Side.RESPONDER),
                (workflow.Action.PROPOSE_WITHDRAW, Side.LEAD),
            ):
                if (asked if action == workflow.Action.EXTEND else proposed):
                    continue
                for person in stage.people(side):
                    try:
                        queries.differences.ensure_may(person, d, action, now)
                    except workflow.DomainError:
                        continue
                    if action == workflow.Action.EXTEND:
                        day = queries.differences.extension_choices(d, now)[0][0]
                        services.extension_requests.request_extension(
                            person, d.id, d.version, now=now,
                            new_deadline=date.fromisoformat(day),
                            rationale="The paediatrician's report is due on Tuesday.",
                        )
                        asked = True
                    else:
                        services.proposals.propose(
                            person, d.id, d.version, kind="withdraw", now=now,
                            rationale="The medical has been arranged for tomorrow morning.",
                        )
                        proposed = True
                    d = db.session.get(Difference, d.id)
                    break
        db.session.remove()
    assert asked and proposed, (asked, proposed)


def arrange_a_meeting_for_today(app) -> None:
    """A professionals' meeting on one of the GP's open differences, meeting today, so that the
    pages that record its outcome and minutes are checked too (the demo holds none)."""
    from escalate import services

    with app.app_context():
        now = (app.config.get("CLOCK") or (lambda: datetime.now(UTC)))()
        d = db.session.scalars(
            sa.select(Difference)
            .join(Difference.raiser)
            .where(Difference.state == State.AWAITING_RESPONSE, User.email == GP)
            .order_by(Difference.id)
        ).first()
        services.meetings.arrange_meeting(
            d.raiser, d.id, None, now=now, meets_on=now.date(),
            invited="The social worker, the GP and the health visitor.",
            chair="Jo Evans, team manager",
        )  # fmt: skip
        db.session.remove()


def test_every_page_state_for_every_role_passes_axe_reflows_and_is_named(
    app, demo, driver, database_url, record_property
):
    leave_questions_for_the_raising_side(app)
    arrange_a_meeting_for_today(app)
    browser = pages.Browser(driver, demo, DEMO_PASSWORD)
    c = Catalogue(browser)
    walk_signed_out(c)
    seen = set()
    for email in AGENCY_PEOPLE:
        walk_agency_person(c, email, seen)
    walk_oversight(c, CHAIR)
    walk_differences_as_partnership(c, app)
    walk_oversight(c, AUDITOR)
    walk_administration(c)
    walk_raising(c)
    browser.sign_out()

    record_property(PROPERTY, (database_url.split(":", 1)[0], len(c.checked)))
    assert len(c.checked) >= AT_LEAST, c.checked
    # The questions left for the raising side, the meeting arranged, the demo's agreed actions.
    for slug in ("more-time", "answer-proposal", "outcome", "minutes", "done", "arrange-meeting"):
        assert any(f": {slug} [" in state for state in c.checked), (slug, c.checked)
    assert not c.failures, f"{len(c.failures)} of {len(c.checked)} page states fail:\n" + (
        "\n".join(c.failures)
    )


# --- By keyboard alone ---------------------------------------------------------------------------


def sign_in_by_keyboard(b: pages.Browser, email: str) -> None:
    b.sign_out()
    b.visit("/sign-in")
    b.type_into("email", email)
    b.type_into("password", DEMO_PASSWORD)
    b.after(lambda: b.press(Keys.ENTER))
    if b.driver.find_element(By.TAG_NAME, "h1").text == "Set up two-factor sign-in":
        key = b.driver.find_element(By.ID, "setup-key").text.replace(" ", "")
        b.apps[email] = pyotp.TOTP(key)
        b.type_into("code", b.code(email))
        b.tab_to(lambda f: f["text"] == "Turn on two-factor sign-in")
        b.after(lambda: b.press(Keys.ENTER))
        b.follow_by_keyboard("Continue")
    assert "Signed in as" in b.text()


def test_an_auditor_reads_a_difference_the_dashboard_and_the_report_by_keyboard_alone(
    demo, driver
):
    b = pages.Browser(driver, demo, DEMO_PASSWORD)
    sign_in_by_keyboard(b, AUDITOR)
    assert b.driver.find_element(By.TAG_NAME, "h1").text == "Dashboard"
    # One figure, one section away.
    b.follow_by_keyboard("Outcomes")
    assert b.driver.find_element(By.TAG_NAME, "h1").text == "Outcomes"
    assert "Closed differences by outcome" in b.text()
    # A table scrolls inside its own region: on a phone it is reached and scrolled by keyboard.
    with b.width(pages.REFLOW_WIDTH):
        region = b.tab_to(lambda f: f["tag"] == "div" and f["text"].startswith("Closed"))
        assert region["visible"]
    b.follow_by_keyboard("Unresolved differences")
    focus = b.tab_to(lambda f: re.fullmatch(r"/differences/RPD-\d{4}-\d{5}", f["href"]))
    reference = focus["text"]
    b.after(lambda: b.press(Keys.ENTER))
    assert reference in b.driver.find_element(By.TAG_NAME, "h1").text
    assert "History" in b.text()
    b.follow_by_keyboard("Report")
    b.type_into("start-year", Keys.BACKSPACE * 4 + "2026")
    b.tab_to(lambda f: f["text"] == "Show the report")
    b.after(lambda: b.press(Keys.ENTER))
    assert "Partnership report" in b.text() and "There is a problem" not in b.text()


def first_asking_for_a_response(b: pages.Browser, paths: list[str]) -> str:
    for path in paths:
        b.visit(path)
        if f"{path}/respond" in actions_on(b, path):
            return path
    raise AssertionError(f"none of {paths} asks for a response")


def test_a_social_worker_responds_to_a_difference_by_keyboard_alone(demo, driver):
    b = pages.Browser(driver, demo, DEMO_PASSWORD)
    sign_in_by_keyboard(b, SOCIAL_WORKER)
    b.follow_by_keyboard("Waiting for you")
    # The first difference on the list that asks them for a response, found by keyboard.
    respond = first_asking_for_a_response(b, references(b))
    b.visit("/waiting")
    b.tab_to(lambda f: f["href"] == respond)
    b.after(lambda: b.press(Keys.ENTER))
    assert respond.rsplit("/", 1)[1] in b.driver.find_element(By.TAG_NAME, "h1").text
    b.follow_by_keyboard("Respond")
    # What the difference is about is on the page being answered.
    assert "Why they disagree" in b.text()
    # Into the answers: arrow keys choose, and the question an answer reveals follows it.
    first = b.tab_to(lambda f: f["name"] == "outcome")
    assert first["value"] == "agreed"
    b.press(Keys.SPACE)
    assert b.focus()["checked"]
    b.tab_to(lambda f: f["id"] == "action_1_what")
    b.tab_to(lambda f: f["name"] == "outcome", backwards=True)
    b.press(Keys.ARROW_DOWN)
    b.press(Keys.ARROW_DOWN)
    assert (b.focus()["value"], b.focus()["checked"]) == ("upheld", True)
    b.type_into("rationale", "The parent's account fits the marks, and the nursery saw the fall.")
    b.type_into("child_impact", "Early help continues; the health visitor sees the child weekly.")
    b.tab_to(lambda f: f["text"] == "Send response")
    b.after(lambda: b.press(Keys.ENTER))
    assert "Your response has been sent" in b.text(), b.text()
    assert "There is a problem" not in b.text()
