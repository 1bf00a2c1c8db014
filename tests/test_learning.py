"""Learning the board acts on: structured learning notes (recommendation, owner, due date,
status), their updates, the learning page and its CSV, and the report's follow-through sections
(learning, timeliness by receiving agency, impact). The story is tests/oversight_fixture.py:
NOW is Friday 20 November 2026; the notes on A and C are owned by Children's Social Care and by
Northshire Police, due 29 January 2027, open."""

import csv
import io
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from escalate.extensions import db
from escalate.models import (
    AdminChange,
    Difference,
    Event,
    EventKind,
    ExtensionRequest,
    ExtensionStatus,
    LearningNote,
    LearningStatus,
    Notification,
    Stage,
)
from tests import oversight_fixture as story_module
from tests.conftest import kept, submit
from tests.oversight_fixture import NOTE_A, NOTE_C, NOW, RECOMMENDATION, tables


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


@pytest.fixture
def story(request, app, people):
    def build():
        with app.app_context():
            refs = story_module.build(people)
            story_module.add_notes(people, refs)
            db.session.remove()
        return refs

    return kept(request, "story", build)


def page(browser, url: str) -> str:
    response = browser.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return response.get_data(as_text=True)


def note_form(people, **changes) -> dict:
    fields = {
        "text": "Roles at a strategy discussion should be agreed and written down before it ends.",
        "recommendation": "Add a roles checklist to the strategy discussion template this year.",
        "owner_agency": str(people.gp_practice.id),
        "owner": str(people.gp_lead.id),
        "due_on": ["31", "3", "2027"],
    }
    return {**fields, **changes}


def counts(app):
    with app.app_context():
        return tuple(
            db.session.scalar(sa.select(sa.func.count(model.id)))
            for model in (LearningNote, Event, Notification)
        )


def note_id(app, reference: str) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(LearningNote.id)
            .join(Difference, Difference.id == LearningNote.difference_id)
            .where(Difference.reference == reference)
        )


# --- Writing a structured note -----------------------------------------------------------------


def test_a_note_names_its_recommendation_owner_and_due_date(app, people, client_for, story):
    browser = client_for(people.chair)
    h = story["H"]
    response = submit(browser, f"/oversight/differences/{h}/learning-note", note_form(people))
    assert response.status_code == 302
    shown = page(browser, f"/differences/{h}")
    learning = shown.split('id="learning"')[1].split('id="history"')[0]
    assert "Add a roles checklist to the strategy discussion template" in learning
    assert "Dr David Chen, Riverside Medical Practice" in learning
    assert "31 March 2027" in learning and ">Open</strong>" in learning
    history = shown.split('id="history"')[1]
    assert "Recommendation" in history and "Dr David Chen" in history
    assert "History verified" in shown
    with app.app_context():
        told = db.session.scalars(
            sa.select(Notification).where(
                Notification.recipient_id == people.gp_lead.id,
                Notification.subject.contains("recommendation"),
            )
        ).all()
        assert [n.subject for n in told] == [
            f"{h}: you own a recommendation from the partnership's learning"
        ]
        assert "31 March 2027" in told[0].body
        note = db.session.scalars(sa.select(LearningNote).order_by(LearningNote.id.desc())).first()
        assert note.status == LearningStatus.OPEN and note.due_on == date(2027, 3, 31)


def test_an_owner_who_may_not_see_the_difference_is_not_told_which_it_was(
    app, people, client_for, story
):
    h = story["H"]
    police = client_for(people.police_manager)
    assert police.get(f"/differences/{h}").status_code == 404
    response = submit(
        client_for(people.chair),
        f"/oversight/differences/{h}/learning-note",
        note_form(
            people,
            owner_agency=str(people.police.id),
            owner=str(people.police_manager.id),
        ),
    )
    assert response.status_code == 302
    with app.app_context():
        (told,) = db.session.scalars(
            sa.select(Notification).where(
                Notification.recipient_id == people.police_manager.id,
                Notification.subject.contains("recommendation"),
            )
        ).all()
        assert told.subject == "You own a recommendation from the partnership's learning"
        assert told.difference_id is None and h not in told.body
        assert "Add a roles checklist" in told.body and "Northshire Police" in told.body
    inbox = police.get("/inbox").get_data(as_text=True)
    assert "You own a recommendation" in inbox and h not in inbox


