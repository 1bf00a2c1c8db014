"""The raiser's voice, supporters' advice and the new outcomes through the pages (issue 13)."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from escalate import services
from escalate.extensions import db
from escalate.models import Difference, Side, State, User
from tests import factories
from tests.conftest import revealed_under, submit

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # Monday, GMT
WHY = "The family has moved out of the area and the new authority has taken the case on."
OBJECTION = "The child is still registered with our practice and nothing has been done yet."
ADVICE = "Ask for a strategy discussion in writing and copy in the designated doctor."
GOOD = "The explanation given by the parent is consistent with the injury seen on the arm."


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


def _difference(reference):
    return db.session.scalar(sa.select(Difference).where(Difference.reference == reference))


@pytest.fixture
def at_stage_three(app, people):
    """The GP's difference, escalated by the responders to stage 3, where the designated
    doctor leads for the practice."""
    with app.app_context():
        gp = db.session.get(User, people.gp.id)
        d = services.differences.raise_difference(
            gp,
            services.differences.NewDifference(
                receiving_agency_id=people.csc.id,
                named_professional_id=people.sw.id,
                child_reference="CSC-20431",
                child_initials="JS",
                category="medical",
                decision="No child protection medical.",
                reasons="The bruising is not consistent with the explanation given by the family.",
                desired_outcome="A child protection medical.",
                discussed_informally=False,
                immediate_risk=False,
            ),
            NOW,
        )
        for who in (people.sw, people.tm):
            services.differences.escalate(
                db.session.get(User, who.id),
                d.id,
                d.version,
                rationale="This cannot be settled at my level and needs a senior decision.",
                now=NOW,
            )
        assert [u.id for u in d.open_stage.people(Side.LEAD)] == [people.designated.id]
        reference = d.reference
        db.session.remove()
    return reference


def page(browser, reference) -> str:
    return browser.get(f"/differences/{reference}").get_data(as_text=True)


def test_the_designated_doctors_proposal_to_withdraw_is_refused_by_the_gp_and_it_goes_on(
    app, people, client_for, at_stage_three
):
    doctor, gp = client_for(people.designated), client_for(people.gp)
    shown = page(doctor, at_stage_three)
    assert "Propose withdrawing the difference</a>" in shown
    assert "Withdraw the difference</a>" not in shown
    assert doctor.get(f"/differences/{at_stage_three}/withdraw").status_code == 403

    refused = submit(
        doctor, f"/differences/{at_stage_three}/propose-withdraw", {"rationale": "n/a"}
    )
    assert refused.status_code == 200 and "There is a problem" in refused.get_data(as_text=True)
    sent = submit(doctor, f"/differences/{at_stage_three}/propose-withdraw", {"rationale": WHY})
    assert sent.status_code == 302

    shown = page(gp, at_stage_three)
    assert "Dr Anna Fisher proposes withdrawing the difference" in shown
    assert WHY in shown and "5:00pm on Wednesday 25 November 2026" in shown
    assert "Confirm or object to the proposal</a>" in shown
    form = gp.get(f"/differences/{at_stage_three}/answer-proposal").get_data(as_text=True)
    assert revealed_under(form, "object") == "reason"  # asked only of an objection
    assert revealed_under(form, "confirm") == "comment"
    missing = submit(gp, f"/differences/{at_stage_three}/answer-proposal", {"answer": "object"})
    assert "Enter why you object" in missing.get_data(as_text=True)
    assert '<a href="#reason">' in missing.get_data(as_text=True)
    objected = submit(
        gp,
        f"/differences/{at_stage_three}/answer-proposal",
        {"answer": "object", "reason": OBJECTION},
    )
    assert objected.status_code == 302

    with app.app_context():
        d = _difference(at_stage_three)
        assert (d.state, d.stage_level) == (State.AWAITING_RESPONSE, 3)
    shown = page(gp, at_stage_three)
    assert "Proposal objected to: the difference goes on" in shown and OBJECTION in shown
    assert "confirms or objects by" not in shown  # the proposal is no longer waiting


def test_a_lead_s_proposal_the_raiser_ignores_applies_after_the_window(
    app, people, client_for, at_stage_three
):
    doctor = client_for(people.designated)
    submit(doctor, f"/differences/{at_stage_three}/propose-withdraw", {"rationale": WHY})
    with app.app_context():
        services.sweep.sweep(datetime(2026, 11, 25, 17, 1, tzinfo=UTC))
        db.session.remove()
    app.config["CLOCK"] = lambda: datetime(2026, 11, 25, 17, 2, tzinfo=UTC)
    shown = page(client_for(people.gp), at_stage_three)
    assert "Withdrawn" in shown
    assert "Applied after no reply from the raiser by 5:00pm on Wednesday 25 November" in shown


def test_the_supporter_sees_the_difference_and_adds_advice_that_the_parties_read(
    app, people, client_for, at_stage_three
):
    manager = client_for(people.gp_lead)  # the GP's line manager
    shown = page(manager, at_stage_three)
    assert "Add advice to the record</a>" in shown
    assert "Supporting Dr Emma Clarke: Dr David Chen (the raiser&#39;s line manager)" in shown
    refused = submit(manager, f"/differences/{at_stage_three}/advice", {"advice": "as discussed"})
    assert "There is a problem" in refused.get_data(as_text=True)
    assert (
        submit(manager, f"/differences/{at_stage_three}/advice", {"advice": ADVICE}).status_code
        == 302
    )
    shown = page(client_for(people.sw), at_stage_three)  # a party on the other side
    assert "Advice from the raiser&#39;s supporter" in shown and ADVICE in shown


def test_a_response_may_partly_agree_and_the_page_gives_the_date_to_answer_by(
    app, people, client_for, at_stage_three
):
    hos = client_for(people.hos)
    url = f"/differences/{at_stage_three}/respond"
    form = hos.get(url).get_data(as_text=True)
    assert "I partly agree: a different plan" in form
    data = {
        "outcome": "partly_agreed",
        "rationale": GOOD,
        **factories.action_row(1, "A joint home visit.", people.csc.id),
    }
    refused = submit(hos, url, data | {"child_impact": "n/a"})
    assert "Explain what this means for the child in your own words" in refused.get_data(
        as_text=True
    )
    done = submit(hos, url, data | {"child_impact": "A paediatrician sees the child this week."})
    assert done.status_code == 302
    shown = page(client_for(people.gp), at_stage_three)
    assert "Partly agreed – a different plan" in shown
    # Five working days after Monday 23 November: 5pm on Monday 30 November.
    assert "accept the response or escalate the difference by" in shown
    assert "5:00pm on Monday 30 November 2026" in shown


def test_the_administrator_names_a_designated_safeguarding_lead_who_then_supports_raisers(
    app, people, client_for
):
    admin = client_for(people.admin)
    url = f"/admin/agencies/{people.gp_practice.id}/safeguarding-leads"
    wrong = submit(admin, url, {"lead-user": str(people.sw.id)})  # of another agency
    assert wrong.status_code == 400 and "There is a problem" in wrong.get_data(as_text=True)
    section = admin.get(url).get_data(as_text=True).split('id="safeguarding-leads"')[1]
    assert "None yet." in section.split("People</h2>")[0]
    added = submit(admin, url, {"lead-user": str(people.designated.id)})
    assert added.status_code == 302
    shown = admin.get(f"/admin/agencies/{people.gp_practice.id}").get_data(as_text=True)
    assert "Dr Anna Fisher is now a designated safeguarding lead." in shown
    assert "Dr Anna Fisher is a designated safeguarding lead for Riverside" in admin.get(
        "/changes"
    ).get_data(as_text=True)

    with app.app_context():
        colleague = db.session.get(User, people.gp_colleague.id)  # has no line manager
        d = services.differences.raise_difference(
            colleague,
            services.differences.NewDifference(
                receiving_agency_id=people.csc.id,
                child_reference="CSC-1",
                child_initials="AB",
                category="threshold",
                decision="The referral was closed with no further action.",
                reasons="The child has told two teachers that she is frightened to go home.",
                desired_outcome="A strategy discussion.",
                discussed_informally=False,
                immediate_risk=False,
            ),
            NOW,
        )
        reference = d.reference
        assert [s.user.name for s in d.supporters] == ["Dr Anna Fisher"]
        db.session.remove()
    shown = page(client_for(people.designated), reference)
    assert "Supporting Dr Colleague: Dr Anna Fisher (the agency&#39;s designated safeguarding" in (
        shown
    )
