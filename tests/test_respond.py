"""Acting on a difference through its pages: every action, refusals, conflicts, visibility."""

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from escalate import services
from escalate.extensions import db
from escalate.inbox import views as inbox_views
from escalate.models import Agency, Difference, Event, Notification, State, User
from escalate.respond import views as respond_views
from escalate.services._records import add_to_outbox
from tests import factories
from tests.conftest import csrf_token_from, hidden_fields, revealed_under, submit

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # Friday, GMT
GOOD = "The explanation given by the parent is consistent with the injury seen on the arm."


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


@pytest.fixture
def raised(app, people):
    """RPD-2026-00001: the GP raised it with children's social care, naming the social worker."""
    with app.app_context():
        gp = db.session.get(User, people.gp.id)
        services.differences.raise_difference(
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
        db.session.remove()
    return "RPD-2026-00001"


def state_of(app, reference):
    with app.app_context():
        d = db.session.scalar(sa.select(Difference).where(Difference.reference == reference))
        return d.state, d.stage_level, d.version


def act(browser, reference, slug, data):
    return submit(browser, f"/differences/{reference}/{slug}", data)


RESPONSE = {
    "outcome": "upheld",
    "rationale": GOOD,
    "child_impact": "Family support continues through early help.",
}


def test_the_difference_page_shows_the_record_stage_deadline_and_actions(
    people, client_for, raised
):
    page = client_for(people.sw).get(f"/differences/{raised}").get_data(as_text=True)
    assert "Difference RPD-2026-00001" in page
    assert "Waiting for a response" in page
    assert "1. Practitioner to practitioner" in page
    assert "Sam Okafor, Social Worker" in page
    assert "5:00pm on Friday 27 November 2026" in page and "5 working days left" in page
    assert "JS, case reference CSC-20431" in page
    assert "Respond</a>" in page and "Ask for more time</a>" in page
    assert "Withdraw the difference" not in page
    assert "Difference raised" in page  # the history


def test_overdue_is_derived_from_the_clock(app, people, client_for, raised):
    app.config["CLOCK"] = lambda: datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    page = client_for(people.gp).get(f"/differences/{raised}").get_data(as_text=True)
    assert "Overdue" in page and "is overdue" in page
    # Once overdue, the raiser may escalate without waiting for a response.
    assert "Escalate to the next stage</a>" in page


def test_respond_records_the_outcome_and_tells_the_raiser_with_the_rationale(
    app, people, client_for, raised
):
    response = act(client_for(people.sw), raised, "respond", RESPONSE)
    assert response.status_code == 302
    assert state_of(app, raised)[0] == State.AWAITING_RAISER
    gp = client_for(people.gp)
    inbox = gp.get("/inbox").get_data(as_text=True)
    assert "Inbox (2 unread)" in inbox
    message_id = re.findall(r'href="/inbox/(\d+)"', inbox)[0]
    message = gp.get(f"/inbox/{message_id}").get_data(as_text=True)
    assert "upheld its decision" in message
    assert GOOD in message
    assert "JS" not in message.split("<main")[1]  # the child is identified by reference only
    page = gp.get(f"/differences/{raised}").get_data(as_text=True)
    assert "Accept the response</a>" in page and GOOD in page


@pytest.mark.parametrize(
    "data, message",
    [
        ({**RESPONSE, "rationale": "n/a"}, "Explain the reasons for your response in your own"),
        ({**RESPONSE, "rationale": ""}, "Enter the reasons for your response"),
        (
            {**RESPONSE, "outcome": ""},
            "Select whether you agree, partly agree or uphold the decision",
        ),
        ({**RESPONSE, "outcome": "agreed"}, "Enter at least one action that is agreed"),
        ({**RESPONSE, "child_impact": ""}, "Enter what this means for the child"),
    ],
)
def test_a_response_without_what_it_must_record_is_refused(
    app, people, client_for, raised, data, message
):
    before = state_of(app, raised)
    response = act(client_for(people.sw), raised, "respond", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in page and message in page
    assert state_of(app, raised) == before


def test_someone_else_cannot_respond(app, people, client_for, raised):
    browser = client_for(people.gp)
    assert browser.get(f"/differences/{raised}/respond").status_code == 403
    page = browser.get(f"/differences/{raised}").get_data(as_text=True)
    token = csrf_token_from(page)
    version = state_of(app, raised)[2]
    response = browser.post(
        f"/differences/{raised}/respond", data={"csrf_token": token, "version": version, **RESPONSE}
    )
    assert response.status_code == 403
    assert "Only the person this stage is assigned to can respond" in (
        response.get_data(as_text=True)
    )
    assert state_of(app, raised)[0] == State.AWAITING_RESPONSE


def test_two_people_acting_at_once_the_second_keeps_what_they_typed(
    app, people, client_for, raised
):
    # The social worker opens the respond page; meanwhile the GP withdraws the difference.
    sw = client_for(people.sw)
    form_page = sw.get(f"/differences/{raised}/respond").get_data(as_text=True)
    withdrawn = act(
        client_for(people.gp),
        raised,
        "withdraw",
        {"rationale": "The family has moved out of the area to another authority."},
    )
    assert withdrawn.status_code == 302
    typed = "My carefully written reasons, which must not be lost when the form comes back."
    response = sw.post(
        f"/differences/{raised}/respond",
        data={
            **hidden_fields(form_page),
            "outcome": "upheld",
            "rationale": typed,
            "child_impact": "Support continues for the family at home.",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "This difference changed while you were working on it" in page
    assert "Withdrawn" in page
    assert typed in page
    assert state_of(app, raised)[0] == State.WITHDRAWN


def test_nothing_can_be_done_to_a_final_difference(app, people, client_for, raised):
    act(
        client_for(people.gp),
        raised,
        "withdraw",
        {"rationale": "The family has moved out of the area to another authority."},
    )
    browser = client_for(people.sw)
    response = browser.get(f"/differences/{raised}/respond")
    assert response.status_code == 409
    assert "That cannot be done now" in response.get_data(as_text=True)
    page = browser.get(f"/differences/{raised}").get_data(as_text=True)
    assert "What you can do" not in page
    assert "Withdrawn" in page


def test_unknown_action_and_unknown_difference_are_not_found(people, client_for, raised):
    browser = client_for(people.gp)
    assert browser.get(f"/differences/{raised}/delete").status_code == 404
    assert browser.get("/differences/RPD-2026-99999").status_code == 404
    assert browser.get("/differences/RPD-2026-99999/respond").status_code == 404


SEES = {"gp", "sw", "tm", "hos", "gp_lead", "designated", "chair", "auditor"}
BLIND = {"gp_colleague", "sw2", "police_manager", "admin"}


@pytest.mark.parametrize("who", sorted(SEES | BLIND))
def test_who_can_see_a_difference(people, client_for, raised, who):
    browser = client_for(getattr(people, who))
    response = browser.get(f"/differences/{raised}")
    if who in SEES:
        assert response.status_code == 200
    else:
        assert response.status_code == 404
        assert "Page not found" in response.get_data(as_text=True)
        assert browser.get(f"/differences/{raised}/conversation").status_code == 404
        assert raised not in browser.get("/inbox").get_data(as_text=True)


def test_an_auditor_reads_but_is_offered_nothing_and_can_change_nothing(
    app, people, client_for, raised
):
    browser = client_for(people.auditor)
    page = browser.get(f"/differences/{raised}").get_data(as_text=True)
    assert "What you can do" not in page
    response = browser.post(
        f"/differences/{raised}/conversation",
        data={
            "csrf_token": csrf_token_from(page),
            "version": state_of(app, raised)[2],
            "held_on": ["19", "11", "2026"],
            "participants": "Me",
            "agreed": "Nothing was agreed at all in this conversation.",
        },
    )
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 1


def test_the_whole_journey_through_the_pages(app, people, client_for, raised):
    """GP raises; social worker upholds; GP escalates; managers respond; the GP's manager
    escalates; the senior managers escalate; the partnership decides. The GP is told of all."""
    gp, sw, tm, lead = (client_for(p) for p in (people.gp, people.sw, people.tm, people.gp_lead))
    assert act(sw, raised, "respond", RESPONSE).status_code == 302
    assert (
        act(
            gp,
            raised,
            "escalate",
            {"rationale": "The injury pattern still needs a paediatric opinion in my view."},
        ).status_code
        == 302
    )
    assert raised in tm.get("/waiting").get_data(as_text=True)
    assert (
        act(
            tm,
            raised,
            "respond",
            {
                **RESPONSE,
                "rationale": "Managers reviewed the case notes and agree the threshold is not met.",
            },
        ).status_code
        == 302
    )
    assert raised in lead.get("/waiting").get_data(as_text=True)
    assert (
        act(
            lead,
            raised,
            "escalate",
            {"rationale": "We still disagree at manager level and need senior review."},
        ).status_code
        == 302
    )
    hos = client_for(people.hos)
    assert (
        act(
            hos,
            raised,
            "escalate",
            {"rationale": "Seniors cannot agree either; the partnership should decide."},
        ).status_code
        == 302
    )
    chair = client_for(people.chair)
    assert raised in chair.get("/waiting").get_data(as_text=True)
    decision = {
        "outcome": "agreed",
        "decision": "Arrange a child protection medical today.",
        "rationale": "The pattern of bruising in a pre-verbal child needs a paediatric opinion.",
        "child_impact": "The child will be seen by a paediatrician today.",
    }
    assert act(chair, raised, "decide", decision).status_code == 302
    assert state_of(app, raised)[0] == State.RESOLVED

    with app.app_context():
        bodies = db.session.scalars(
            sa.select(Notification.body).where(Notification.recipient_id == people.gp.id)
        ).all()
    text = "\n".join(bodies)
    for said in (
        "Managers reviewed the case notes",
        GOOD,
        "need senior review",
        "Seniors cannot agree either",
        "paediatric opinion",
        "Arrange a child protection medical today.",
    ):
        assert said in text
    assert len(bodies) == 7  # raised, response, 3 escalations, response, decision
    history = gp.get(f"/differences/{raised}").get_data(as_text=True)
    assert history.count('class="moj-timeline__item"') == 7  # one entry per event above


def test_accepting_a_response_resolves_the_difference(app, people, client_for, raised):
    act(client_for(people.sw), raised, "respond", RESPONSE)
    gp = client_for(people.gp)
    page = gp.get(f"/differences/{raised}/accept").get_data(as_text=True)
    assert GOOD in page  # the response being accepted is on the page
    response = act(gp, raised, "accept", {"comment": ""})
    assert response.status_code == 302
    assert "The difference is resolved" in gp.get(f"/differences/{raised}").get_data(as_text=True)
    assert state_of(app, raised)[0] == State.RESOLVED


def test_more_time_is_asked_for_and_agreed_through_the_pages(app, people, client_for, raised):
    sw = client_for(people.sw)
    # The limit and each new deadline it allows are on the page before anything is sent.
    form = sw.get(f"/differences/{raised}/extend").get_data(as_text=True)
    assert "You can ask for up to 5 more working days at this stage" in form
    offered = re.findall(r'name="new_deadline" type="radio" value="([\d-]+)"', form)
    assert offered == ["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"]
    assert "5:00pm on Tuesday 1 December 2026 (2 more working days)" in form
    too_far = act(sw, raised, "extend", {"new_deadline": "2026-12-07", "rationale": GOOD})
    assert "at most 5 more working days" in too_far.get_data(as_text=True)
    not_a_date = act(sw, raised, "extend", {"new_deadline": "next week", "rationale": GOOD})
    assert "Select the new deadline you ask for" in not_a_date.get_data(as_text=True)
    weekend = act(sw, raised, "extend", {"new_deadline": "2026-11-28", "rationale": GOOD})
    assert "Saturday 28 November 2026 is not a working day" in weekend.get_data(as_text=True)
    asked = act(sw, raised, "extend", {"new_deadline": "2026-12-01", "rationale": GOOD})
    assert asked.status_code == 302
    page = sw.get(f"/differences/{raised}").get_data(as_text=True)
    assert "5:00pm on Friday 27 November 2026" in page, "the deadline stands until agreed"
    assert "More time asked for" in page
    assert "Agree or refuse more time" not in page  # not for the responder

    gp = client_for(people.gp)
    seen = gp.get(f"/differences/{raised}").get_data(as_text=True)
    assert "asks for the response to be due by 5:00pm on Tuesday 1 December 2026" in seen
    form = gp.get(f"/differences/{raised}/more-time").get_data(as_text=True)
    assert GOOD in form and "5:00pm on Tuesday 1 December 2026" in form
    # Why it should stay is asked under "No"; a comment, optional, under "Yes".
    assert revealed_under(form, "no") == "answer" and revealed_under(form, "yes") == "comment"
    refused = act(gp, raised, "more-time", {"agree": "no", "answer": "n/a"})
    assert "does not record why" in refused.get_data(as_text=True)
    assert '<a href="#answer">' in refused.get_data(as_text=True)
    assert act(gp, raised, "more-time", {"agree": "yes", "answer": ""}).status_code == 302
    page = gp.get(f"/differences/{raised}").get_data(as_text=True)
    # Friday 27 November + 2 working days: Tuesday 1 December 2026, 5pm.
    assert "5:00pm on Tuesday 1 December 2026" in page
    assert "More time agreed: deadline moved" in page


def test_an_urgent_difference_offers_no_extension(app, people, client_for):
    with app.app_context():
        urgent = services.differences.raise_difference(
            db.session.get(User, people.gp.id),
            factories.new_difference(
                db.session.get(Agency, people.csc.id),
                named_professional_id=people.sw.id,
                immediate_risk=True,
                protective_action="Police attended and the child is with her grandmother.",
                start_stage=2,
            ),
            NOW,
        ).reference
    tm = client_for(people.tm)  # the social worker's manager responds at stage 2
    page = tm.get(f"/differences/{urgent}").get_data(as_text=True)
    assert "Ask for more time" not in page
    assert tm.get(f"/differences/{urgent}/extend").status_code == 409
    refused = submit(
        tm,
        f"/differences/{urgent}/extend",
        {"new_deadline": ["23", "11", "2026"], "rationale": GOOD},
        form_page=f"/differences/{urgent}",
    )
    assert refused.status_code == 409
    assert "urgent difference&#39;s deadline cannot be extended" in refused.get_data(as_text=True)
    # The GP escalates before any response, saying why.
    gp = client_for(people.gp)
    assert "Escalate to the next stage" in gp.get(f"/differences/{urgent}").get_data(as_text=True)
    done = act(gp, urgent, "escalate", {"rationale": "The child cannot wait: the manager did not "
                                                     "answer the phone all morning."})
    assert done.status_code == 302
    assert state_of(app, urgent)[1] == 3


def test_a_manager_reassigns_to_someone_in_their_agency_only(app, people, client_for, raised):
    tm = client_for(people.tm)
    page = tm.get(f"/differences/{raised}/reassign").get_data(as_text=True)
    options = re.findall(r"<option[^>]*>([^<]*)</option>", page)
    assert any("Leah Morgan" in option for option in options)
    assert not any("Dr Emma Clarke" in option for option in options)
    refused = act(tm, raised, "reassign", {"new_responder": str(people.gp.id), "rationale": GOOD})
    assert "Not a valid choice" in refused.get_data(as_text=True)
    done = act(
        tm,
        raised,
        "reassign",
        {
            "new_responder": str(people.sw2.id),
            "rationale": "Sam is on leave for two weeks from today.",
        },
    )
    assert done.status_code == 302
    assert raised in client_for(people.sw2).get("/waiting").get_data(as_text=True)
    assert client_for(people.sw).get(f"/differences/{raised}/respond").status_code == 403


def test_recording_a_conversation(app, people, client_for, raised):
    gp = client_for(people.gp)
    future = act(
        gp,
        raised,
        "conversation",
        {"held_on": ["1", "1", "2027"], "participants": "x", "agreed": GOOD},
    )
    assert "today or earlier" in future.get_data(as_text=True)
    bad_date = act(
        gp,
        raised,
        "conversation",
        {"held_on": ["31", "11", "2026"], "participants": "x", "agreed": GOOD},
    )
    assert "The date of the conversation must be a real date" in bad_date.get_data(as_text=True)
    done = act(
        gp,
        raised,
        "conversation",
        {
            "held_on": ["19", "11", "2026"],
            "participants": "Dr Clarke and Sam Okafor by phone",
            "agreed": "We agreed to share the health visitor's notes before the response is due.",
        },
    )
    assert done.status_code == 302
    page = gp.get(f"/differences/{raised}").get_data(as_text=True)
    assert "Conversation recorded" in page and "19 November 2026" in page


def test_inbox_counts_unread_and_keeps_messages_private(app, people, client_for, raised):
    gp = client_for(people.gp)
    assert "Inbox (1 unread)" in gp.get("/waiting").get_data(as_text=True)
    with app.app_context():
        sw_message = db.session.scalar(
            sa.select(Notification.id).where(Notification.recipient_id == people.sw.id)
        )
    assert gp.get(f"/inbox/{sw_message}").status_code == 404
    assert gp.get("/inbox/not-a-number").status_code == 404
    page = gp.get("/inbox").get_data(as_text=True)
    response = gp.post(
        "/inbox/read-all", data={"csrf_token": csrf_token_from(page)}, follow_redirects=True
    )
    assert "1 message marked as read." in response.get_data(as_text=True)
    assert "Inbox (1 unread)" not in gp.get("/inbox").get_data(as_text=True)


def test_opening_a_message_counts_it_read_on_the_page_that_opens_it(
    app, people, client_for, raised
):
    gp = client_for(people.gp)
    assert "Inbox (1 unread)" in gp.get("/waiting").get_data(as_text=True)
    with app.app_context():
        message = db.session.scalar(
            sa.select(Notification.id).where(
                Notification.recipient_id == people.gp.id,
                Notification.read_at.is_(None),
                Notification.invitation_id.is_(None),
            )
        )
    opened = gp.get(f"/inbox/{message}").get_data(as_text=True)
    # Counted with the person at the start of the request, and again once the message was read.
    assert "Inbox (1 unread)" not in opened and re.search(r">\s*Inbox\s*<", opened)


def test_more_time_cannot_be_asked_for_once_overdue(app, people, client_for, raised):
    app.config["CLOCK"] = lambda: datetime(2026, 12, 2, 11, 0, tzinfo=UTC)  # Wednesday, overdue
    sw = client_for(people.sw)
    refused = submit(
        sw,
        f"/differences/{raised}/extend",
        {"new_deadline": ["3", "12", "2026"], "rationale": GOOD},
        form_page=f"/differences/{raised}",
    )
    assert refused.status_code == 409
    assert "The deadline has passed" in refused.get_data(as_text=True)


# --- The lists: Waiting for you and the inbox, page by page ------------------------------------


def references(html: str) -> list[str]:
    main = html.split("<main", 1)[1]
    return re.findall(r'href="/differences/(RPD-[\d-]+)"', main)


def test_waiting_for_you_pages_keep_the_soonest_deadline_first(
    app, people, client_for, monkeypatch
):
    monkeypatch.setattr(respond_views, "WAITING_PER_PAGE", 2)
    with app.app_context():
        gp = db.session.get(User, people.gp.id)
        csc = db.session.get(Agency, people.csc.id)

        def raise_(when, urgent=False):
            new = factories.new_difference(
                csc,
                named_professional_id=people.sw.id,
                immediate_risk=urgent,
                protective_action="She is with her grandmother." if urgent else "",
            )
            return services.differences.raise_difference(gp, new, when).reference

        routine = raise_(datetime(2026, 11, 16, 9, 0, tzinfo=UTC))  # due Monday 23 November
        urgent = raise_(datetime(2026, 11, 18, 9, 0, tzinfo=UTC), urgent=True)  # Thursday 19th
        earlier = raise_(datetime(2026, 11, 10, 9, 0, tzinfo=UTC))  # due Tuesday 17 November
        db.session.remove()
    sw = client_for(people.sw)
    first = sw.get("/waiting").get_data(as_text=True)
    assert references(first) == [earlier, urgent]
    assert "Needs your action (3)" in first
    assert 'href="/waiting?page=2"' in first
    second = sw.get("/waiting?page=2").get_data(as_text=True)
    assert references(second) == [routine]
    assert "Needs your action (3)" in second and 'href="/waiting?page=1"' in second
    assert references(sw.get("/waiting?page=7").get_data(as_text=True)) == [routine]
    assert references(sw.get("/waiting?page=-1").get_data(as_text=True)) == [earlier, urgent]


def test_the_inbox_pages_show_unread_messages_first_then_the_newest(
    app, people, client_for, raised, monkeypatch
):
    monkeypatch.setattr(inbox_views, "INBOX_PER_PAGE", 2)
    with app.app_context():
        told_it_was_raised = db.session.scalar(
            sa.select(Notification.id).where(Notification.recipient_id == people.gp.id)
        )
        difference_id = db.session.scalar(sa.select(Difference.id))
        made = {}
        for day, read in ((13, True), (14, False), (15, True), (16, False)):
            message = add_to_outbox(
                people.gp.id,
                f"Message of {day} November",
                "Something happened.",
                datetime(2026, 11, day, 9, 0, tzinfo=UTC),
                difference_id=difference_id,
                read_at=datetime(2026, 11, 17, 9, 0, tzinfo=UTC) if read else None,
            )
            db.session.flush()
            made[day] = message.id
        db.session.commit()
        db.session.remove()
    # Unread: the raising (20 November), the 16th and the 14th; then read: the 15th, the 13th.
    expected = [told_it_was_raised, made[16], made[14], made[15], made[13]]
    gp = client_for(people.gp)
    seen = []
    for number in (1, 2, 3):
        html = gp.get(f"/inbox?page={number}").get_data(as_text=True)
        assert "3 unread of 5." in html
        seen += [int(n) for n in re.findall(r'href="/inbox/(\d+)"', html)]
    assert seen == expected
    assert 'href="/inbox?page=3"' in gp.get("/inbox").get_data(as_text=True)
    junk = gp.get("/inbox?page=abc").get_data(as_text=True)
    assert [int(n) for n in re.findall(r'href="/inbox/(\d+)"', junk)] == expected[:2]


@pytest.mark.parametrize("outcome", ["agreed", "partly_agreed"])
def test_the_actions_agreed_are_asked_after_the_answer_for_an_answer_that_agrees(
    app, people, client_for, raised, outcome
):
    sw = client_for(people.sw)
    form = sw.get(f"/differences/{raised}/respond").get_data(as_text=True)
    # One block after the answers, on the page for every answer (no JavaScript needed).
    actions_at = form.index("Actions agreed")
    assert form.index('name="outcome"') < actions_at < form.index('id="rationale"')
    assert "Only if you agree or partly agree" in form
    missing = act(sw, raised, "respond", {**RESPONSE, "outcome": outcome})
    html = missing.get_data(as_text=True)
    assert missing.status_code == 200
    assert '<a href="#action_1_what">Enter at least one action that is agreed</a>' in html
    row = factories.action_row(1, "A joint visit.", people.csc.id)
    done = act(sw, raised, "respond", {**RESPONSE, "outcome": outcome, **row})
    assert done.status_code == 302
    with app.app_context():
        d = db.session.scalar(sa.select(Difference).where(Difference.reference == raised))
        assert d.events[-1].details["agreed_actions"] == (
            "A joint visit. — Children's Social Care — by 7 January 2030"
        )


def test_the_navigation_counts_a_long_unread_inbox_up_to_99_and_the_inbox_counts_them_all(
    app, people, client_for, raised
):
    with app.app_context():
        difference_id = db.session.scalar(sa.select(Difference.id))
        for n in range(120):
            add_to_outbox(people.gp.id, f"Message {n}", "Text.", NOW, difference_id=difference_id)
        db.session.commit()
        unread = db.session.scalar(
            sa.select(sa.func.count(Notification.id)).where(
                Notification.recipient_id == people.gp.id, Notification.read_at.is_(None)
            )
        )
        db.session.remove()
    gp = client_for(people.gp)
    assert unread == 121  # the raising, and the 120
    assert "Inbox (99+ unread)" in gp.get("/waiting").get_data(as_text=True)
    inbox = gp.get("/inbox").get_data(as_text=True)
    assert "121 unread of 121." in inbox and "Inbox (99+ unread)" in inbox
