"""Each person's part in a difference (``involvement``), which *Your differences* and *Waiting for
you* read, is what the differences, their stages and assignments say it is: written by the
services as the workflow goes, and by the synthetic partnership in bulk (with each agency's
entries for its own record of the outcomes, as the services write them)."""

from datetime import UTC, datetime
from types import SimpleNamespace

import sqlalchemy as sa

from escalate import chronology, demo, queries, services
from escalate.extensions import db
from escalate.models import (
    Assignment,
    ChronologyEntry,
    Difference,
    Event,
    Involvement,
    Stage,
    State,
    User,
)
from tests.conftest import sign_in

DEMO_MOMENT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # a Thursday


def by_definition() -> set[tuple]:
    """(person, difference, raised it, open) from the source tables: the raiser; the named
    professional; everyone assigned at any stage, reassigned or not."""
    differences = {d.id: d for d in db.session.scalars(sa.select(Difference))}
    parts = {(d.raiser_id, d.id) for d in differences.values()}
    parts |= {(d.named_professional_id, d.id) for d in differences.values()}
    parts |= {
        tuple(row)
        for row in db.session.execute(
            sa.select(Assignment.user_id, Stage.difference_id).join(
                Stage, Stage.id == Assignment.stage_id
            )
        )
    }
    return {
        (user_id, d, user_id == differences[d].raiser_id, differences[d].closed_at is None)
        for user_id, d in parts
        if user_id is not None
    }


def noted() -> set[tuple]:
    return {
        tuple(row)
        for row in db.session.execute(
            sa.select(
                Involvement.user_id,
                Involvement.difference_id,
                Involvement.raised,
                Involvement.is_open,
            )
        )
    }


def test_the_demo_partnerships_parts_are_noted_as_the_workflow_went(app):
    """The demo's thirteen differences were raised, answered, reassigned, escalated, decided
    and withdrawn through the services."""
    with app.app_context():
        services.demo.seed_demo(demo.DEMO_PASSWORD, DEMO_MOMENT)
        expected = by_definition()
        assert noted() == expected
        assert len(expected) > 40
        assert {raised for *_, raised, _ in expected} == {True, False}
        assert {is_open for *_, is_open in expected} == {True, False}
        db.session.remove()


def test_the_synthetic_partnership_notes_the_same_parts(app):
    with app.app_context():
        services.setup.install_defaults()
        services.synthetic.seed_bench(60, DEMO_MOMENT, people=150)
        expected = by_definition()
        assert noted() == expected
        assert len(expected) > 120
        db.session.remove()


def test_a_reassigned_responder_finds_the_difference_waiting_for_them(app):
    """Ben Foster took over early help's response to NA-4502 from Mia Jones, on leave: it is his
    to answer, and among the differences he was assigned to."""
    with app.app_context():
        services.demo.seed_demo(demo.DEMO_PASSWORD, DEMO_MOMENT)
        reference = db.session.scalar(
            sa.select(Difference.reference).where(Difference.child_reference == "NA-4502")
        )
        db.session.remove()
    app.config["CLOCK"] = lambda: DEMO_MOMENT
    ben = app.test_client()
    sign_in(ben, SimpleNamespace(email=demo.BEN), demo.DEMO_PASSWORD)

    waiting = ben.get("/waiting").get_data(as_text=True)
    yours = ben.get("/differences/yours").get_data(as_text=True)

    assert reference in waiting
    involving = yours.split("Others you are part of", 1)[1]
    assert reference in involving


def test_waiting_for_you_is_what_the_rules_say_waits_for_each_person(app):
    """Over the synthetic partnership (every stage and state, escalations, closed histories):
    a response awaited from a stage's active responders; an answer awaited from the raiser
    and the stage's leads."""
    with app.app_context():
        services.setup.install_defaults()
        services.synthetic.seed_bench(300, DEMO_MOMENT, people=120)
        expected: dict[int, set[int]] = {}
        for difference in db.session.scalars(sa.select(Difference)):
            state = queries.differences.situation(difference, DEMO_MOMENT)
            if state.state == State.AWAITING_RESPONSE:
                waiting_on = state.responder_ids
            elif state.state == State.AWAITING_RAISER:
                waiting_on = {state.raiser_id, *state.lead_ids}
            else:
                continue
            for user_id in waiting_on:
                expected.setdefault(user_id, set()).add(difference.id)
        assert len(expected) > 10 and sum(map(len, expected.values())) > 15
        for user in db.session.scalars(sa.select(User)).all():
            found = {d.id for d in db.session.scalars(queries.differences.waiting_for(user))}
            assert found == expected.get(user.id, set()), user.email
        db.session.remove()


def test_the_synthetic_partnership_writes_each_agencys_entry_at_each_outcome(app):
    with app.app_context():
        services.setup.install_defaults()
        services.synthetic.seed_bench(200, DEMO_MOMENT, people=120)
        outcomes = db.session.scalars(
            sa.select(Event).where(Event.kind.in_(chronology.OUTCOME_KINDS))
        ).all()
        entries = db.session.scalars(sa.select(ChronologyEntry)).all()
        by_event = {}
        for entry in entries:
            by_event.setdefault(entry.event_id, []).append(entry)
        assert len(outcomes) > 150
        for event in outcomes:
            d = db.session.get(Difference, event.difference_id)
            assert sorted(e.agency_id for e in by_event.pop(event.id)) == sorted(
                [d.raising_agency_id, d.receiving_agency_id]
            )
        assert by_event == {}
        confirmed = [e for e in entries if e.confirmed_at is not None]
        assert 0.5 < len(confirmed) / len(entries) < 0.95
        assert all(e.recorded_on == e.confirmed_at.date() for e in confirmed)
        db.session.remove()
