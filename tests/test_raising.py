"""Raising a difference through the pages: the immediate-risk question first, check your answers,
confirmation; refusals that explain themselves and change nothing."""

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from escalate import services
from escalate.extensions import db
from escalate.models import Agency, Difference, Notification, Side, User
from escalate.raising import views as raising_views
from escalate.workflow import FieldError
from tests import factories
from tests.conftest import submit

# Friday 20 November 2026, 10:00 in London (GMT).
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


def details(people, **overrides):
    data = {
        "receiving_agency": str(people.csc.id),
        "named_professional": str(people.sw.id),
        "child_reference": "CSC-20431",
        "child_initials": "js",
        "child_date_of_birth": ["3", "4", "2019"],
        "category": "medical",
        "decision": "Not to arrange a child protection medical for the bruising seen on 18 Nov.",
        "reasons": "The bruising pattern on the upper arm is not consistent with the explanation "
        "given, and the child is pre-verbal.",
        "desired_outcome": "A child protection medical with a paediatrician this week.",
        "discussed_informally": "yes",
        "informal_discussion": "Phoned Sam Okafor on 19 November; he said threshold was not met.",
    }
    data.update(overrides)
    return data


def count(app, model=Difference) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def check_answers(browser, people, urgent="no", **overrides):
    """Send the details; they are kept and the browser is sent on to check its answers."""
    sent = submit(
        browser, f"/differences/new/details?urgent={urgent}", details(people, **overrides)
    )
    assert sent.status_code == 302, sent.get_data(as_text=True)
    assert sent.location.endswith("/differences/new/check")
    check = browser.get("/differences/new/check")
    assert check.status_code == 200
    assert "Check your answers before raising the difference" in check.get_data(as_text=True)
    return check


def confirm_answers(browser, check=None, urgent="no"):
    return submit(browser, "/differences/new/check", {})


def raise_through_pages(browser, people, urgent="no", **overrides):
    check = check_answers(browser, people, urgent, **overrides)
    return check, confirm_answers(browser, check, urgent)


def test_the_first_question_is_immediate_risk(people, client_for):
    page = client_for(people.gp).get("/differences/new").get_data(as_text=True)
    assert "Is the child at immediate risk of significant harm?" in page


def test_no_answer_to_the_risk_question_is_an_error(people, client_for):
    response = submit(client_for(people.gp), "/differences/new", {})
    assert "Select yes if the child is at immediate risk" in response.get_data(as_text=True)


def test_immediate_risk_says_act_now_before_anything_else(people, client_for):
    browser = client_for(people.gp)
    response = submit(browser, "/differences/new", {"immediate_risk": "yes"})
    assert response.headers["Location"].endswith("/differences/new/act-now")
    page = browser.get("/differences/new/act-now").get_data(as_text=True)
    assert "This process does not replace immediate action" in page
    assert "call 999" in page
    assert "children's social care (the MASH)" in page.replace("&#39;", "'")
    assert "/differences/new/details?urgent=yes" in page


def test_the_risk_question_tells_significant_harm_from_immediate(people, client_for):
    page = client_for(people.gp).get("/differences/new").get_data(as_text=True)
    assert "Significant harm is the legal threshold for child protection enquiries" in page
    assert "immediate means the harm could happen today" in page


def test_act_now_gives_the_partnerships_numbers_and_a_way_back(app, people, client_for):
    with app.app_context():
        services.setup.change_act_now_text(
            db.session.get(User, people.admin.id),
            "Call 999 if the child is in danger now.",
            NOW,
            phones={"mash_phone": "01632 960100", "out_of_hours_phone": "01632 960200"},
        )
    browser = client_for(people.gp)
    page = browser.get("/differences/new/act-now").get_data(as_text=True).replace("&#39;", "'")
    numbers = re.findall(r'href="tel:([0-9]+)"', page.split("<footer")[0])
    assert numbers == ["999", "01632960100", "01632960200", "101"]
    assert "Children's social care front door (MASH)" in page
    assert "Out of hours: emergency duty team" in page
    assert "ask for the duty manager or the team manager" in page
    back = re.search(r'href="([^"]+)">I chose yes by mistake', page).group(1)
    assert back.endswith("/differences/new/details?urgent=no")
    form = browser.get(back).get_data(as_text=True)
    assert "Tell us about the difference" in form and "protective_action" not in form
    # Every page's footer gives the numbers too, signed in or not.
    footer = app.test_client().get("/sign-in").get_data(as_text=True).split("<footer")[1]
    assert "01632 960100" in footer and "01632 960200" in footer and "999" in footer


