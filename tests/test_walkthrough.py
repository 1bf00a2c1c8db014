"""The faults a walk-through of the three journeys found, each tried again as a user would: what
a page shows, in words a busy professional reads right first time."""

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from escalate import services
from escalate.extensions import db
from escalate.models import Difference, Notification, User
from tests import factories
from tests.conftest import hidden_fields, submit

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # Friday, GMT
REFERENCE = "RPD-2026-00001"
DECISION = "No child protection medical for the bruising seen on 18 November."
REASONS = "The bruising is not consistent with the explanation given by the family."
WANTED = "A child protection medical with a paediatrician this week."


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


@pytest.fixture
def raised(app, people):
    """RPD-2026-00001: the GP raised it with children's social care, naming the social worker."""
    with app.app_context():
        services.differences.raise_difference(
            db.session.get(User, people.gp.id),
            services.differences.NewDifference(
                receiving_agency_id=people.csc.id,
                named_professional_id=people.sw.id,
                child_reference="CSC-20431",
                child_initials="JS",
                category="medical",
                decision=DECISION,
                reasons=REASONS,
                desired_outcome=WANTED,
                discussed_informally=False,
                immediate_risk=False,
            ),
            NOW,
        )
        db.session.remove()
    return REFERENCE


def act(app, person, action, **values):
    """Take an action through the service, as `person`, on the difference as it stands."""
    with app.app_context():
        difference = db.session.scalar(
            sa.select(Difference).where(Difference.reference == REFERENCE)
        )
        getattr(services.differences, action)(
            db.session.get(User, person.id), difference.id, difference.version, now=NOW, **values
        )
        db.session.remove()


def upheld(reasons):
    impact = "Family support goes on as planned."
    return {"outcome": "upheld", "rationale": reasons, "child_impact": impact}


def main_of(response) -> str:
    return response.get_data(as_text=True).split('<main', 1)[1]


def page_of(browser, reference) -> str:
    return browser.get(f"/differences/{reference}").get_data(as_text=True)


def outcome_card_of(page: str) -> str:
    """The summary card at the top of a closed difference's page."""
    match = re.search(r'<div class="govuk-summary-card">.*?</dl>', page, re.S)
    assert match, "the page shows no summary card"
    return match.group(0)


# --- 1. "Someone else acted first" ---------------------------------------------------------------


def test_the_someone_else_acted_first_banner_is_shown_as_a_banner_not_as_markup(
    app, people, client_for, raised
):
    sw = client_for(people.sw)
    form_page = sw.get(f"/differences/{raised}/respond").get_data(as_text=True)
    act(app, people.gp, "withdraw", rationale="The family has moved to another authority's area.")
    response = sw.post(
        f"/differences/{raised}/respond", data={**hidden_fields(form_page), **upheld(REASONS)}
    )
    assert response.status_code == 409
    page = main_of(response)
    assert "&lt;p" not in page and "&lt;strong" not in page
    assert re.search(
        r'<p class="govuk-notification-banner__heading">\s*This difference changed while you were '
        r"working on it.</p>",
        page,
    )
    assert "It is now: <strong>Withdrawn</strong>, stage 1." in page


# --- 3. A closed difference shows how it ended, at the top ----------------------------------------


def test_a_resolved_difference_shows_its_outcome_at_the_top(app, people, client_for, raised):
    act(
        app,
        people.sw,
        "respond",
        outcome="agreed",
        actions=factories.agreed_actions(
            people.csc.id, "Sam Okafor books a paediatric medical for Monday."
        ),
        rationale="On reflection the pattern of bruising needs a paediatric opinion.",
        child_impact="The child is seen by a paediatrician on Monday.",
    )
    act(app, people.gp, "accept", comment="Thank you for looking at this again so quickly.")
    page = client_for(people.gp).get(f"/differences/{raised}").get_data(as_text=True)
    card = outcome_card_of(page)
    assert page.index(card) < page.index("The difference</h2>") < page.index('id="history"')
    for words in (
        "Outcome: Resolved",
        "Agreed",
        "Sam Okafor books a paediatric medical for Monday.",
        "On reflection the pattern of bruising needs a paediatric opinion.",
        "The child is seen by a paediatrician on Monday.",
        "Sam Okafor, 10:00am on Friday 20 November 2026",
        "Dr Emma Clarke, 10:00am on Friday 20 November 2026",
        "Thank you for looking at this again so quickly.",
    ):
        assert words in card, words


def test_the_partnerships_decision_is_the_outcome_at_the_top(app, people, client_for, raised):
    act(app, people.sw, "respond", **upheld("The parent's account fits the marks seen at nursery."))
    act(app, people.gp, "escalate", rationale="Two bruises on both arms do not fit one fall.")
    act(app, people.tm, "respond", **upheld("The nursery's log records two separate falls."))
    act(app, people.gp, "escalate", rationale="A second fall is not in the parent's account.")
    act(app, people.hos, "respond", **upheld("Two managers have reviewed it and the log agrees."))
    act(app, people.gp, "escalate", rationale="We cannot agree: the partnership should decide.")
    act(
        app,
        people.chair,
        "decide",
        outcome="agreed",
        decision="Social care arranges a child protection medical within two days.",
        rationale="Unexplained bruising in a pre-verbal child needs a paediatric opinion.",
        child_impact="The child is seen by a paediatrician and the plan is reviewed after.",
    )
    card = outcome_card_of(page_of(client_for(people.sw), raised))
    for words in (
        "Outcome: Resolved by the partnership&#39;s decision",
        "Social care arranges a child protection medical within two days.",
        "Unexplained bruising in a pre-verbal child needs a paediatric opinion.",
        "The child is seen by a paediatrician and the plan is reviewed after.",
        "Ruth Adeyemi, 10:00am on Friday 20 November 2026",
    ):
        assert words in card, words


