"""The follow-through in a real browser (Debian's Chromium), with the demo partnership's logins.

The social worker answers the GP's difference "agreed" with two actions; the GP accepts; both
agencies copy the outcome onto the child's record in their own systems and confirm the date;
the sweep asks about each action on its due date; one is marked done, the other is missed and
the GP raises a follow-up difference from it in one click; on the follow-up a professionals'
meeting is arranged, its outcome recorded and then its minutes; the partnership's chair writes a
learning note with an owner, moves it to "In progress", and finds it in the quarter's report.
The clock is the application's, moved on between the steps. If Chromium cannot start, this test
fails: it never skips.
"""

import re
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from escalate import services
from escalate.extensions import db
from escalate.models import Agency, User
from tests.browser.test_journey import (  # noqa: F401 (fixtures: the browser, the served demo)
    CHAIR,
    GP,
    SOCIAL_WORKER,
    TEAM_MANAGER,
    browser,
    live_server,
)
from tests.browser.test_urgent import CLOCK, PersonOnTheClock

MONDAY_10AM = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # London is on GMT
TUESDAY_9_30 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
THURSDAY_10AM = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
NEXT_MONDAY_10AM = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@pytest.fixture
def app_config():
    CLOCK["now"] = MONDAY_10AM
    return {"CLOCK": lambda: CLOCK["now"]}


class Professional(PersonOnTheClock):
    def fill_date(self, name: str, day: date, within=None):
        scope = within or self.driver
        for part, value in (("day", day.day), ("month", day.month), ("year", day.year)):
            box = scope.find_element(By.ID, f"{name}-{part}")
            box.clear()
            box.send_keys(str(value))

    def follow_first(self, link_text: str):
        """The first link whose words start with these (links may name what they are about
        for screen readers only)."""
        link = self.driver.find_element(By.PARTIAL_LINK_TEXT, link_text)
        self._then_wait_for_the_next_page(link.click)

    def press_within(self, element, label: str):
        button = element.find_element(By.XPATH, f".//button[normalize-space()='{label}']")
        self._then_wait_for_the_next_page(button.click)

    def confirm_every_entry_recorded(self, reference: str, on: date) -> int:
        """Confirm, one by one, each outcome this person's agency still has to record."""
        confirmed = 0
        while True:
            self.visit(f"/differences/{reference}")
            forms = self.driver.find_elements(
                By.XPATH, "//div[contains(@class, 'app-record-entry')][.//form]"
            )
            if not forms:
                return confirmed
            entry = forms[0]
            name = entry.find_element(By.CSS_SELECTOR, "input[id$='-recorded_on-day']")
            self.fill_date(name.get_attribute("id").removesuffix("-day"), on, within=entry)
            self.press_within(entry, "Confirm it is recorded")
            assert "There is a problem" not in self.text(), self.text()
            confirmed += 1


def sweep_at(app, moment) -> str:
    CLOCK["now"] = moment
    with app.app_context():
        return str(services.sweep.sweep(moment))


