"""Checkpoints of the history (`flask escalate checkpoint`, and the worker): signed lines in the
checkpoint log, the auditors emailed once a day and at once when the history does not verify,
verify-audit working from the last checkpoint, and rotating the history key."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from escalate import checkpoint_log, history, services
from escalate.extensions import db
from escalate.models import Difference, Event, User
from tests import oversight_fixture as story_module
from tests.conftest import make_app
from tests.mailserver import MailServer
from tests.oversight_fixture import NOW

AUDITORS = ("audit@scrutiny.example", "chair@partnership.example")


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def mail_server():
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(clock, mail_server):
    return {
        "CLOCK": clock,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": mail_server.port,
        "HISTORY_AUDITORS": AUDITORS,
    }


@pytest.fixture
def story(app, people):
    with app.app_context():
        refs = story_module.build(people)
        db.session.remove()
    return refs


def log(app) -> list[dict]:
    return checkpoint_log.lines(app.config["HISTORY_CHECKPOINT_LOG"])


def run(runner, *args):
    return runner.invoke(args=["escalate", *args])


def respond_to_e(app, rationale="The information was shared on the day it was asked for."):
    with app.app_context():
        e = db.session.scalar(sa.select(Difference).where(Difference.reference.like("%00005")))
        services.differences.respond(
            db.session.scalar(sa.select(User).where(User.email == "gp@gp.example")),
            e.id,
            e.version,
            outcome="upheld",
            rationale=rationale,
            child_impact="Nothing changes for the child.",
            now=NOW,
        )
        db.session.remove()


def test_a_checkpoint_is_signed_chained_and_written_only_when_the_record_moves_on(
    app, runner, story, mail_server
):
    first = run(runner, "checkpoint")
    assert first.exit_code == 0, first.output
    assert "checkpoint at position 21 (8 differences)" in first.stdout
    again = run(runner, "checkpoint")
    respond_to_e(app)
    later = run(runner, "checkpoint")
    assert later.exit_code == 0, later.output

    lines = [line for line in log(app) if line["kind"] == "checkpoint"]
    assert len(lines) == 2 and "checkpoint at position" not in again.stdout
    keys = history.KeyRing.from_config(app.config)
    assert all(history.checkpoint_signed(line, keys) for line in log(app))
    with app.app_context():
        seals = dict(db.session.execute(sa.select(Event.position, Event.seal)).all())
        db.session.remove()
    assert (lines[0]["position"], lines[0]["seal"]) == (21, seals[21])
    assert lines[0]["verified"] == {"seals_from": 1, "to": 21, "whole_record": True}
    assert (lines[1]["position"], lines[1]["seal"]) == (22, seals[22])
    assert lines[1]["verified"] == {"seals_from": 22, "to": 22, "whole_record": False}
    everything = log(app)
    for before, after in zip(everything, everything[1:], strict=False):
        assert after["previous"] == before["signature"]


def test_the_auditors_are_emailed_the_checkpoint_once_a_day(
    app, runner, story, mail_server, clock
):
    assert run(runner, "checkpoint").exit_code == 0
    respond_to_e(app)
    assert run(runner, "checkpoint").exit_code == 0
    assert sorted(r.recipients[0] for r in mail_server.received()) == sorted(AUDITORS)
    message = mail_server.received()[0].message
    assert message["Subject"] == "Resolve a professional difference: history checkpoint 21"
    body = message.get_content()
    assert "21 events across 8 differences" in body
    assert log(app)[0]["signature"] in body  # the signed line itself, to keep

    clock.now = NOW + timedelta(days=1)
    result = run(runner, "checkpoint")
    assert result.exit_code == 0, result.output
    assert len(mail_server.received()) == 4
    assert "history checkpoint 22" in mail_server.received()[-1].message["Subject"]
    assert [line["kind"] for line in log(app)] == [
        "checkpoint", "emailed", "checkpoint", "checkpoint", "emailed",
    ]  # fmt: skip
    assert log(app)[3]["verified"]["whole_record"] is True  # a day on: everything again


def test_the_auditors_are_told_at_once_when_the_history_stops_verifying(
    app, runner, story, mail_server
):
    assert run(runner, "checkpoint").exit_code == 0
    respond_to_e(app)
    with app.app_context():
        db.session.execute(sa.text("UPDATE event SET actor_id = 1 WHERE position = 22"))
        db.session.commit()
        db.session.remove()
    emailed = len(mail_server.received())

    result = run(runner, "checkpoint")

    assert result.exit_code == 1
    assert "RPD-2026-00005: event 2: the event was altered after it was written" in result.stderr
    alerts = mail_server.received()[emailed:]
    assert len(alerts) == 2
    assert alerts[0].message["Subject"].endswith("the history no longer verifies")
    assert "RPD-2026-00005: event 2" in alerts[0].message.get_content()
    assert log(app)[-1]["kind"] == "alert"
    assert run(runner, "checkpoint").exit_code == 1
    assert len(mail_server.received()) == emailed + 2  # the same findings are not sent again
    assert log(app)[-1]["kind"] == "alert" and len(log(app)) == 3


def test_the_quick_check_trusts_the_checkpoint_until_the_daily_check(
    app, runner, story, mail_server, clock
):
    # Each round the worker verifies only what came after the checkpoint; once a day, all of it.
    assert run(runner, "checkpoint").exit_code == 0
    with app.app_context():
        db.session.execute(sa.text("UPDATE event SET actor_id = 1 WHERE position = 3"))
        db.session.commit()
        db.session.remove()

    assert run(runner, "checkpoint").exit_code == 0
    found = run(runner, "verify-audit")
    assert found.exit_code == 1
    assert "RPD-2026-00003: event 1: the event was altered after it was written" in found.stderr
    assert "events at or before the checkpoint of" in found.stderr

    clock.now = NOW + timedelta(days=1)
    daily = run(runner, "checkpoint")
    assert daily.exit_code == 1
    assert "RPD-2026-00003: event 1" in daily.stderr


def test_verify_audit_works_from_the_last_checkpoint(app, runner, story, mail_server):
    assert run(runner, "checkpoint").exit_code == 0
    respond_to_e(app)

    result = run(runner, "verify-audit")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Verified the history of 8 differences (22 events): nothing was altered.",
        "Verified the access log (0 entries): nothing was altered.",
        f"Events 1 to 21 are as the checkpoint of {NOW.isoformat()} fingerprinted them; the 1 "
        "event after it was verified seal by seal (--full verifies every seal).",
    ]


def test_a_checkpoint_line_not_signed_with_the_key_is_reported_and_not_trusted(
    app, runner, story, mail_server
):
    assert run(runner, "checkpoint").exit_code == 0
    forged = history.sign_checkpoint(
        {"kind": "checkpoint", "at": NOW.isoformat(), "position": 2, "seal": "0" * 64},
        history.KeyRing.of("someone with the file but not the key, guessing"),
    )
    checkpoint_log.append(app.config["HISTORY_CHECKPOINT_LOG"], lambda last: forged)

    quick, full = run(runner, "verify-audit"), run(runner, "verify-audit", "--full")

    assert quick.exit_code == full.exit_code == 1
    assert "a checkpoint in the checkpoint log is not signed with escalate's key" in quick.stderr
    assert "line 3 of the checkpoint log is not signed by escalate" in full.stderr
    assert "RPD-" not in quick.stderr  # the differences themselves verify


def test_the_worker_writes_a_checkpoint_each_round(app, runner, story, mail_server):
    result = run(runner, "worker", "--once")

    assert result.exit_code == 0, result.output
    # The sweep ran first: the overdue stages it found are in the checkpoint.
    assert "history: checkpoint at position 27 (8 differences)" in result.output
    assert [line["kind"] for line in log(app)] == ["checkpoint", "emailed"]


def test_a_rotated_key_verifies_old_events_and_seals_new_ones(
    app, database_url, runner, story, tmp_path
):
    first_key = app.config["HISTORY_KEY"]
    new_key = "a new history key, at least thirty-two characters long"
    rotated = make_app(
        database_url,
        HISTORY_KEY=new_key,
        HISTORY_OLD_KEYS=(first_key,),
        HISTORY_CHECKPOINT_LOG=app.config["HISTORY_CHECKPOINT_LOG"],
        CLOCK=lambda: NOW,
    )
    without_old = make_app(
        database_url,
        HISTORY_KEY=new_key,
        HISTORY_CHECKPOINT_LOG=str(tmp_path / "other.jsonl"),
        CLOCK=lambda: NOW,
    )
    try:
        assert rotated.test_cli_runner().invoke(args=["escalate", "verify-audit"]).exit_code == 0
        respond_to_e(rotated)
        with rotated.app_context():
            key_ids = db.session.scalars(sa.select(Event.key_id).order_by(Event.position)).all()
            db.session.remove()
        assert key_ids == [history.key_id(first_key)] * 21 + [history.key_id(new_key)]
        assert rotated.test_cli_runner().invoke(args=["escalate", "verify-audit"]).exit_code == 0

        lost = without_old.test_cli_runner().invoke(args=["escalate", "verify-audit"])
        assert lost.exit_code == 1
        assert "event 1: the event is sealed with a key escalate does not hold" in lost.stderr

        resealed = rotated.test_cli_runner().invoke(
            args=["escalate", "reseal-history", "--reason", "the first key was retired"]
        )
        assert resealed.exit_code == 0, resealed.output
        assert "Sealed 22 events again" in resealed.stdout
        verified = without_old.test_cli_runner().invoke(args=["escalate", "verify-audit"])
        assert verified.exit_code == 0, verified.output
        last = log(rotated)[-1]
        assert (last["kind"], last["position"], last["reason"]) == (
            "resealed", 22, "the first key was retired",
        )  # fmt: skip
    finally:
        for other in (rotated, without_old):
            with other.app_context():
                db.session.remove()
                db.engine.dispose()


def test_reseal_history_refuses_a_history_that_does_not_verify(app, runner, story):
    with app.app_context():
        db.session.execute(sa.text("UPDATE event SET actor_id = 1 WHERE position = 3"))
        db.session.commit()
        db.session.remove()

    result = run(runner, "reseal-history", "--reason", "a new key")

    assert result.exit_code == 1
    assert "not sealed again" in result.stderr


def test_digests_and_fingerprints_do_not_depend_on_the_session(app, story):
    # PostgreSQL renders times and dates by the session's settings; what is sealed must not.
    from escalate import queries

    with app.app_context():
        before = [queries.histories.row_digest(i) for i in range(1, 9)]
        fingerprint = queries.histories.fingerprint_of(21)
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sa.text("SET TIME ZONE 'Pacific/Auckland'"))
            db.session.execute(sa.text("SET DateStyle = 'SQL, DMY'"))
        assert [queries.histories.row_digest(i) for i in range(1, 9)] == before
        assert queries.histories.fingerprint_of(21) == fingerprint
        db.session.rollback()
        db.session.remove()