def test_a_withdrawn_difference_shows_why_at_the_top(app, people, client_for, raised):
    act(app, people.gp, "withdraw", rationale="The family has moved to another authority's area.")
    card = outcome_card_of(page_of(client_for(people.sw), raised))
    assert "Outcome: Withdrawn" in card
    assert "The family has moved to another authority&#39;s area." in card
    assert "Dr Emma Clarke, 10:00am on Friday 20 November 2026" in card


def test_an_open_difference_has_no_outcome_card(people, client_for, raised):
    page = client_for(people.sw).get(f"/differences/{raised}").get_data(as_text=True)
    assert "govuk-summary-card" not in page and "Outcome:" not in page


# --- 4. The action pages show what the difference is about ---------------------------------------


def about_card_of(page: str) -> str:
    match = re.search(r"What the difference is about\s*</h2>.*?</dl>", page, re.S)
    assert match, "the page does not show what the difference is about"
    return match.group(0)


def test_the_respond_page_shows_what_the_difference_is_about(people, client_for, raised):
    page = client_for(people.sw).get(f"/differences/{raised}/respond").get_data(as_text=True)
    card = about_card_of(page)
    assert DECISION in card and REASONS in card and WANTED in card
    assert "Why they disagree" in card
    assert page.index(card) < page.index("What is your response?")


def test_the_escalate_page_shows_the_difference_and_the_response(
    app, people, client_for, raised
):
    act(app, people.sw, "respond", **upheld("The parent's account fits the marks seen at nursery."))
    page = client_for(people.gp).get(f"/differences/{raised}/escalate").get_data(as_text=True)
    card = about_card_of(page)
    assert DECISION in card and WANTED in card
    assert "Your reasons" in card and REASONS in card  # the raiser reads their own reasons
    assert "The latest response (stage 1)" in page
    assert "The parent&#39;s account fits the marks seen at nursery." in page


def test_the_decide_page_shows_the_difference_and_the_last_response(
    app, people, client_for, raised
):
    act(app, people.sw, "respond", **upheld("The parent's account fits the marks seen at nursery."))
    act(app, people.gp, "escalate", rationale="Two bruises on both arms do not fit one fall.")
    act(app, people.tm, "respond", **upheld("The nursery's log records two separate falls."))
    act(app, people.gp, "escalate", rationale="A second fall is not in the parent's account.")
    act(app, people.hos, "respond", **upheld("Two managers have reviewed it and the log agrees."))
    act(app, people.gp, "escalate", rationale="We cannot agree: the partnership should decide.")
    page = client_for(people.chair).get(f"/differences/{raised}/decide").get_data(as_text=True)
    card = about_card_of(page)
    assert DECISION in card and REASONS in card and WANTED in card
    assert "The latest response (stage 3)" in page
    assert "Two managers have reviewed it and the log agrees." in page


# --- 11. Wording ---------------------------------------------------------------------------------


def test_the_inbox_does_not_ask_someone_signed_in_to_sign_in(app, people, client_for, raised):
    act(app, people.sw, "respond", **upheld("The parent's account fits the marks seen at nursery."))
    gp = client_for(people.gp)
    inbox = gp.get("/inbox").get_data(as_text=True)
    for message_id in re.findall(r'href="/inbox/(\d+)"', inbox):
        message = main_of(gp.get(f"/inbox/{message_id}"))
        assert "sign in" not in message.lower()
        assert f"View difference {raised}" in message  # the link the words pointed to
    with app.app_context():
        bodies = db.session.scalars(sa.select(Notification.body)).all()
    assert bodies and not any("sign in" in body.lower() for body in bodies)


def test_emails_name_stages_in_plain_sentences(app, people, raised):
    act(app, people.sw, "respond", **upheld("The parent's account fits the marks seen at nursery."))
    act(app, people.gp, "escalate", rationale="Two bruises on both arms do not fit one fall.")
    with app.app_context():
        bodies = db.session.scalars(sa.select(Notification.body)).all()
    said = "\n".join(bodies)
    assert "stage:" not in said
    assert (
        "Dr Emma Clarke escalated the difference from the Practitioner to practitioner stage to "
        "the Manager to manager stage." in said
    )
    assert "Sam Okafor responded at the Practitioner to practitioner stage." in said


def test_the_raisers_own_page_calls_their_reasons_theirs(people, client_for, raised):
    mine = client_for(people.gp).get(f"/differences/{raised}").get_data(as_text=True)
    assert "Your reasons" in mine and "Why they disagree" not in mine
    theirs = client_for(people.sw).get(f"/differences/{raised}").get_data(as_text=True)
    assert "Why they disagree" in theirs and "Your reasons" not in theirs


# --- 12. The home page of someone who may raise a difference --------------------------------------


def start_button(page: str) -> bool:
    return bool(
        re.search(r'<a href="/differences/new"[^>]*class="govuk-button[^"]*"[^>]*>\s*Raise a '
                  r"difference", page)
    )


def test_a_gp_with_nothing_waiting_sees_a_raise_a_difference_button(people, client_for):
    gp = client_for(people.gp)
    home = gp.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Nothing is waiting for you." in home
    assert start_button(home)


def test_the_partnership_which_does_not_raise_differences_has_no_such_button(people, client_for):
    home = client_for(people.chair).get("/", follow_redirects=True).get_data(as_text=True)
    assert "Waiting for you" in home and not start_button(home)


def test_the_raise_journey_still_starts_from_the_button(people, client_for):
    gp = client_for(people.gp)
    page = gp.get("/differences/new").get_data(as_text=True)
    assert "Is the child at immediate risk of significant harm?" in page
    response = submit(gp, "/differences/new", {"immediate_risk": "no"})
    assert response.status_code == 302