def test_agreed_actions_records_a_meeting_and_learning_follow_the_outcome(
    app, live_server, browser  # noqa: F811
):
    person = Professional(browser, live_server)
    with app.app_context():
        gp = db.session.scalar(sa.select(User).where(User.email == GP))
        social_worker = db.session.scalar(sa.select(User).where(User.email == SOCIAL_WORKER))
        csc = db.session.get(Agency, social_worker.agency_id)
        difference = services.differences.raise_difference(
            gp,
            services.differences.NewDifference(
                receiving_agency_id=csc.id,
                named_professional_id=social_worker.id,
                child_reference="RMP-40611",
                child_initials="LB",
                category="medical",
                decision="Not to arrange a child protection medical for bruising to the ear.",
                reasons="Bruising to the ear of a non-mobile baby is not explained by a fall "
                "from the sofa; the mother's account changed between two visits.",
                desired_outcome="A child protection medical and a strategy discussion.",
                discussed_informally=False,
                immediate_risk=False,
            ),
            MONDAY_10AM,
        )
        reference, csc_id, csc_name = difference.reference, csc.id, csc.name
        team_manager_id = db.session.scalar(sa.select(User.id).where(User.email == TEAM_MANAGER))
        db.session.remove()

    # The social worker agrees, with two actions for social care.
    person.sign_in(SOCIAL_WORKER)
    person.visit(f"/differences/{reference}")
    person.follow("Respond")
    person.choose("outcome", "agreed")
    person.fill("rationale", "The GP is right: the account changed and the baby is not mobile.")
    person.fill("child_impact", "The baby is seen by a paediatrician and the risks are assessed.")
    person.fill("action_1_what", "Arrange a child protection medical with the paediatrician.")
    person.choose("action_1_agency", str(csc_id))
    person.fill_date("action_1_due", date(2026, 12, 1))
    person.fill("action_2_what", "Hold a strategy discussion with health and the police.")
    person.choose("action_2_agency", str(csc_id))
    person.fill_date("action_2_due", date(2026, 12, 2))
    person.press("Send response")
    shown = person.text()
    assert "There is a problem" not in shown, shown
    assert "Actions agreed" in shown and "Hold a strategy discussion" in shown, shown
    person.sign_out()

    # The GP accepts it; the outcome is waiting to go on the practice's record of the child.
    person.sign_in(GP)
    person.visit(f"/differences/{reference}")
    person.follow("Accept the response")
    person.press("Accept and resolve")
    assert "Resolved" in person.text()
    person.visit("/waiting")
    assert reference in person.text() and "Outcomes to record" in person.text(), person.text()
    person.visit(f"/differences/{reference}")
    entry = browser.find_element(By.CSS_SELECTOR, "textarea.app-record-text").get_attribute(
        "value"
    )
    assert reference in entry and "LB" in entry and "account changed" in entry, entry
    assert person.confirm_every_entry_recorded(reference, date(2026, 11, 30)) == 2
    assert "Recorded in Riverside Medical Practice's system on 30 November 2026" in (
        person.text()
    ), person.text()
    person.sign_out()

    # Social care records it too.
    person.sign_in(SOCIAL_WORKER)
    assert person.confirm_every_entry_recorded(reference, date(2026, 11, 30)) == 2
    person.sign_out()

    # Tuesday: the sweep asks about the medical, due today; the social worker marks it done.
    assert "agreed action" in sweep_at(app, TUESDAY_9_30)
    person.sign_in(SOCIAL_WORKER)
    person.visit("/inbox")
    inbox = person.text()
    assert re.search(rf"{reference}.*is agreed action 1 done\?", inbox), inbox
    assert not re.search(rf"{reference}.*is agreed action 2 done\?", inbox), inbox
    person.visit(f"/differences/{reference}")
    person.follow_first("Mark as done")
    person.fill("note", "Dr Shah saw the baby at 2pm on Tuesday; the report is on the file.")
    person.press("Mark as done")
    assert "Done on" in person.text(), person.text()
    person.sign_out()

    # Thursday: the strategy discussion, due yesterday, was never held: it is overdue, and the
    # GP raises a follow-up difference from it in one click.
    sweep_at(app, THURSDAY_10AM)
    person.sign_in(GP)
    person.visit("/inbox")
    inbox = person.text()
    assert re.search(rf"{reference}.*agreed action 2 is due today", inbox), inbox
    person.visit(f"/differences/{reference}")
    assert "Overdue" in person.text(), person.text()
    person.press("Raise a follow-up difference from action 2")
    follow_up = re.search(r"RPD-\d{4}-\d{5}", browser.current_url).group(0)
    assert follow_up != reference
    shown = person.text()
    assert f"This difference follows up action 2, agreed in {reference}" in shown, shown
    assert "Drift or delay in an agreed plan" in shown, shown

    # On the follow-up, a professionals' meeting is arranged for Friday.
    person.follow("Arrange a professionals' meeting")
    person.fill_date("meets_on", date(2026, 12, 4))
    person.fill("chair", "Jo Evans, team manager")
    person.fill("invited", "Sam Okafor (social care), Emma Clarke (GP), DS Lee (police).")
    person.press("Arrange the meeting")
    assert "The meeting has been arranged" in person.text(), person.text()
    person.sign_out()

    # The next Monday the GP records what was agreed at it, and then its minutes.
    CLOCK["now"] = NEXT_MONDAY_10AM
    person.sign_in(GP)
    person.visit("/waiting")
    assert follow_up in person.text(), person.text()
    person.visit(f"/differences/{follow_up}")
    person.follow_first("Record the outcome")
    person.fill("attendees", "Sam Okafor, Emma Clarke, DS Lee and Jo Evans (chair).")
    person.fill("agreed", "The strategy discussion is on Tuesday at 10am, chaired by Jo Evans.")
    person.press("Record the outcome")
    assert "There is a problem" not in person.text(), person.text()
    person.follow_first("Record the minutes")
    person.fill_date("minutes_recorded_on", date(2026, 12, 7))
    person.press("Record the minutes")
    assert "Minutes recorded on 7 December 2026" in person.text(), person.text()
    person.sign_out()

    # The chair sees both agencies recorded the outcome, writes the learning with an owner,
    # moves it on, and finds it in the quarter's report.
    person.sign_in(CHAIR)
    person.visit(f"/differences/{reference}")
    shown = person.text()
    assert shown.count("Recorded in") >= 4 and "Not yet recorded" not in shown, shown
    person.follow("Add a learning note")
    person.fill("text", "A changing account of a baby's injury was not treated as a warning.")
    person.fill("recommendation", "Add changing accounts to the bruising protocol's triggers.")
    Select(browser.find_element(By.ID, "owner_agency")).select_by_value(str(csc_id))
    Select(browser.find_element(By.ID, "owner")).select_by_value(str(team_manager_id))
    person.fill_date("due_on", date(2027, 1, 29))
    person.press("Add the learning note")
    assert "There is a problem" not in person.text(), person.text()
    person.follow_first("Update the status, owner or due date")
    person.choose("status", "in_progress")
    person.fill("reason", "The protocol group has the draft wording on its January agenda.")
    person.press("Update the learning note")
    assert "There is a problem" not in person.text(), person.text()
    person.visit("/oversight/report")
    report = person.text()
    row = browser.find_element(
        By.XPATH,
        "//table[caption[normalize-space()='Learning notes of the period']]"
        f"//tr[td[1][normalize-space()='{reference}']]",
    ).text
    assert "Jo Evans" in row and "In progress" in row and csc_name in row, row
    assert "Outcomes recorded" in report, report
    person.sign_out()
