"""Agreed actions through the pages: a response lists them, the sweep asks about them on their
due date, their owners mark them done, a missed one shows as overdue and can be raised again as a
follow-up difference in one click."""

import html as html_module
import re
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from escalate import services
from escalate.extensions import db
from escalate.models import (
    Agency,
    AgreedAction,
    Category,
    Difference,
    EventKind,
    Notification,
    User,
)
from escalate.queries.histories import verify_difference
from escalate.services.retention import RETAINED
from tests import factories
from tests.conftest import csrf_token_from, submit

FRIDAY = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # Friday 20 November 2026 (GMT)
MONDAY_MORNING = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # the first action's due day
WEDNESDAY = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # both Monday's and Tuesday's missed
GOOD = "The explanation given by the parent is consistent with the injury seen on the arm."
IMPACT = "A paediatrician sees the child this week and the plan is reviewed after."
CLOCK = {"now": FRIDAY}


@pytest.fixture
def app_config():
    CLOCK["now"] = FRIDAY
    return {"CLOCK": lambda: CLOCK["now"]}


@pytest.fixture
def raised(app, people):
    """RPD-2026-00001: the GP raised it with children's social care, naming the social worker."""
    with app.app_context():
        gp = db.session.get(User, people.gp.id)
        new = factories.new_difference(
            db.session.get(Agency, people.csc.id),
            named_professional_id=people.sw.id,
        )
        services.differences.raise_difference(gp, new, FRIDAY)
        db.session.remove()
    return "RPD-2026-00001"


def rows(people, *actions) -> dict:
    data = {}
    for number, (what, agency, due_on) in enumerate(actions, start=1):
        data |= factories.action_row(number, what, agency, due_on)
    return data


def agree_with(client_for, people, reference, *actions):
    """The social worker agrees, listing ``actions``: the response page's answer."""
    return submit(
        client_for(people.sw),
        f"/differences/{reference}/respond",
        {"outcome": "agreed", "rationale": GOOD, "child_impact": IMPACT, **rows(people, *actions)},
    )


def respond_with_actions(client_for, people, reference):
    """The social worker agrees, with three actions: two of social care's, one of the GP's."""
    response = agree_with(
        client_for, people, reference,
        ("Book a child protection medical.", people.csc.id, date(2026, 11, 23)),
        ("Hold a strategy discussion with the police.", people.csc.id, date(2026, 11, 24)),
        ("Send the practice's records of the bruising.", people.gp_practice.id,
         date(2026, 11, 23)),
    )  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)


def actions_of(app, reference) -> list[dict]:
    with app.app_context():
        found = db.session.scalars(
            sa.select(AgreedAction)
            .join(Difference, Difference.id == AgreedAction.difference_id)
            .where(Difference.reference == reference)
            .order_by(AgreedAction.number)
        )
        return [
            {
                "id": a.id,
                "number": a.number,
                "what": a.what,
                "agency": a.agency_id,
                "owner": a.owner_id,
                "due_on": a.due_on,
                "ask_at": a.ask_at,
                "asked_at": a.asked_at,
                "done_at": a.done_at,
                "done_note": a.done_note,
                "follow_up": a.follow_up_id,
            }
            for a in found
        ]


