"""Professionals' meetings (follow-through) through their pages: arranging one (and mediation by
the independent chair at the final stage), its outcome and minutes, who is told, who may, the
minutes' due date and its policy, the sweep's reminders, Waiting for you and retention."""

import html
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from escalate import services
from escalate.extensions import db
from escalate.models import (
    AdminChange,
    ClosureDay,
    Difference,
    Event,
    EventKind,
    Notification,
    ProfessionalsMeeting,
    User,
)
from escalate.queries.histories import verify_difference
from tests.conftest import submit

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # Friday, GMT
GOOD = "We agreed the health visitor shares her notes and a strategy discussion is held."
MEETING = {
    "meets_on": ["24", "11", "2026"],  # Tuesday
    "chair": "Jo Evans, Team Manager",
    "invited": "Dr Emma Clarke (GP), Sam Okafor (social worker), the health visitor",
}


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


def at(app, moment):
    """Move the clock (a session signed in days earlier has expired: sign in again after)."""
    app.config["CLOCK"] = lambda: moment


def page(browser, url):
    """The page's text with its HTML entities read (an apostrophe is &#39; in a value)."""
    return html.unescape(browser.get(url).get_data(as_text=True))


def arrange(browser, reference, data=MEETING):
    return submit(browser, f"/differences/{reference}/arrange-meeting", data)


def meeting_id(app, reference):
    with app.app_context():
        return db.session.scalar(
            sa.select(ProfessionalsMeeting.id)
            .join(Difference, Difference.id == ProfessionalsMeeting.difference_id)
            .where(Difference.reference == reference)
            .order_by(ProfessionalsMeeting.id.desc())
        )


def told(app, person, subject_part):
    with app.app_context():
        return db.session.scalars(
            sa.select(Notification.body).where(
                Notification.recipient_id == person.id,
                Notification.subject.contains(subject_part),
            )
        ).all()


def event_kinds(app, reference):
    with app.app_context():
        return [
            e.kind
            for e in db.session.scalars(
                sa.select(Event)
                .join(Difference, Difference.id == Event.difference_id)
                .where(Difference.reference == reference)
                .order_by(Event.sequence)
            )
        ]


def verified(app, reference):
    with app.app_context():
        difference = db.session.scalar(
            sa.select(Difference).where(Difference.reference == reference)
        )
        return verify_difference(difference).ok


def test_arrange_then_outcome_then_minutes_through_the_pages(app, people, client_for, raised):
    gp, sw = client_for(people.gp), client_for(people.sw)
    show = page(gp, f"/differences/{raised}")
    assert "Arrange a professionals' meeting</a>" in show
    form = page(gp, f"/differences/{raised}/arrange-meeting")
    assert "within 5 working days" in form and "Friday 27 November 2026" in form
    assert 'name="kind"' not in form  # mediation is for the partnership at the final stage
    assert arrange(gp, raised).status_code == 302

    # The responder is told (date, chair, who is invited); the arranger is not.
    (message,) = told(app, people.sw, "meeting is arranged")
    assert "Tuesday 24 November 2026" in message and "Jo Evans, Team Manager" in message
    assert "the health visitor" in message
    assert told(app, people.gp, "meeting is arranged") == []
    show = page(sw, f"/differences/{raised}")
    assert "Professionals' meetings" in show
    assert "Minutes due by 15 December 2026" in show
    assert "The meeting has not been held yet" in show
    assert "Record the outcome" not in show  # not before the meeting day
    number = meeting_id(app, raised)
    assert sw.get(f"/differences/{raised}/meetings/{number}/outcome").status_code == 409

    at(app, datetime(2026, 11, 24, 15, 0, tzinfo=UTC))
    gp, sw = client_for(people.gp), client_for(people.sw)
    outcome_url = f"/differences/{raised}/meetings/{number}/outcome"
    assert "Record the outcome" in page(sw, f"/differences/{raised}")
    done = submit(
        sw,
        outcome_url,
        {"attendees": "Dr Clarke, Sam Okafor, Jo Evans", "agreed": GOOD},
    )
    assert done.status_code == 302
    (held,) = told(app, people.gp, "outcome of the meeting")
    assert GOOD in held and "Dr Clarke, Sam Okafor, Jo Evans" in held
    assert sw.get(outcome_url).status_code == 409  # a second outcome is refused

    minutes_url = f"/differences/{raised}/meetings/{number}/minutes"
    future = submit(gp, minutes_url, {"minutes_recorded_on": ["25", "11", "2026"]})
    assert "must be today or earlier" in future.get_data(as_text=True)
    before = submit(gp, minutes_url, {"minutes_recorded_on": ["23", "11", "2026"]})
    assert "on or after the meeting" in before.get_data(as_text=True)
    assert submit(gp, minutes_url, {"minutes_recorded_on": ["24", "11", "2026"]}).status_code == 302
    assert gp.get(minutes_url).status_code == 409  # a second time is refused

    show = page(gp, f"/differences/{raised}")
    assert "Minutes recorded on 24 November 2026" in show
    assert GOOD in show and "Attended: Dr Clarke, Sam Okafor, Jo Evans" in show
    assert "Meeting arranged" in show and "Meeting held: outcome recorded" in show
    assert "Meeting's minutes recorded" in show
    kinds = event_kinds(app, raised)
    assert kinds[-3:] == [
        EventKind.MEETING_ARRANGED,
        EventKind.MEETING_HELD,
        EventKind.MINUTES_RECORDED,
    ]
    assert verified(app, raised)