@pytest.mark.read_only
@pytest.mark.parametrize(
    "changes, message",
    [
        ({"owner": "__sw__"}, "Select someone who works for the owning agency, or nobody"),
        ({"due_on": ["19", "11", "2026"]}, "The due date must be today or in the future"),
        ({"recommendation": ""}, "Enter what the partnership recommends"),
        ({"owner_agency": "0"}, "Select the agency that owns the recommendation"),
        ({"due_on": ["", "", ""]}, "Enter the date the recommendation is due"),
        ({"recommendation": "n/a"}, "Explain what the partnership recommends in your own words"),
    ],
)
def test_a_note_is_refused_with_a_reason(app, people, client_for, story, changes, message):
    if changes.get("owner") == "__sw__":
        changes = {"owner": str(people.sw.id)}  # works for Children's Social Care, not the GP
    before = counts(app)
    url = f"/oversight/differences/{story['H']}/learning-note"
    response = submit(client_for(people.chair), url, note_form(people, **changes))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "There is a problem" in html
    assert message in html
    assert counts(app) == before


@pytest.mark.read_only
def test_only_the_partnership_writes_learning(app, people, client_for, story):
    url = f"/oversight/differences/{story['H']}/learning-note"
    auditor = client_for(people.auditor)
    assert auditor.get(url).status_code == 403
    update = f"/oversight/learning/{note_id(app, story['A'])}"
    assert auditor.get(update).status_code == 403
    assert auditor.post(update, data={"status": "done"}).status_code in (400, 403)
    html = page(auditor, f"/differences/{story['A']}")
    assert RECOMMENDATION in html and "Update the status" not in html  # reads, never writes
    assert client_for(people.gp).get("/oversight/learning").status_code == 403
    assert client_for(people.gp).get(update).status_code == 403
    assert client_for(people.chair).get("/oversight/learning/999999").status_code == 404


# --- Updating a note ----------------------------------------------------------------------------


def test_the_partnership_updates_a_note_and_the_new_owner_is_told(app, people, client_for, story):
    browser = client_for(people.chair)
    a = story["A"]
    url = f"/oversight/learning/{note_id(app, a)}"
    fields = {
        "status": "in_progress",
        "owner_agency": str(people.csc.id),
        "owner": str(people.tm.id),
        "due_on": ["29", "1", "2027"],
        "reason": "The team manager has taken the protocol on and started drafting it.",
    }
    assert submit(browser, url, fields).status_code == 302
    shown = page(browser, f"/differences/{a}")
    assert "The learning note has been updated." in shown
    history = shown.split('id="history"')[1]
    assert "Learning note updated" in history
    assert "Open to In progress" in history
    assert "Children&#39;s Social Care to Jo Evans, Children&#39;s Social Care" in history
    assert "History verified" in shown
    with app.app_context():
        last = db.session.scalars(sa.select(Event).order_by(Event.id.desc()).limit(1)).one()
        assert last.kind == EventKind.LEARNING_UPDATED
        assert last.details["status_from"] == "open" and last.details["status_to"] == "in_progress"
        assert "due_to" not in last.details  # the due date did not change
        told = db.session.scalars(
            sa.select(Notification).where(Notification.event_id == last.id)
        ).all()
        assert [n.recipient_id for n in told] == [people.tm.id]
        assert "started drafting it" in told[0].body

    # The same again changes nothing, and says so.
    before = counts(app)
    fields["reason"] = "Submitting the same status again to see what happens."
    response = submit(browser, url, fields)
    assert response.status_code == 200
    assert "Nothing has changed" in response.get_data(as_text=True)
    assert counts(app) == before

    # Done, without naming a new owner: nobody new is told.
    fields |= {"status": "done", "reason": "The protocol was signed off by the board this week."}
    assert submit(browser, url, fields).status_code == 302
    assert counts(app) == (before[0], before[1] + 1, before[2])


# --- The learning page --------------------------------------------------------------------------


def _more_notes(app, people, story, how_many: int) -> None:
    """Notes written straight into the table (the page reads them; their history is not
    checked here): half done, half open and overdue."""
    with app.app_context():
        h = db.session.scalar(sa.select(Difference.id).where(Difference.reference == story["H"]))
        for i in range(how_many):
            db.session.add(
                LearningNote(
                    difference_id=h,
                    author_id=people.chair.id,
                    text=f"Learning number {i}",
                    recommendation=f"Recommendation number {i}",
                    created_at=NOW,
                    owner_agency_id=people.gp_practice.id,
                    due_on=date(2026, 11, 1 + i % 10),
                    status=LearningStatus.DONE if i % 2 else LearningStatus.OPEN,
                )
            )
        db.session.commit()