def page(client, reference) -> str:
    response = client.get(f"/differences/{reference}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def section(html: str, heading_id: str) -> str:
    return html.split(f'id="{heading_id}"', 1)[1].split("<h2", 1)[0]


def follow_up(client, reference, action_id):
    html = page(client, reference)
    return client.post(
        f"/differences/{reference}/actions/{action_id}/follow-up",
        data={"csrf_token": csrf_token_from(html)},
    )


def sent_to(app, person_id, kind_words) -> list[Notification]:
    with app.app_context():
        return [
            n
            for n in db.session.scalars(
                sa.select(Notification).where(Notification.recipient_id == person_id)
            )
            if kind_words in n.subject
        ]


def test_a_response_with_two_actions_one_done_one_missed_through_the_pages(
    app, people, client_for, raised
):
    respond_with_actions(client_for, people, raised)
    first, second, gps = actions_of(app, raised)
    # Owners: the responder for social care's actions, the raiser for the GP practice's own.
    assert (first["owner"], second["owner"], gps["owner"]) == (people.sw.id,) * 2 + (people.gp.id,)
    # Asked at the start of the due day: 9am on Monday 23 November (GMT).
    assert first["ask_at"] == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with app.app_context():
        d = db.session.scalar(sa.select(Difference).where(Difference.reference == raised))
        assert d.events[-1].details["agreed_actions"] == (
            "Book a child protection medical. — Children's Social Care — by 23 November 2026\n"
            "Hold a strategy discussion with the police. — Children's Social Care — by "
            "24 November 2026\n"
            "Send the practice's records of the bruising. — Riverside Medical Practice — by "
            "23 November 2026"
        )
    gp, sw = client_for(people.gp), client_for(people.sw)
    shown = section(page(gp, raised), "actions-agreed")
    assert shown.count(">Due</strong>") == 3
    assert "Mark as done" in shown  # the GP's own action
    accepted = submit(gp, f"/differences/{raised}/accept", {"comment": ""})
    assert accepted.status_code == 302

    # Monday: social care's first action is done, by its owner, on the closed difference.
    CLOCK["now"] = MONDAY_MORNING
    gp, sw = client_for(people.gp), client_for(people.sw)  # signed in afresh
    url = f"/differences/{raised}/actions/{first['id']}/done"
    missing = submit(sw, url, {"note": ""})
    assert missing.status_code == 200 and "Enter what was done" in missing.get_data(as_text=True)
    done = submit(sw, url, {"note": "The medical was held on Monday morning."})
    assert done.status_code == 302
    assert "Action 1 is marked as done" in page(sw, raised)
    [told] = sent_to(app, people.gp.id, "agreed action 1 is done")
    assert "The medical was held on Monday morning." in told.body
    # A second time is refused clearly.
    again = sw.post(url, data={"note": "Again.", "csrf_token": csrf_token_from(page(sw, raised))})
    assert again.status_code == 409
    assert "already been marked as done" in again.get_data(as_text=True)

    # Wednesday: the second action was not done by the end of Tuesday: overdue everywhere.
    CLOCK["now"] = WEDNESDAY
    gp, sw = client_for(people.gp), client_for(people.sw)
    shown = section(page(gp, raised), "actions-agreed")
    assert "Done on 23 November 2026" in shown
    assert "The medical was held on Monday morning." in shown
    assert shown.count("govuk-tag--red") == 2  # the second action and the GP's own
    mine = gp.get("/differences/yours").get_data(as_text=True)
    raised_by_you = mine.split('id="raised-by-you"')[1].split('id="others-you-are-part-of"')[0]
    assert "Action overdue" in raised_by_you
    waiting = sw.get("/waiting").get_data(as_text=True)
    to_confirm = section(waiting, "actions-to-confirm")
    assert "Actions to confirm (1)" in waiting
    assert "Hold a strategy discussion with the police." in to_confirm and "Overdue" in to_confirm
    assert "Book a child protection medical." not in to_confirm  # done
    with app.app_context():
        assert verify_difference(
            db.session.scalar(sa.select(Difference).where(Difference.reference == raised))
        ).ok


def test_the_dashboard_counts_agreed_actions_by_agency(app, people, client_for, raised):
    respond_with_actions(client_for, people, raised)
    first, _second, _gps = actions_of(app, raised)
    CLOCK["now"] = MONDAY_MORNING
    submit(
        client_for(people.tm),  # the social worker's manager, who sees it: they may too
        f"/differences/{raised}/actions/{first['id']}/done",
        {"note": "The medical was held on Monday morning."},
    )
    CLOCK["now"] = WEDNESDAY
    html = client_for(people.chair).get("/oversight/dashboard/agencies").get_data(as_text=True)
    table = section(html, "agreed-actions")
    cells = [
        html_module.unescape(re.sub(r"<[^>]+>", "", c)).strip()
        for c in re.findall(r"<t[dh][^>]*>.*?</t[dh]>", table, re.S)
    ]
    # Agency, open, of which overdue, done: counted by hand.
    assert cells[4:] == [
        "Children's Social Care", "1", "1", "1",
        "Riverside Medical Practice", "1", "1", "0",
        "All agencies", "2", "2", "1",
    ]  # fmt: skip


def test_the_sweep_asks_the_owner_once_and_tells_the_raiser(app, people, client_for, raised):
    respond_with_actions(client_for, people, raised)
    with app.app_context():
        early = services.sweep.sweep(datetime(2026, 11, 23, 8, 59, tzinfo=UTC))
        assert early.actions_asked == 0
        report = services.sweep.sweep(MONDAY_MORNING)
        assert report.actions_asked == 2  # the two due on Monday, not Tuesday's
        assert "2 agreed actions asked about" in str(report)
        assert services.sweep.sweep(MONDAY_MORNING).actions_asked == 0
        db.session.remove()
    [asked] = sent_to(app, people.sw.id, "is agreed action 1 done?")
    assert "mark it as done" in asked.body and "Book a child protection medical." in asked.body
    assert len(sent_to(app, people.gp.id, "agreed action 1 is due today")) == 1
    # The GP owns their own action: asked, once, not also told it is due.
    assert len(sent_to(app, people.gp.id, "is agreed action 3 done?")) == 1
    assert sent_to(app, people.gp.id, "agreed action 3 is due today") == []
    with app.app_context():
        d = db.session.scalar(sa.select(Difference).where(Difference.reference == raised))
        assert [e.kind for e in d.events].count(EventKind.ACTION_DUE) == 2
        assert verify_difference(d).ok


def test_who_may_mark_an_action_done(app, people, client_for, raised):
    respond_with_actions(client_for, people, raised)
    first, second, gps = actions_of(app, raised)
    url = f"/differences/{raised}/actions/{{}}/done"
    # The raiser may not mark social care's action done, and is not offered it.
    assert client_for(people.gp).get(url.format(first["id"])).status_code == 403
    # Someone who may not see the difference is told it does not exist.
    assert client_for(people.police_manager).get(url.format(first["id"])).status_code == 404
    # The wrong difference's reference is not found either.
    assert (
        client_for(people.sw)
        .get(f"/differences/RPD-2026-00009/actions/{first['id']}/done")
        .status_code
        == 404
    )
    # The owner, and someone of the same agency who sees the difference (their manager), may.
    assert client_for(people.sw).get(url.format(first["id"])).status_code == 200
    # A colleague who is not part of it does not see it: not found.
    assert client_for(people.sw2).get(url.format(second["id"])).status_code == 404
    done = submit(client_for(people.tm), url.format(second["id"]), {"note": "Held on Tuesday."})
    assert done.status_code == 302
    assert actions_of(app, raised)[1]["done_note"] == "Held on Tuesday."
    # The social worker may not mark the GP practice's own action done.
    assert client_for(people.sw).get(url.format(gps["id"])).status_code == 403
    assert actions_of(app, raised)[2]["done_at"] is None


def test_a_follow_up_is_raised_in_one_click_and_linked_both_ways(app, people, client_for, raised):
    respond_with_actions(client_for, people, raised)
    first, second, gps = actions_of(app, raised)
    gp, sw = client_for(people.gp), client_for(people.sw)
    # Monday: nothing is missed yet (Tuesday's action is not due; Monday's not over).
    CLOCK["now"] = MONDAY_MORNING
    gp, sw = client_for(people.gp), client_for(people.sw)
    assert "Raise a follow-up difference" not in page(gp, raised)
    assert follow_up(gp, raised, second["id"]).status_code == 409
    submit(sw, f"/differences/{raised}/actions/{first['id']}/done", {"note": "Medical held."})

    CLOCK["now"] = WEDNESDAY
    gp, sw = client_for(people.gp), client_for(people.sw)
    shown = section(page(gp, raised), "actions-agreed")
    assert shown.count("Raise a follow-up difference") == 1  # the missed action of social care
    assert "Raise a follow-up difference" not in page(sw, raised)
    assert follow_up(sw, raised, second["id"]).status_code == 403  # not the raiser
    assert follow_up(gp, raised, gps["id"]).status_code == 403  # their own agency's
    assert follow_up(gp, raised, first["id"]).status_code == 409  # done
    # Without the form's token nothing is raised.
    assert gp.post(f"/differences/{raised}/actions/{second['id']}/follow-up").status_code == 400

    raised_again = follow_up(gp, raised, second["id"])
    assert raised_again.status_code == 302
    new_reference = "RPD-2026-00002"
    assert raised_again.headers["Location"].endswith(f"/differences/{new_reference}")
    new_page = page(gp, new_reference)
    assert f"Follow-up difference {new_reference} raised from action 2 of {raised}" in new_page
    assert f'href="/differences/{raised}"' in section(new_page, "actions-agreed")
    assert f'href="/differences/{new_reference}"' in section(page(gp, raised), "actions-agreed")
    assert follow_up(gp, raised, second["id"]).status_code == 409  # twice
    with app.app_context():
        original = db.session.scalar(sa.select(Difference).where(Difference.reference == raised))
        new = db.session.scalar(sa.select(Difference).where(Difference.reference == new_reference))
        assert new.category == Category.DRIFT and not new.urgent
        assert (new.receiving_agency_id, new.named_professional_id) == (people.csc.id, people.sw.id)
        assert (new.child_reference, new.child_initials) == (
            original.child_reference,
            original.child_initials,
        )
        assert "Hold a strategy discussion with the police." in new.decision
        assert raised in new.reasons and "not been recorded as done" in new.reasons
        assert new.events[0].details["follows"] == raised
        assert original.events[-1].kind == EventKind.FOLLOW_UP_RAISED
        assert original.events[-1].details["follow_up"] == new_reference
        assert db.session.get(AgreedAction, second["id"]).follow_up_id == new.id
        assert verify_difference(original).ok and verify_difference(new).ok
    # The social worker named in it is told, like any difference raised with them.
    assert sent_to(app, people.sw.id, new_reference)


def test_the_actions_form_refuses_what_is_missing_row_by_row_in_page_order(
    app, people, client_for, raised
):
    sw = client_for(people.sw)
    url = f"/differences/{raised}/respond"
    data = {
        "outcome": "partly_agreed",
        "rationale": "",
        "child_impact": IMPACT,
        "action_1_what": "Book a child protection medical.",
        **factories.action_row(2, "", people.csc.id, date(2026, 11, 19)),
        "action_3_due": ["31", "2", "2027"],
    }
    refused = submit(sw, url, data)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 200
    summary = html.split("govuk-error-summary__list", 1)[1].split("</ul>", 1)[0]
    messages = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary)
    assert messages == [
        ("action_1_agency", "Select which agency does action 1"),
        ("action_1_due", "Enter the date action 1 is due by"),
        ("action_2_what", "Enter what action 2 is"),
        ("action_2_due", "The date action 2 is due by must be today or in the future"),
        ("action_3_what", "Enter what action 3 is"),
        ("action_3_agency", "Select which agency does action 3"),
        ("action_3_due", "The date action 3 is due by must be a real date"),
        ("rationale", "Enter the reasons for your response"),
    ]
    assert actions_of(app, raised) == []
    # An agency that is neither of the difference's is refused by the service's rules too.
    with app.app_context():
        d = db.session.scalar(sa.select(Difference).where(Difference.reference == raised))
        with pytest.raises(services.differences.FieldError) as wrong:
            services.differences.respond(
                db.session.get(User, people.sw.id), d.id, d.version, outcome="agreed",
                rationale=GOOD, child_impact=IMPACT, now=FRIDAY,
                actions=factories.agreed_actions(people.police.id),
            )  # fmt: skip
        assert wrong.value.errors[0].field == "action_1_agency"
        db.session.rollback()
    # Rows are ignored when the decision is upheld.
    upheld = submit(sw, url, data | {"outcome": "upheld", "rationale": GOOD})
    assert upheld.status_code == 302
    assert actions_of(app, raised) == []


