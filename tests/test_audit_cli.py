"""Verifying histories: `flask escalate verify-audit`, and the difference page's verdict, when
nothing was touched and after someone changed the database behind the service's back."""

import re

import pytest
import sqlalchemy as sa

from escalate.extensions import db
from escalate.models import Event
from tests import oversight_fixture as story_module
from tests.conftest import kept
from tests.oversight_fixture import NOW

# Events in the story: A 3, B 3, C 8, D 1, E 1, F 2, G 1, H 2.
EVENTS = 21


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


@pytest.fixture
def story(request, app, people):
    def build():
        with app.app_context():
            refs = story_module.build(people)
            db.session.remove()
        return refs

    return kept(request, "story", build)


def tamper(app, statement, **values):
    """Change the database directly, as someone with access to it (not the service) could."""
    with app.app_context():
        db.session.execute(statement, values)
        db.session.commit()
        db.session.remove()


def event_id(app, reference, sequence) -> int:
    with app.app_context():
        from escalate.models import Difference

        found = db.session.scalar(
            sa.select(Event.id)
            .join(Difference, Difference.id == Event.difference_id)
            .where(Difference.reference == reference, Event.sequence == sequence)
        )
        db.session.remove()
    return found


def verification_on_page(browser, reference) -> str:
    html = browser.get(f"/differences/{reference}").get_data(as_text=True)
    block = html.split('id="history-verification"')[1].split("</div>")[0]
    return " ".join(block.replace("<", " <").split())


@pytest.mark.read_only
@pytest.mark.parametrize("batch_size", ["200", "1", "3"])
def test_untouched_histories_verify(runner, story, batch_size):
    result = runner.invoke(args=["escalate", "verify-audit", "--batch-size", batch_size])
    assert result.exit_code == 0, result.output
    first, second = result.stdout.splitlines()
    assert first == f"Verified the history of 8 differences ({EVENTS} events): nothing was altered."
    # Other tests that share this data may have viewed its pages.
    assert re.fullmatch(r"Verified the access log \(\d+ entr(y|ies)\): nothing was altered\.",
                        second)  # fmt: skip


def test_an_empty_database_verifies_too(runner):
    result = runner.invoke(args=["escalate", "verify-audit"])
    assert result.exit_code == 0
    assert result.stdout == (
        "Verified the history of 0 differences (0 events): nothing was altered.\n"
        "Verified the access log (0 entries): nothing was altered.\n"
    )


@pytest.mark.read_only
def test_the_page_says_the_history_is_verified(people, client_for, story):
    assert "History verified" in verification_on_page(client_for(people.gp), story["A"])


def test_an_altered_event_is_named_by_the_page_and_the_command(
    app, people, client_for, runner, story
):
    # Someone rewrites the response on B (its second event) straight in the database.
    altered = {
        "outcome": "agreed",
        "rationale": "Changed afterwards.",
        "child_impact": "",
        "agreed_actions": "",
    }
    tamper(
        app,
        sa.update(Event.__table__).where(Event.__table__.c.id == sa.bindparam("event")),
        event=event_id(app, story["B"], 2),
        data=altered,
    )
    result = runner.invoke(args=["escalate", "verify-audit", "--batch-size", "2"])
    assert result.exit_code == 1
    assert f"{story['B']}: event 2: the event was altered after it was written" in result.stderr
    assert f"1 of 8 difference histories were altered: {story['B']}." in result.stderr
    assert result.stdout == ""
    for who in (people.chair, people.auditor, people.gp):  # everyone who can see B is told
        verdict = verification_on_page(client_for(who), story["B"])
        assert "This history was altered: event 2 does not match the record" in verdict
    assert "History verified" in verification_on_page(client_for(people.chair), story["A"])


@pytest.mark.tampers
def test_every_altered_history_is_named(app, runner, story):
    # Who acted is changed on C's first event, with plain SQL; D's only event disappears.
    tamper(
        app,
        sa.text("UPDATE event SET actor_id = :someone WHERE id = :event"),
        someone=1,
        event=event_id(app, story["C"], 1),
    )
    d_event = event_id(app, story["D"], 1)
    tamper(app, sa.text("DELETE FROM notification WHERE event_id = :event"), event=d_event)
    tamper(app, sa.text("DELETE FROM chronology_entry WHERE event_id = :event"), event=d_event)
    tamper(app, sa.text("DELETE FROM agreed_action WHERE event_id = :event"), event=d_event)
    tamper(app, sa.text("DELETE FROM event WHERE id = :event"), event=d_event)
    result = runner.invoke(args=["escalate", "verify-audit"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        f"{story['C']}: event 1: the event was altered after it was written",
        f"{story['D']}: event 1: an event is missing",
    ]
    assert f"2 of 8 difference histories were altered: {story['C']}, {story['D']}." in (
        result.stderr
    )


@pytest.mark.tampers
def test_a_missing_event_in_the_middle_is_found(app, people, client_for, runner, story):
    middle = event_id(app, story["C"], 4)
    tamper(app, sa.text("DELETE FROM notification WHERE event_id = :event"), event=middle)
    tamper(app, sa.text("DELETE FROM chronology_entry WHERE event_id = :event"), event=middle)
    tamper(app, sa.text("DELETE FROM agreed_action WHERE event_id = :event"), event=middle)
    tamper(app, sa.text("DELETE FROM event WHERE id = :event"), event=middle)
    result = runner.invoke(args=["escalate", "verify-audit"])
    assert result.exit_code == 1
    assert f"{story['C']}: event 4: an event is missing" in result.stderr
    verdict = verification_on_page(client_for(people.auditor), story["C"])
    assert "This history was altered: event 4" in verdict and "an event is missing" in verdict