def test_an_urgent_difference_with_childrens_social_care_says_ask_for_a_manager_now(
    app, people, client_for
):
    browser = client_for(people.gp)
    raise_through_pages(browser, people, urgent="yes", protective_action=URGENT, start_stage="1")
    done = browser.get("/differences/RPD-2026-00001/raised").get_data(as_text=True)
    assert "ask for the duty manager or the team manager" in done
    ordinary = client_for(people.gp)
    raise_through_pages(ordinary, people, child_reference="CSC-2")
    calm = ordinary.get("/differences/RPD-2026-00002/raised").get_data(as_text=True)
    assert "ask for the duty manager" not in calm


def test_no_immediate_risk_goes_straight_to_the_details(people, client_for):
    response = submit(client_for(people.gp), "/differences/new", {"immediate_risk": "no"})
    assert response.headers["Location"].endswith("/differences/new/details?urgent=no")


def test_raising_checks_answers_then_records_and_confirms(app, people, client_for):
    browser = client_for(people.gp)
    check = check_answers(browser, people)
    page = check.get_data(as_text=True)
    for shown in (
        "CSC-20431",
        "JS",
        "3 April 2019",
        "Children&#39;s Social Care",
        "Sam Okafor",
        "Medical examination or health assessment",
        "Yes: Phoned Sam Okafor",
    ):
        assert shown in page
    assert count(app) == 0, "nothing is recorded until the raiser confirms"
    confirm = confirm_answers(browser, check)

    assert confirm.status_code == 302
    assert confirm.headers["Location"].endswith("/differences/RPD-2026-00001/raised")
    done = browser.get("/differences/RPD-2026-00001/raised").get_data(as_text=True)
    assert "Difference raised" in done and "RPD-2026-00001" in done
    # Five working days from Friday 20 November 2026: Friday 27 November, 5pm.
    assert "Sam Okafor at Children&#39;s Social Care must respond by" in done
    assert "5:00pm on Friday 27 November 2026" in done

    mine = browser.get("/differences/yours").get_data(as_text=True)
    assert "RPD-2026-00001" in mine and "5 working days left" in mine
    queue = client_for(people.sw).get("/waiting").get_data(as_text=True)
    assert "RPD-2026-00001" in queue


def test_change_your_answers_brings_the_form_back_filled_in(people, client_for):
    browser = client_for(people.gp)
    check = check_answers(browser, people).get_data(as_text=True)
    change = re.search(r'href="([^"]+#reasons)"', check).group(1).replace("&amp;", "&")
    assert change == "/differences/new/details?urgent=no#reasons"
    back = browser.get(change)
    page = back.get_data(as_text=True)
    assert "Tell us about the difference" in page
    assert 'value="CSC-20431"' in page
    assert "The bruising pattern on the upper arm" in page
    assert "There is a problem" not in page


def test_back_forward_and_refresh_never_send_the_answers_again(app, people, client_for):
    browser = client_for(people.gp)
    check_answers(browser, people)
    # "Check your answers" is a page of its own: shown again as often as asked, nothing sent.
    again = browser.get("/differences/new/check")
    assert again.status_code == 200 and count(app) == 0
    first = confirm_answers(browser)
    assert first.location.endswith("/differences/RPD-2026-00001/raised")
    # The raise button pressed again (a double click, or back then send): raised once.
    twice = submit(browser, "/differences/new/check", {}, form_page="/differences/yours")
    assert twice.status_code == 302 and twice.location.endswith("/differences/yours")
    assert "That difference has been raised already" in browser.get(
        "/differences/yours"
    ).get_data(as_text=True)
    assert count(app) == 1
    # Back to "Check your answers" after raising starts a new difference, empty.
    assert browser.get("/differences/new/check").location.endswith("/differences/new")


