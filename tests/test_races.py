"""Twenty people acting at the same moment, each in their own browser session (their own
database connection): on one difference exactly one action wins and every other person is told
"this difference changed" (409), never a server error; learning notes written at once are all
kept, each with its place in the history. Run on SQLite, and on PostgreSQL whenever
TEST_DATABASE_URL is set (as CI does)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from escalate import queries, services
from escalate.extensions import db
from escalate.models import (
    Difference,
    Event,
    EventKind,
    LearningNote,
    Notification,
    Role,
    State,
    User,
)
from tests import factories
from tests.conftest import csrf_token_from, hidden_fields, persist

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # Friday, GMT
PEOPLE = 20
GOOD = "The explanation given by the parent is consistent with the injury seen on the arm."
CHANGED = "This difference changed while you were working on it"


@pytest.fixture
def app_config():
    # Twenty sessions hold twenty connections at once (each waits for the one before it).
    return {"CLOCK": lambda: NOW, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": PEOPLE + 5}}


def raise_one(app, people, **overrides) -> str:
    with app.app_context():
        gp = db.session.get(User, people.gp.id)
        difference = services.differences.raise_difference(
            gp,
            factories.new_difference(
                db.session.get(type(gp.agency), people.csc.id),
                named_professional_id=people.sw.id,
                **overrides,
            ),
            NOW,
        )
        reference = difference.reference
        db.session.remove()
    return reference


def all_at_once(attempts):
    """Run each attempt (a function of no arguments) in its own thread, released together."""
    start = threading.Barrier(len(attempts))

    def run(attempt):
        prepared = attempt()  # load the form first, as a person would
        start.wait(timeout=60)
        return prepared()

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return list(pool.map(run, attempts))


def posting(browser, url, data):
    """Load the form at url now; return a function that sends it (with what the page held)."""

    def prepare():
        page = browser.get(url)
        assert page.status_code == 200, page.status_code
        html = page.get_data(as_text=True)
        payload = {**hidden_fields(html), "csrf_token": csrf_token_from(html), **data}
        return lambda: browser.post(url, data=payload)

    return prepare


def outcomes(responses) -> dict[int, int]:
    counted: dict[int, int] = {}
    for response in responses:
        counted[response.status_code] = counted.get(response.status_code, 0) + 1
    return counted


def history_of(app, reference):
    with app.app_context():
        difference = db.session.scalar(
            sa.select(Difference).where(Difference.reference == reference)
        )
        kinds = [(e.sequence, e.kind) for e in difference.events]
        verified = queries.histories.verify_difference(difference).ok
        state = difference.state
        db.session.remove()
    return state, kinds, verified


def test_twenty_responses_at_once_one_wins_and_nineteen_are_told_it_changed(
    app, people, client_for
):
    reference = raise_one(app, people)
    url = f"/differences/{reference}/respond"
    answer = {"outcome": "upheld", "rationale": GOOD,
              "child_impact": "Family support continues through early help."}
    attempts = [posting(client_for(people.sw), url, answer) for _ in range(PEOPLE)]

    responses = all_at_once(attempts)

    assert outcomes(responses) == {302: 1, 409: PEOPLE - 1}
    for response in responses:
        if response.status_code == 409:
            assert CHANGED in response.get_data(as_text=True)
    state, kinds, verified = history_of(app, reference)
    assert state == State.AWAITING_RAISER
    assert kinds == [(1, EventKind.RAISED), (2, EventKind.RESPONDED)]
    assert verified


def test_a_response_and_withdrawals_at_once_one_wins(app, people, client_for):
    reference = raise_one(app, people)
    answer = {"outcome": "agreed", "rationale": GOOD,
              "child_impact": "A strategy discussion will be held today.",
              **factories.action_row(1, "A strategy discussion today.", people.csc.id)}
    why = {"rationale": "The family has moved out of the area and the school has closed it."}
    attempts = [
        posting(client_for(people.sw), f"/differences/{reference}/respond", answer)
        if i % 2
        else posting(client_for(people.gp), f"/differences/{reference}/withdraw", why)
        for i in range(PEOPLE)
    ]

    responses = all_at_once(attempts)

    assert outcomes(responses) == {302: 1, 409: PEOPLE - 1}
    state, kinds, verified = history_of(app, reference)
    assert state in (State.AWAITING_RAISER, State.WITHDRAWN)
    assert len(kinds) == 2 and verified


def test_twenty_learning_notes_written_at_once_are_all_kept(app, people, client_for):
    reference = raise_one(app, people)
    with app.app_context():
        difference = db.session.scalar(
            sa.select(Difference).where(Difference.reference == reference)
        )
        services.differences.withdraw(
            db.session.get(User, people.gp.id),
            difference.id,
            difference.version,
            rationale="The family has moved out of the area and the school has closed it.",
            now=NOW,
        )
        db.session.remove()
    members = persist(
        app,
        lambda: [
            factories.user(Role.PARTNERSHIP, name=f"Member {i}", email=f"member{i}@p.example")
            for i in range(PEOPLE)
        ],
    )
    url = f"/oversight/differences/{reference}/learning-note"
    attempts = [
        posting(
            client_for(member),
            url,
            {
                "text": f"Learning from {member.name}: agree who chairs the strategy discussion.",
                "recommendation": "Name the chair of every strategy discussion in the rota.",
                "owner_agency": str(people.csc.id),
                "owner": "0",
                "due_on": ["29", "1", "2027"],
            },
        )
        for member in members
    ]

    responses = all_at_once(attempts)

    assert outcomes(responses) == {302: PEOPLE}
    with app.app_context():
        difference = db.session.scalar(
            sa.select(Difference).where(Difference.reference == reference)
        )
        notes = db.session.scalars(
            sa.select(LearningNote).where(LearningNote.difference_id == difference.id)
        ).all()
        events = db.session.scalars(
            sa.select(Event)
            .where(Event.difference_id == difference.id, Event.kind == EventKind.LEARNING_NOTE)
            .order_by(Event.sequence)
        ).all()
        assert sorted(n.author_id for n in notes) == sorted(m.id for m in members)
        assert sorted(n.text for n in notes) == sorted(e.details["text"] for e in events)
        assert [e.sequence for e in events] == list(range(3, 3 + PEOPLE))
        assert queries.histories.verify_difference(difference).ok
        db.session.remove()


def test_a_conflict_found_by_an_automatic_flush_is_a_stale_difference(app, people, monkeypatch):
    # Without its lock and fresh read, an action works on the version the page loaded; the
    # database then refuses the update at an automatic flush, which must still end in "this
    # difference changed" (409), not a server error.
    from escalate.services import differences as actions
    from escalate.workflow import StaleDifference

    reference = raise_one(app, people)

    def unlocked(*conditions):
        return db.session.scalar(sa.select(Difference).where(*conditions))

    monkeypatch.setattr(actions, "lock_difference", unlocked)
    with app.app_context():
        difference = db.session.scalar(
            sa.select(Difference).where(Difference.reference == reference)
        )
        shown = difference.version
        with db.engine.begin() as elsewhere:  # someone else's action, committed meanwhile
            elsewhere.execute(
                sa.update(Difference.__table__)
                .where(Difference.__table__.c.id == difference.id)
                .values(version=shown + 1)
            )
        with pytest.raises(StaleDifference):
            actions.respond(
                db.session.get(User, people.sw.id),
                difference.id,
                shown,
                outcome="upheld",
                rationale=GOOD,
                child_impact="Family support continues through early help.",
                now=NOW,
            )
        assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 1
        db.session.remove()


def test_one_message_opened_in_twenty_tabs_at_once_is_counted_read_once(app, people, client_for):
    raise_one(app, people)
    raise_one(app, people)
    with app.app_context():
        message = db.session.scalar(
            sa.select(Notification.id).where(Notification.recipient_id == people.sw.id).limit(1)
        )
        before = queries.inbox.counts(people.sw)
        db.session.remove()
    tabs = [client_for(people.sw) for _ in range(PEOPLE)]
    attempts = [lambda tab=tab: lambda: tab.get(f"/inbox/{message}") for tab in tabs]

    responses = all_at_once(attempts)

    assert outcomes(responses) == {200: PEOPLE}
    with app.app_context():
        assert before.unread == 2
        assert queries.inbox.counts(people.sw) == (before.messages, 1)
        assert "Inbox (1 unread)" in tabs[0].get("/waiting").get_data(as_text=True)
        db.session.remove()
