"""Issue's own case in a real browser (Debian's Chromium), with the demo partnership's logins:
an urgent difference is faster, and the raiser keeps their voice.

A GP raises an urgent difference at stage 2 on a Monday morning and is given a deadline four
working hours away; nobody on the responding side can extend it; the GP escalates before any
response; the designated doctor's proposal to withdraw it is refused by the GP and it goes on; a
lead's proposal the GP leaves unanswered on another difference applies once the window ends (the
sweep, with the clock moved on); the partnership was alerted when it was raised and when it
reached the senior stage; "n/a" is refused as a reason. If Chromium cannot start, this test
fails: it never skips.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from escalate import services
from escalate.extensions import db
from escalate.models import Agency, Difference, Side, User
from tests.browser.test_journey import (  # noqa: F401 (fixtures: the browser, the served demo)
    CHAIR,
    GP,
    SOCIAL_WORKER,
    TEAM_MANAGER,
    Person,
    browser,
    live_server,
)

DESIGNATED_DOCTOR = "anna.fisher@icb.northshire.example"
MONDAY_10AM = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # London is on GMT
CLOCK = {"now": MONDAY_10AM}


@pytest.fixture
def app_config():
    CLOCK["now"] = MONDAY_10AM
    return {"CLOCK": lambda: CLOCK["now"]}


class PersonOnTheClock(Person):
    """Types the authenticator app's code for the application's clock, not the machine's."""

    def code(self, email) -> str:
        step = max(int(CLOCK["now"].timestamp()) // 30, self.last_step.get(email, -1) + 1)
        self.last_step[email] = step
        return self.apps[email].at(step * 30)


def page_of(person: Person, reference: str) -> str:
    person.visit(f"/differences/{reference}")
    return person.text()


def test_an_urgent_difference_is_faster_and_the_raiser_keeps_their_voice(
    app, live_server, browser  # noqa: F811
):
    person = PersonOnTheClock(browser, live_server)

    # The GP raises it, urgent, at stage 2 (manager to manager).
    person.sign_in(GP)
    person.follow("Raise a difference")
    person.choose("immediate_risk", "yes")
    person.press("Continue")
    assert "999" in person.text()
    person.follow("I have taken protective action: continue")
    person.fill("protective_action", "Referred to the MASH by phone at 9.30am; police told.")
    person.choose("start_stage", "2")
    person.fill("child_reference", "CSC-77120")
    person.fill("child_initials", "TM")
    person.select("receiving_agency", "Northshire Children's Social Care")
    person.select(
        "named_professional", "Sam Okafor, Social Worker – Northshire Children's Social Care"
    )
    person.choose("category", "medical")
    person.fill("decision", "Not to arrange a child protection medical for a burn on the hand.")
    person.fill("reasons", "n/a")
    person.fill("desired_outcome", "A child protection medical today.")
    person.choose("discussed_informally", "no")
    person.press("Continue")
    assert "Explain why you disagree in your own words" in person.text()
    person.fill(
        "reasons",
        "A round burn on the back of the hand of a two-year-old is not explained by the "
        "account of touching an oven door.",
    )
    person.press("Continue")
    person.press("Raise the difference")
    assert "Difference raised" in person.text()
    reference = re.search(r"RPD-\d{4}-\d{5}", person.text()).group(0)
    assert "by 2:00pm today" in person.text() and "4 working hours left" in person.text()
    person.sign_out()

    # Nobody on the responding side can move an urgent deadline: not offered, and refused.
    for responder in (TEAM_MANAGER, SOCIAL_WORKER):
        person.sign_in(responder)
        shown = page_of(person, reference)
        assert reference in shown and "Ask for more time" not in shown
        person.visit(f"/differences/{reference}/extend")
        refused = person.text()
        assert "deadline cannot be extended" in refused, refused
        person.sign_out()

    # The GP escalates before any response, with a reason ("n/a" is not one).
    person.sign_in(GP)
    person.visit(f"/differences/{reference}")
    person.follow("Escalate to the next stage")
    person.fill("rationale", "n/a")
    person.press("Escalate")
    assert "There is a problem" in person.text()
    person.fill("rationale", "The child cannot wait: the manager has not called back by noon.")
    person.press("Escalate")
    assert "Stage 3" in page_of(person, reference)
    person.sign_out()

    # The designated doctor proposes withdrawing it; the GP objects, and it goes on.
    person.sign_in(DESIGNATED_DOCTOR)
    person.visit(f"/differences/{reference}")
    person.follow("Propose withdrawing the difference")
    person.fill("rationale", "Social care's head of service has agreed to see the child today.")
    person.press("Send the proposal")
    person.sign_out()
    person.sign_in(GP)
    person.visit(f"/differences/{reference}")
    person.follow("Confirm or object to the proposal")
    person.choose("answer", "object")
    person.fill("reason", "Nothing has been arranged yet: I was told an hour ago it may be Friday.")
    person.press("Send your answer")
    shown = page_of(person, reference)
    assert "Withdrawn" not in shown and "Stage 3" in shown
    person.sign_out()

    # The partnership was alerted when it was raised urgent and when it reached stage 3.
    person.sign_in(CHAIR)
    person.visit("/inbox")
    inbox = person.text()
    assert re.search(rf"{reference}.*an urgent difference has been raised", inbox), inbox
    assert re.search(rf"{reference}.*a difference has reached", inbox), inbox
    person.sign_out()

    # A lead's proposal the raiser leaves unanswered applies once its window ends. (On this
    # urgent difference a proposal would be overtaken: stage 3's one working day ends first. So
    # on another of the GP's differences, not urgent, set up at stage 2 through the services.)
    with app.app_context():
        gp = db.session.scalar(sa.select(User).where(User.email == GP))
        csc = db.session.scalar(sa.select(Agency).where(Agency.name.like("%Social Care")))
        other = services.differences.raise_difference(
            gp,
            services.differences.NewDifference(
                receiving_agency_id=csc.id,
                named_professional_id=None,
                child_reference="CSC-77121",
                child_initials="RB",
                child_date_of_birth=None,
                category="closure",
                decision="To close the case after one home visit.",
                reasons="The school reports the child is still hungry and unkempt every day.",
                desired_outcome="The case kept open with a child in need plan.",
                discussed_informally=False,
                informal_discussion="",
                immediate_risk=False,
                protective_action="",
            ),
            CLOCK["now"],
        )
        # Answered and escalated to stage 2, where the GP's practice lead leads for them.
        responder = other.open_stage.people(Side.RESPONDER)[0]
        services.differences.respond(
            responder, other.id, other.version, outcome="upheld", now=CLOCK["now"],
            rationale="One home visit found the home clean and food in the cupboards.",
            child_impact="The family is offered early help instead.",
        )
        other = db.session.get(Difference, other.id)
        services.differences.escalate(
            gp, other.id, other.version, now=CLOCK["now"],
            rationale="One visit cannot outweigh what the school sees every single day.",
        )
        other = db.session.get(Difference, other.id)
        lead = next(u for u in other.open_stage.people(Side.LEAD) if u.id != gp.id).email
        other = other.reference
        db.session.remove()
    person.sign_in(lead)
    person.visit(f"/differences/{other}")
    person.follow("Propose withdrawing the difference")
    person.fill("rationale", "Early help has taken the case on; the school agrees it is enough.")
    person.press("Send the proposal")
    person.sign_out()
    CLOCK["now"] = MONDAY_10AM + timedelta(days=3)  # Thursday: the two working days are over
    with app.app_context():
        swept = services.sweep.sweep(CLOCK["now"])
    assert "1 proposal applied" in str(swept), str(swept)
    person.sign_in(GP)
    shown = page_of(person, other)
    assert "Withdrawn" in shown and "no reply" in shown, shown
    person.sign_out()