def test_anonymising_erases_what_each_action_was_and_what_was_done(app, people, client_for, raised):
    respond_with_actions(client_for, people, raised)
    first, *_ = actions_of(app, raised)
    submit(client_for(people.gp), f"/differences/{raised}/accept", {"comment": ""})
    submit(
        client_for(people.sw),
        f"/differences/{raised}/actions/{first['id']}/done",
        {"note": "The medical was held."},
    )
    with app.app_context():
        d = db.session.scalar(sa.select(Difference).where(Difference.reference == raised))
        assert services.retention.anonymise(d.id, datetime(2034, 1, 2, tzinfo=UTC), 7)
        db.session.commit()
        assert verify_difference(d).ok
    left = actions_of(app, raised)
    assert {a["what"] for a in left} == {RETAINED}
    assert [a["done_note"] for a in left] == [RETAINED, "", ""]


def test_a_follow_up_of_an_action_as_long_as_a_text_may_be_is_still_one_click(
    app, people, raised, client_for
):
    # The longest action a response may list: the follow-up's decision quotes it, cut to fit.
    longest = "Hold a strategy discussion with health and the police. " * 180
    response = agree_with(
        client_for, people, raised, (longest[:10_000], people.csc.id, date(2026, 11, 23))
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    CLOCK["now"] = WEDNESDAY
    (action,) = actions_of(app, raised)

    response = follow_up(client_for(people.gp), raised, action["id"])

    assert response.status_code == 302, response.get_data(as_text=True)
    (action,) = actions_of(app, raised)
    with app.app_context():
        new = db.session.get(Difference, action["follow_up"])
        assert len(new.decision) <= 10_000 and new.decision.endswith("…")


def test_an_action_due_years_ahead_is_refused(app, people, raised, client_for):
    response = agree_with(
        client_for, people, raised, ("Book a medical.", people.csc.id, date(9999, 12, 31))
    )
    assert response.status_code == 200  # the form again, with what is wrong
    assert "The date action 1 is due by must be within 5 years of today" in html_module.unescape(
        response.get_data(as_text=True)
    )
    assert actions_of(app, raised) == []