def test_each_question_page_has_a_back_link(people, client_for):
    browser = client_for(people.gp)
    for page, back in (
        ("/differences/new", "/"),
        ("/differences/new/details?urgent=no", "/differences/new"),
    ):
        html = browser.get(page).get_data(as_text=True)
        assert f'<a href="{back}" class="govuk-back-link">Back</a>' in html, page
    check_answers(browser, people)
    html = browser.get("/differences/new/check").get_data(as_text=True)
    assert (
        '<a href="/differences/new/details?urgent=no" class="govuk-back-link">Back</a>' in html
    )


@pytest.mark.parametrize(
    ("agency", "named", "about_who"),
    [
        ("0", "0", "receiving_agency"),  # no agency chosen
        ("csc", "gp_lead", "named_professional"),  # a person of another agency
    ],
)
def test_every_problem_with_the_details_is_shown_at_once(
    app, people, client_for, agency, named, about_who
):
    browser = client_for(people.gp)
    page = submit(
        browser,
        "/differences/new/details?urgent=yes",
        details(
            people,
            receiving_agency=agency if agency == "0" else str(getattr(people, agency).id),
            named_professional=named if named == "0" else str(getattr(people, named).id),
            reasons="n/a",
            informal_discussion="",
            protective_action="",
            start_stage="1",
            child_reference="",
        ),
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    start = html.index("govuk-error-summary__list")
    summary = html[start : html.index("</ul>", start)]
    found = re.findall(r'<a href="#([^"]+)">', summary)
    # One problem a field, in the order of the page, from one submit.
    assert found == [
        "protective_action",
        "child_reference",
        about_who,
        "reasons",
        "informal_discussion",
    ], summary
    assert count(app) == 0


def test_an_urgent_difference_needs_the_protective_action_and_has_urgent_timescales(
    app, people, client_for
):
    browser = client_for(people.gp)
    refused = submit(
        browser, "/differences/new/details?urgent=yes", details(people, start_stage="1")
    )
    assert "Enter the protective action that has been taken" in refused.get_data(as_text=True)
    _, confirm = raise_through_pages(
        browser,
        people,
        urgent="yes",
        protective_action="Referred to the MASH by phone at 9am; police informed at 9.15am.",
        start_stage="1",
    )
    assert confirm.status_code == 302
    done = browser.get("/differences/RPD-2026-00001/raised").get_data(as_text=True)
    # Four working hours from 10am on Friday 20 November 2026: 2pm the same day.
    assert "must respond by <strong>2:00pm today</strong> (4 working hours left)" in done
    assert "you can escalate it to the next stage at any time" in done
    page = browser.get("/differences/RPD-2026-00001").get_data(as_text=True)
    assert "Urgent" in page and "2:00pm today" in page and "4 working hours left" in page


URGENT = "Referred to the MASH by phone at 9am; police informed at 9.15am."


def test_the_raiser_of_an_urgent_difference_starts_it_at_stage_two(app, people, client_for):
    browser = client_for(people.gp)
    form = browser.get("/differences/new/details?urgent=yes").get_data(as_text=True)
    offered = re.findall(r'name="start_stage" type="radio" value="(\d)"', form)
    assert offered == ["1", "2", "3"], "up to stage 3, never the final stage"
    check, confirm = raise_through_pages(
        browser, people, urgent="yes", protective_action=URGENT, start_stage="2"
    )
    assert "Stage 2: Manager to manager" in check.get_data(as_text=True)
    assert confirm.status_code == 302
    with app.app_context():
        difference = db.session.scalar(sa.select(Difference))
        assert difference.stage_level == 2 and [s.level for s in difference.stages] == [2]
        stage = difference.open_stage
        assert (stage.working_hours, stage.deadline) == (4, datetime(2026, 11, 20, 14, tzinfo=UTC))
        assert [u.id for u in stage.people(Side.RESPONDER)] == [people.tm.id]
        assert [u.id for u in stage.people(Side.LEAD)] == [people.gp_lead.id]
        assert difference.events[0].data["start_stage"] == 2
        told = dict(
            db.session.execute(sa.select(Notification.recipient_id, Notification.subject)).all()
        )
    # The partnership is alerted to every urgent difference.
    assert set(told) == {people.gp.id, people.tm.id, people.gp_lead.id, people.chair.id}
    assert "has started at Manager to manager" in told[people.gp_lead.id]
    assert "needs your response by 2pm on Friday 20 November 2026" in told[people.tm.id]


@pytest.mark.parametrize(
    ("start_stage", "message"),
    [(None, "Select the stage at which the difference starts"),
     ("4", "An urgent difference can start at stage 1, 2 or 3"),
     ("two", "An urgent difference can start at stage 1, 2 or 3")],
)
def test_an_urgent_difference_starts_only_where_the_policy_allows(
    app, people, client_for, start_stage, message
):
    data = details(people, protective_action=URGENT)
    if start_stage is not None:
        data["start_stage"] = start_stage
    response = submit(client_for(people.gp), "/differences/new/details?urgent=yes", data)
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert count(app) == 0


def test_the_policy_can_keep_urgent_differences_at_stage_one(app, people, client_for):
    with app.app_context():
        services.setup.change_highest_urgent_start(
            db.session.get(User, people.admin.id), 1, NOW
        )
    browser = client_for(people.gp)
    form = browser.get("/differences/new/details?urgent=yes").get_data(as_text=True)
    assert re.findall(r'name="start_stage" type="radio" value="(\d)"', form) == ["1"]
    with app.app_context():
        new = factories.new_difference(
            db.session.get(Agency, people.csc.id),
            immediate_risk=True,
            protective_action=URGENT,
            start_stage=2,
        )
        with pytest.raises(FieldError, match="can start at stage 1"):
            services.differences.raise_difference(db.session.get(User, people.gp.id), new, NOW)
        ordinary = factories.new_difference(db.session.get(Agency, people.csc.id), start_stage=2)
        with pytest.raises(FieldError, match="Only an urgent difference can start above stage 1"):
            services.differences.raise_difference(
                db.session.get(User, people.gp.id), ordinary, NOW
            )
    assert count(app) == 0
    assert 'name="start_stage"' not in browser.get(
        "/differences/new/details?urgent=no"
    ).get_data(as_text=True)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"reasons": "see above"}, "Explain why you disagree in your own words"),
        ({"reasons": "As discussed."}, "does not record why"),
        ({"reasons": "Not right"}, "Explain why you disagree in at least 5 words"),
        ({"decision": ""}, "Enter the decision or action you disagree with"),
        ({"child_initials": ""}, "Enter the child&#39;s initials"),
        ({"child_initials": "J5"}, "letters only"),
        ({"child_date_of_birth": ["31", "2", "2020"]}, "Date of birth must be a real date"),
        ({"child_date_of_birth": ["1", "1", "2027"]}, "Date of birth must be in the past"),
        ({"receiving_agency": "0"}, "Select the agency you disagree with"),
        ({"named_professional": "999999"}, "Select a professional who works for Children"),
        ({"category": "gossip"}, "Select what the difference is about"),
        (
            {"discussed_informally": "yes", "informal_discussion": ""},
            "Enter when you discussed it, with whom, and what was said",
        ),
    ],
)
def test_bad_answers_are_explained_and_nothing_is_recorded(
    app, people, client_for, overrides, message
):
    response = submit(
        client_for(people.gp), "/differences/new/details?urgent=no", details(people, **overrides)
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in page
    assert message in page
    assert count(app) == 0


def test_a_named_professional_must_work_for_the_chosen_agency(app, people, client_for):
    response = submit(
        client_for(people.gp),
        "/differences/new/details?urgent=no",
        details(people, named_professional=str(people.police_manager.id)),
    )
    assert "Select a professional who works for Children&#39;s Social Care" in (
        response.get_data(as_text=True)
    )
    assert count(app) == 0


def test_confirming_applies_the_rules_again(app, people, client_for):
    # A person named on the check page who has since left the agency is refused at confirming.
    browser = client_for(people.gp)
    check_answers(browser, people)
    with app.app_context():
        db.session.get(User, people.sw.id).active = False
        db.session.commit()
    response = confirm_answers(browser)
    assert response.status_code == 200
    assert "Select a professional who works for Children&#39;s Social Care" in (
        response.get_data(as_text=True)
    )
    assert count(app) == 0


@pytest.mark.parametrize("role", ["chair", "auditor", "admin"])
def test_only_agency_professionals_raise_differences(people, client_for, role):
    browser = client_for(getattr(people, role))
    assert browser.get("/differences/new").status_code == 403
    assert (
        submit(browser, "/differences/new/details?urgent=no", {}, form_page="/account").status_code
        == 403
    )


def test_the_raiser_is_told_it_was_raised_and_the_responder_is_asked(app, people, client_for):
    raise_through_pages(client_for(people.gp), people)
    with app.app_context():
        rows = db.session.execute(sa.select(Notification.recipient_id, Notification.subject)).all()
    # The GP's line manager supports them, and is told too.
    assert {r.recipient_id for r in rows} == {people.gp.id, people.sw.id, people.gp_lead.id}
    assert any("needs your response by 5pm on Friday 27 November 2026" in r.subject for r in rows)


def test_the_details_cannot_be_reached_without_answering_the_risk_question(people, client_for):
    browser = client_for(people.gp)
    for url in ("/differences/new/details", "/differences/new/details?urgent=maybe"):
        response = browser.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/differences/new")


# --- Your differences ----------------------------------------------------------------------------


@pytest.fixture
def story(app, people):
    """The oversight tests' hand-counted story: the GP raised A (resolved), B, D and G (open);
    the social worker raised E (open) and H (withdrawn) with the GP named."""
    from tests import oversight_fixture

    with app.app_context():
        refs = oversight_fixture.build(people)
        db.session.remove()
    return refs


def mine_lists(html: str) -> tuple[list[str], list[str]]:
    """The references on Your differences: raised by you, and the others you are part of."""
    raised, others = html.split('id="raised-by-you"')[1].split('id="others-you-are-part-of"')
    found = lambda part: re.findall(r'href="/differences/(RPD-[\d-]+)"', part)  # noqa: E731
    return found(raised), found(others.split("</main>")[0])


def test_your_differences_show_open_ones_first_then_the_most_recently_raised(
    people, client_for, story
):
    html = client_for(people.gp).get("/differences/yours").get_data(as_text=True)
    raised, others = mine_lists(html)
    # D (18 Nov), B (9 Nov), G (7 Sep) are open; A (2 Nov) was resolved.
    assert raised == [story[x] for x in "DBGA"]
    assert others == [story[x] for x in "EH"]  # E is open; H was withdrawn
    assert "govuk-pagination" not in html  # one page each


def test_each_list_of_your_differences_pages_on_its_own(people, client_for, story, monkeypatch):
    monkeypatch.setattr(raising_views, "MINE_PER_PAGE", 1)
    gp = client_for(people.gp)
    html = gp.get("/differences/yours?raised_page=3&others_page=2").get_data(as_text=True)
    assert mine_lists(html) == ([story["G"]], [story["H"]])
    # Paging through one list keeps the other on its page, and comes back to the list.
    assert 'href="/differences/yours?others_page=2&amp;raised_page=4#raised-by-you"' in html
    back = 'href="/differences/yours?raised_page=3&amp;others_page=1#others-you-are-part-of"'
    assert back in html
    seen = []
    for number in range(1, 5):
        html = gp.get(f"/differences/yours?raised_page={number}").get_data(as_text=True)
        seen += mine_lists(html)[0]
    assert seen == [story[x] for x in "DBGA"]
    # A page that does not exist shows the nearest one that does; junk shows the first.
    html = gp.get("/differences/yours?raised_page=99&others_page=x").get_data(as_text=True)
    assert mine_lists(html) == ([story["A"]], [story["E"]])


def test_the_sweep_removes_a_draft_nobody_came_back_to_after_seven_days(app, people, client_for):
    from datetime import timedelta

    from escalate.models import RaiseDraft

    check_answers(client_for(people.gp), people)
    with app.app_context():
        six_days = services.sweep.sweep(NOW + timedelta(days=6, hours=23))
        dry = services.sweep.sweep(NOW + timedelta(days=7, hours=1), dry_run=True)
        assert (six_days.drafts, dry.drafts, count(app, RaiseDraft)) == (0, 1, 1)
        report = services.sweep.sweep(NOW + timedelta(days=7, hours=1))
        assert report.drafts == 1 and "1 stale draft removed" in str(report)
    assert count(app, RaiseDraft) == 0
    assert client_for(people.gp).get("/differences/new/check").location.endswith(
        "/differences/new"
    )