@pytest.mark.parametrize(
    "data, message",
    [
        ({**MEETING, "meets_on": ["19", "11", "2026"]}, "must be today or in the future"),
        ({**MEETING, "meets_on": ["31", "11", "2026"]}, "The date of the meeting must be a real"),
        ({**MEETING, "meets_on": ["", "", ""]}, "Enter the date of the meeting"),
        ({**MEETING, "chair": ""}, "Enter who will chair the meeting"),
        ({**MEETING, "invited": ""}, "Enter who is invited"),
        ({**MEETING, "invited": "n/a"}, "in your own words"),
    ],
)
def test_arranging_refuses_what_it_must_not_record(app, people, client_for, raised, data, message):
    response = arrange(client_for(people.gp), raised, data)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in text and message in text
    assert meeting_id(app, raised) is None


def test_who_may_arrange(app, people, client_for, raised):
    url = f"/differences/{raised}/arrange-meeting"
    # A manager or senior manager of either agency may.
    assert client_for(people.tm).get(url).status_code == 200
    assert client_for(people.gp_lead).get(url).status_code == 200
    assert client_for(people.designated).get(url).status_code == 200
    # Not involved: not found. Oversight that does not take part before the final stage: no.
    assert client_for(people.police_manager).get(url).status_code == 404
    assert client_for(people.gp_colleague).get(url).status_code == 404
    assert client_for(people.auditor).get(url).status_code == 403
    chair = client_for(people.chair)
    assert chair.get(url).status_code == 403
    assert "Arrange a professionals" not in page(chair, f"/differences/{raised}")


def test_mediation_only_at_the_final_stage_by_the_partnership(app, people, client_for, raised):
    with app.app_context():
        difference_id = db.session.scalar(sa.select(Difference.id))
        for responder in (people.sw, people.tm, people.hos):
            services.differences.escalate(
                db.session.get(User, responder.id),
                difference_id,
                None,
                rationale="We cannot agree at this stage and the child is waiting for a plan.",
                now=NOW,
            )
        db.session.remove()
    url = f"/differences/{raised}/arrange-meeting"
    gp = client_for(people.gp)
    assert 'name="kind"' not in page(gp, url)
    # The raiser's form has no choice of kind: whatever is sent, theirs is a professionals'
    # meeting (the rules refuse mediation to anyone but the partnership: tests/unit).
    assert arrange(gp, raised, {**MEETING, "kind": "mediation"}).status_code == 302
    assert "Professionals' meeting on 24 November 2026" in page(gp, f"/differences/{raised}")
    chair = client_for(people.chair)
    form = page(chair, url)
    assert "Mediation by the independent chair" in form and 'name="kind"' in form
    no_kind = arrange(chair, raised)
    assert "Select the kind of meeting" in no_kind.get_data(as_text=True)
    done = arrange(chair, raised, {**MEETING, "kind": "mediation", "chair": "Independent chair"})
    assert done.status_code == 302
    assert "Mediation by the independent chair on 24 November 2026" in page(
        gp, f"/differences/{raised}"
    )