def test_the_learning_page_filters_pages_and_exports(app, people, client_for, story):
    _more_notes(app, people, story, 30)  # 15 open and overdue, 15 done; all the GP's
    auditor = client_for(people.auditor)
    html = page(auditor, "/oversight/learning")
    assert "32 learning notes, showing 1 to 25" in html
    assert 'href="/oversight/learning"' in html  # in the navigation
    gp = people.gp_practice.id
    url = f"/oversight/learning?status=open&agency={gp}&only=overdue"
    html = page(auditor, url)
    assert "15 learning notes" in html and "Recommendation number 0" in html
    assert "Recommendation number 1<" not in html  # done
    assert html.count(">Overdue</strong>") == 15
    assert "Status: Open" in html and "Owner: Riverside Medical Practice" in html
    # Paging keeps the filters.
    html = page(auditor, f"/oversight/learning?agency={gp}")
    assert "30 learning notes, showing 1 to 25" in html
    assert f"/oversight/learning?agency={gp}&amp;page=2" in html
    assert "showing 26 to 30" in page(auditor, f"/oversight/learning?agency={gp}&page=2")
    # A filter that makes no sense is ignored, and the page says so.
    html = page(auditor, "/oversight/learning?status=finished")
    assert "Some filters were not used" in html and "32 learning notes" in html

    response = auditor.get(f"/oversight/learning.csv?status=open&agency={gp}&only=overdue")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:4] == [
        "Reference",
        "Written on",
        "What the partnership learned",
        "Recommendation",
    ]
    assert len(rows) == 16 and {row[7] for row in rows[1:]} == {"Open"}
    assert {row[8] for row in rows[1:]} == {"Yes"}


def test_an_older_note_shows_its_owner_and_due_date_as_not_set(app, people, client_for, story):
    with app.app_context():
        db.session.execute(
            sa.update(LearningNote).values(owner_agency_id=None, due_on=None, recommendation="")
        )
        db.session.commit()
    html = page(client_for(people.auditor), "/oversight/learning")
    assert html.count("Not set") >= 6 and NOTE_A in html and NOTE_C in html


# --- The report ---------------------------------------------------------------------------------


def at(day, month=11, hour=12):
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _timeliness_story(app, story, people) -> None:
    """Every stage's deadline moved out of the quarter, then, by hand:
    Children's Social Care: A due 10 Nov answered 4 Nov (on time); B due 6 Nov answered 10 Nov
      (late); G due 16 Nov, open, unanswered (missed); D due 25 Nov (not yet due: not counted).
      More time: asked on B 5 Nov (agreed), on G 1 Nov (refused), on A 20 Sep (not this quarter).
    Riverside Medical Practice: E due 17 Nov answered 16 Nov (on time); H due 10 Nov but
      withdrawn 6 Nov, unanswered (not counted). More time: asked on E 12 Nov (pending)."""
    with app.app_context():
        db.session.execute(sa.update(Stage).values(deadline=at(1, 1, 12).replace(year=2025)))
        stage = {
            letter: db.session.scalar(
                sa.select(Stage)
                .join(Difference, Difference.id == Stage.difference_id)
                .where(Difference.reference == story[letter], Stage.level == 1)
            )
            for letter in "ABDEGH"
        }
        for letter, due, answered in (
            ("A", at(10), at(4)),
            ("B", at(6), at(10)),
            ("G", at(16), None),
            ("D", at(25), None),
            ("E", at(17), at(16)),
            ("H", at(10), None),
        ):
            stage[letter].deadline, stage[letter].responded_at = due, answered
        stage["G"].closed_at = None
        stage["H"].closed_at = at(6)
        for letter, asked, status in (
            ("B", at(5), ExtensionStatus.AGREED),
            ("G", at(1), ExtensionStatus.REFUSED),
            ("A", at(20, 9), ExtensionStatus.AGREED),
            ("E", at(12), ExtensionStatus.PENDING),
        ):
            db.session.add(
                ExtensionRequest(
                    stage_id=stage[letter].id,
                    requested_by_id=people.sw.id,
                    requested_at=asked,
                    current_deadline=asked,
                    proposed_deadline=asked,
                    working_days=2,
                    rationale="The chronology is not back from health yet.",
                    status=status,
                )
            )
        # The note on A was done late (due 1 November, done 5 November); C's stays not yet due.
        note = db.session.get(LearningNote, note_id(app, story["A"]))
        note.due_on, note.status, note.status_changed_at = date(2026, 11, 1), "done", at(5)
        db.session.commit()


def test_the_report_shows_learning_timeliness_and_extensions(app, people, client_for, story):
    _timeliness_story(app, story, people)
    html = page(client_for(people.auditor), "/oversight/report")
    found = tables(html)
    assert found["Timeliness by receiving agency"][1:] == [
        ["Children's Social Care", "3", "1", "2", "33%", "2", "1"],
        ["Riverside Medical Practice", "1", "1", "0", "100%", "1", "0"],
    ]
    notes = found["Learning notes of the period"][1:]
    assert [row[0] for row in notes] == [story["A"], story["C"]]
    assert notes[0][2:] == [
        RECOMMENDATION,
        "Children's Social Care",
        "1 November 2026",
        "Done",
        "Done late",
    ]
    assert notes[1][3:] == ["Northshire Police", "29 January 2027", "Open", "Not yet due"]

    rows = list(
        csv.reader(
            io.StringIO(
                client_for(people.auditor)
                .get("/oversight/report.csv?from=2026-10-01&to=2026-12-31")
                .get_data(as_text=True)
            )
        )
    )
    timeliness = [row for row in rows if row[0] == "Timeliness by receiving agency"]
    assert ["Timeliness by receiving agency", "Children's Social Care", "2", "late or missed"] in (
        timeliness
    )
    assert ["Timeliness by receiving agency", "Children's Social Care", "33%", "share on time"] in (
        timeliness
    )
    recommendations = [row for row in rows if row[0] == "Recommendations"]
    assert recommendations[0][1:3] == [story["A"], RECOMMENDATION]
    assert recommendations[0][3].endswith("status: Done; Done late")


def test_the_partnership_writes_the_impact_and_auditors_read_it(app, people, client_for, story):
    chair = client_for(people.chair)
    url = "/oversight/report/impact?from=2026-10-01&to=2026-12-31"
    text = "Threshold decisions are now read back to referrers, and re-referrals fell this quarter."
    response = submit(chair, url, {"text": text}, form_page="/oversight/report")
    assert response.status_code == 302
    html = page(chair, response.headers["Location"])
    assert "The impact has been saved." in html and text in html
    assert "Last written by Ruth Adeyemi" in html

    # Editing replaces it; refusals change nothing.
    response = submit(chair, url, {"text": "n/a"}, form_page="/oversight/report")
    assert response.status_code == 200 and "There is a problem" in response.get_data(as_text=True)
    better = text + " Two agencies changed their procedures."
    assert submit(chair, url, {"text": better}, form_page="/oversight/report").status_code == 302

    auditor = client_for(people.auditor)
    html = page(auditor, "/oversight/report")
    assert better in html and 'action="/oversight/report/impact' not in html  # read-only
    assert auditor.post(url, data={"text": "An auditor writing the impact."}).status_code in (
        400,
        403,
    )
    rows = list(
        csv.reader(
            io.StringIO(
                auditor.get("/oversight/report.csv?from=2026-10-01&to=2026-12-31").get_data(
                    as_text=True
                )
            )
        )
    )
    assert ["Impact", "The partnership's account", better, "Ruth Adeyemi, 2026-11-20"] in rows
    # Another period has none.
    other = page(auditor, "/oversight/report?start=1&start=7&start=2026&end=30&end=9&end=2026")
    assert "has not written about this period" in other
    with app.app_context():
        changes = db.session.scalars(
            sa.select(AdminChange.action).where(AdminChange.entity == "report impact")
        ).all()
        assert changes == ["created", "changed"]


# --- Retention ----------------------------------------------------------------------------------


def test_anonymising_a_difference_erases_its_recommendations(app, people, story):
    from escalate.services import retention

    with app.app_context():
        a = db.session.scalar(sa.select(Difference.id).where(Difference.reference == story["A"]))
        assert retention.anonymise(a, NOW, 6)
        db.session.commit()
        note = db.session.get(LearningNote, note_id(app, story["A"]))
        assert note.text == retention.RETAINED and note.recommendation == retention.RETAINED
        event = db.session.scalars(
            sa.select(Event).where(Event.difference_id == a, Event.kind == EventKind.LEARNING_NOTE)
        ).one()
        assert event.texts["recommendation"] == retention.RETAINED
        other = db.session.get(LearningNote, note_id(app, story["C"]))
        assert other.recommendation == RECOMMENDATION


def test_the_demo_has_learning_at_every_status(app, runner):
    assert runner.invoke(args=["escalate", "seed-demo"]).exit_code == 0
    with app.app_context():
        notes = db.session.scalars(sa.select(LearningNote)).all()
        assert {n.status for n in notes} == set(LearningStatus)
        assert all(n.recommendation and n.owner_agency_id and n.due_on for n in notes)
    assert runner.invoke(args=["escalate", "seed-demo"]).exit_code == 0  # adds nothing again
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(LearningNote.id))) == len(notes)