def test_a_closed_difference_takes_no_new_meeting_but_gets_its_outcome(
    app, people, client_for, raised
):
    gp = client_for(people.gp)
    assert arrange(gp, raised).status_code == 302
    withdrawn = submit(
        gp,
        f"/differences/{raised}/withdraw",
        {"rationale": "The family moved out of the area and the case transferred."},
    )
    assert withdrawn.status_code == 302
    assert gp.get(f"/differences/{raised}/arrange-meeting").status_code == 409
    assert "Arrange a professionals" not in page(gp, f"/differences/{raised}")
    at(app, datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    gp = client_for(people.gp)
    number = meeting_id(app, raised)
    done = submit(
        client_for(people.tm),
        f"/differences/{raised}/meetings/{number}/outcome",
        {
            "attendees": "Dr Clarke and Jo Evans",
            "agreed": GOOD,
            "minutes_recorded_on": ["25", "11", "2026"],
        },
    )
    assert done.status_code == 302
    show = page(gp, f"/differences/{raised}")
    assert GOOD in show and "Minutes recorded on 25 November 2026" in show
    # Someone who may not see the difference: not found.
    outsider = client_for(people.police_manager)
    assert outsider.get(f"/differences/{raised}/meetings/{number}/outcome").status_code == 404
    assert outsider.get(f"/differences/{raised}/meetings/{number}/minutes").status_code == 404
    assert gp.get(f"/differences/{raised}/meetings/999/minutes").status_code == 404
    assert verified(app, raised)


def test_the_minutes_are_due_after_a_bank_holiday_and_a_closure_day(
    app, people, client_for, raised
):
    with app.app_context():
        db.session.add(ClosureDay(day=date(2027, 1, 4), description="Office closed"))
        db.session.commit()
    # Monday 21 December: Christmas, Boxing Day (on Monday 28), New Year's Day and a closure
    # day (Monday 4 January) are not counted: 15 January, not 14.
    assert arrange(client_for(people.gp), raised, {**MEETING, "meets_on": ["21", "12", "2026"]})
    assert "Minutes due by 15 January 2027" in page(client_for(people.sw), f"/differences/{raised}")


def test_the_policy_changes_the_next_meetings_due_date_and_is_in_the_change_log(
    app, people, client_for, raised
):
    admin = client_for(people.admin)
    url = "/admin/policy/meeting-minutes"
    for bad, message in (
        ("0", "between 1 and 60"),
        ("61", "between 1 and 60"),
        ("ten", "Enter a whole number, like 15"),
    ):
        refused = submit(admin, url, {"minutes_working_days": bad}, form_page="/admin/policy")
        assert refused.status_code == 400 and message in refused.get_data(as_text=True)
    saved = submit(admin, url, {"minutes_working_days": "10"}, form_page="/admin/policy")
    assert saved.status_code == 302
    assert "due 10 working days after it meets" in page(admin, "/admin/policy")
    with app.app_context():
        change = db.session.scalar(sa.select(AdminChange).order_by(AdminChange.id.desc()))
        assert change.before == {"minutes_working_days": 15}
        assert change.after == {"minutes_working_days": 10}
    assert "record a professionals' meeting's minutes" in page(admin, "/changes")
    assert arrange(client_for(people.gp), raised).status_code == 302
    assert "Minutes due by 8 December 2026" in page(client_for(people.gp), f"/differences/{raised}")


def sweep(app, moment):
    with app.app_context():
        report = services.sweep.sweep(moment)
        db.session.remove()
        return report


def test_the_sweep_reminds_the_arranger_once_of_the_outcome_and_once_of_the_minutes(
    app, people, client_for, raised
):
    assert arrange(client_for(people.sw), raised).status_code == 302
    # Not yet: the meeting day, then the morning after before work starts.
    for moment in (
        datetime(2026, 11, 24, 16, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
    ):
        assert sweep(app, moment).meeting_outcome_reminders == 0
    morning = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    report = sweep(app, morning)
    assert report.meeting_outcome_reminders == 1 and "1 meeting outcome reminder" in str(report)
    assert sweep(app, morning).meeting_outcome_reminders == 0
    assert len(told(app, people.sw, "record the outcome of the meeting")) == 1
    assert told(app, people.gp, "record the outcome of the meeting") == []

    assert sweep(app, datetime(2026, 12, 14, 10, 0, tzinfo=UTC)).minutes_reminders == 0
    due = datetime(2026, 12, 15, 9, 30, tzinfo=UTC)
    report = sweep(app, due)
    assert report.minutes_reminders == 1 and "1 minutes reminder" in str(report)
    again = sweep(app, due)
    assert again.minutes_reminders == 0 and again.meeting_outcome_reminders == 0
    (reminder,) = told(app, people.sw, "minutes are due")
    assert "Tuesday 15 December 2026" in reminder
    at(app, datetime(2026, 12, 16, 10, 0, tzinfo=UTC))
    assert "Overdue" in page(client_for(people.sw), f"/differences/{raised}")


def test_waiting_for_you_lists_the_meeting_to_follow_up_then_drops_it(
    app, people, client_for, raised
):
    gp = client_for(people.gp)
    assert arrange(gp, raised).status_code == 302
    assert "Meetings to follow up" not in page(gp, "/waiting")  # not held yet
    at(app, datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    gp = client_for(people.gp)
    waiting = page(gp, "/waiting")
    assert "Meetings to follow up" in waiting and "Its outcome is to be recorded" in waiting
    assert "Meetings to follow up" not in page(client_for(people.sw), "/waiting")
    number = meeting_id(app, raised)
    submit(
        gp, f"/differences/{raised}/meetings/{number}/outcome", {"attendees": "x y", "agreed": GOOD}
    )
    waiting = page(gp, "/waiting")
    assert "Meetings to follow up" in waiting and "Its outcome is to be recorded" not in waiting
    submit(
        gp,
        f"/differences/{raised}/meetings/{number}/minutes",
        {"minutes_recorded_on": ["25", "11", "2026"]},
    )
    assert "Meetings to follow up" not in page(gp, "/waiting")


def test_anonymising_erases_the_meetings_texts(app, people, client_for, raised):
    gp = client_for(people.gp)
    assert arrange(gp, raised).status_code == 302
    at(app, datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    gp = client_for(people.gp)
    number = meeting_id(app, raised)
    submit(
        gp,
        f"/differences/{raised}/meetings/{number}/outcome",
        {"attendees": "Dr Clarke", "agreed": GOOD},
    )
    submit(
        gp, f"/differences/{raised}/withdraw", {"rationale": "The family moved away from the area."}
    )
    with app.app_context():
        difference_id = db.session.scalar(sa.select(Difference.id))
        assert services.retention.anonymise(difference_id, datetime(2033, 1, 1, tzinfo=UTC), 6)
        db.session.commit()
        meeting = db.session.get(ProfessionalsMeeting, number)
        removed = services.retention.RETAINED
        assert (meeting.invited, meeting.chair, meeting.attendees, meeting.agreed) == (removed,) * 4
        texts = [
            e.texts
            for e in db.session.scalars(
                sa.select(Event).where(
                    Event.kind.in_([EventKind.MEETING_ARRANGED, EventKind.MEETING_HELD])
                )
            )
        ]
        assert texts and all(set(t.values()) == {removed} for t in texts)
        db.session.remove()
    assert verified(app, raised)
    show = page(client_for(people.chair), f"/differences/{raised}")
    assert GOOD not in show and "Jo Evans, Team Manager" not in show
