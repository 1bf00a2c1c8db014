"""`flask escalate deliver` and `flask escalate worker`: in-process, and as real processes that are
stopped by signals or killed in the middle of a send."""

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from escalate import cli
from escalate.extensions import db
from escalate.models import EmailStatus, Notification, PartnershipDigest
from escalate.services import digest
from tests.mailserver import MailServer, wait_for
from tests.test_delivery import BASE_URL, NOW, raise_difference

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def mail_server():
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(mail_server):
    return {
        "CLOCK": lambda: NOW,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": mail_server.port,
        "ESCALATE_BASE_URL": BASE_URL,
    }


def statuses(app) -> list[EmailStatus]:
    with app.app_context():
        found = list(
            db.session.scalars(sa.select(Notification.email_status).order_by(Notification.id))
        )
        db.session.remove()
    return found


def message_ids(app) -> list[str]:
    with app.app_context():
        ids = db.session.scalars(sa.select(Notification.id).order_by(Notification.id)).all()
        db.session.remove()
    return [f"<notification-{i}@escalate.northshire.example>" for i in ids]


# --- In-process ----------------------------------------------------------------------------------


def test_deliver_without_a_mail_server_writes_eml_files_to_the_instance_folder(
    app, people, runner, tmp_path
):
    app.config["MAIL_SERVER"] = None
    app.instance_path = str(tmp_path)
    reference = raise_difference(app, people)

    result = runner.invoke(args=["escalate", "deliver"])

    assert result.exit_code == 0, result.output
    assert result.output == "Email: 3 sent, 0 to try again later, 0 failed, 0 not emailed.\n"
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert [f.name for f in files] == [
        "notification-1@escalate.northshire.example.eml",
        "notification-2@escalate.northshire.example.eml",
        "notification-3@escalate.northshire.example.eml",
    ]
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["To"] == "Dr Emma Clarke <gp@gp.example>"
    assert message["Message-ID"] == "<notification-1@escalate.northshire.example>"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert f"{BASE_URL}/differences/{reference}" in text
    assert statuses(app) == [EmailStatus.SENT] * 3

    again = runner.invoke(args=["escalate", "deliver"])
    assert again.output.startswith("Email: 0 sent,")
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 3


def test_deliver_says_what_it_could_not_send(app, people, runner, mail_server):
    mail_server.stop()
    raise_difference(app, people)

    result = runner.invoke(args=["escalate", "deliver", "--limit", "1"])

    assert result.exit_code == 0, result.output
    assert result.output == "Email: 0 sent, 1 to try again later, 0 failed, 0 not emailed.\n"
    assert statuses(app) == [EmailStatus.RETRYING, EmailStatus.QUEUED, EmailStatus.QUEUED]


def test_worker_once_does_one_round_and_exits(app, people, runner, mail_server):
    raise_difference(app, people)

    result = runner.invoke(args=["escalate", "worker", "--once"])

    assert result.exit_code == 0, result.output
    assert "email: 3 sent, 0 to try again later, 0 failed, 0 not emailed." in result.output
    assert result.output.endswith("Worker stopped.\n")
    assert len(mail_server.received()) == 3


def test_a_worker_round_sweeps_deadlines_then_emails_what_the_sweep_wrote(
    app, people, runner, mail_server
):
    reference = raise_difference(app, people)
    runner.invoke(args=["escalate", "deliver"])
    assert len(mail_server.received()) == 3
    # A fortnight later the stage-1 deadline has passed: the policy escalates it automatically.
    app.config["CLOCK"] = lambda: NOW + timedelta(days=14)

    result = runner.invoke(args=["escalate", "worker", "--once"])

    assert result.exit_code == 0, result.output
    assert "sweep: 0 reminders, 1 overdue, 1 escalated, 0 raiser reminders." in result.output
    subjects = [m.message["Subject"] for m in mail_server.received()[2:]]
    escalations = [subject for subject in subjects if "escalated" in subject]
    assert escalations, subjects
    assert all(reference in subject for subject in escalations)


def test_a_failing_job_does_not_stop_the_others_or_the_worker(app, runner, monkeypatch):
    def broken():
        raise RuntimeError("the database went away")

    monkeypatch.setattr(
        cli, "worker_jobs", lambda *_: [("broken", broken), ("fine", lambda: "all done")]
    )

    result = runner.invoke(args=["escalate", "worker", "--once"])

    assert result.exit_code == 0, result.output
    assert "fine: all done." in result.output


@pytest.mark.parametrize("arguments", [["--interval", "0"], ["--interval", "soon"]])
def test_worker_refuses_a_bad_interval(app, runner, arguments):
    result = runner.invoke(args=["escalate", "worker", *arguments])
    assert result.exit_code == 2
    assert "Invalid value for '--interval'" in result.output


# --- Real worker processes ----------------------------------------------------------------------


def start_worker(database_url: str, mail_server: MailServer, log: Path) -> subprocess.Popen:
    """`flask escalate worker` in its own process: the database and mail server of the test,
    a round every second, and a claim that lapses after a second."""
    environ = {
        "PATH": os.environ["PATH"],
        "PYTHONUNBUFFERED": "1",
        "FLASK_APP": "wsgi",
        "ESCALATE_ENV": "development",
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "HISTORY_KEY": os.environ["HISTORY_KEY"],
        "HISTORY_CHECKPOINT_LOG": str(log.parent / "history-checkpoints.jsonl"),
        "DATABASE_URL": database_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(mail_server.port),
        "ESCALATE_BASE_URL": BASE_URL,
        "WORKER_INTERVAL": "1",
        "EMAIL_CLAIM_SECONDS": "1",
    }
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "escalate", "worker"],
            cwd=ROOT,
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def workers():
    """Start worker processes with workers.start(…); any still running are killed at the end."""
    started = []

    class Workers:
        @staticmethod
        def start(*args) -> subprocess.Popen:
            process = start_worker(*args)
            started.append(process)
            return process

    yield Workers
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def raise_several(app, people, count: int) -> None:
    """Differences raised a minute ago by the real clock, so a real worker finds them due; this
    week's digest to the partnership has gone already, so their emails are all there is to send."""
    a_minute_ago = datetime.now(UTC) - timedelta(minutes=1)
    for _ in range(count):
        raise_difference(app, people, now=a_minute_ago)
    with app.app_context():
        db.session.add(
            PartnershipDigest(week_of=digest.week_of(a_minute_ago), sent_at=a_minute_ago)
        )
        db.session.commit()
        db.session.remove()


def test_a_worker_killed_mid_send_and_restarted_loses_nothing(
    app, people, database_url, mail_server, workers, tmp_path
):
    raise_several(app, people, 3)
    expected = message_ids(app)
    assert len(expected) == 9
    mail_server.hold_at = 2  # the server keeps the second email without answering

    first = workers.start(database_url, mail_server, tmp_path / "worker.log")
    wait_for(mail_server.holding.is_set, what="the second email to reach the server")
    first.kill()
    assert first.wait(timeout=10) == -signal.SIGKILL
    in_flight = mail_server.received()[1].message_id
    held = statuses(app)
    assert held == [EmailStatus.SENT, EmailStatus.SENDING] + [EmailStatus.QUEUED] * (len(held) - 2)
    mail_server.hold_at = None
    mail_server.release.set()

    second = workers.start(database_url, mail_server, tmp_path / "worker.log")
    wait_for(lambda: statuses(app) == [EmailStatus.SENT] * 9, timeout=30, what="every email sent")
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=15) == 0

    # Everything arrived; only the email in flight when the worker died arrived twice, under
    # its one Message-ID.
    assert mail_server.message_id_counts() == {
        message_id: 2 if message_id == in_flight else 1 for message_id in expected
    }


def test_sigterm_lets_the_worker_finish_the_email_in_hand_then_exit_0(
    app, people, database_url, mail_server, workers, tmp_path
):
    raise_several(app, people, 2)
    mail_server.hold_at = 1
    log = tmp_path / "worker.log"

    worker = workers.start(database_url, mail_server, log)
    wait_for(mail_server.holding.is_set, what="the first email to reach the server")
    worker.send_signal(signal.SIGTERM)
    with pytest.raises(subprocess.TimeoutExpired):
        worker.wait(timeout=0.5)  # still waiting for the mail server's answer
    mail_server.release.set()

    assert worker.wait(timeout=15) == 0
    after = statuses(app)
    assert after == [EmailStatus.SENT] + [EmailStatus.QUEUED] * (len(after) - 1)
    assert log.read_text().endswith("Worker stopped.\n")


def test_ctrl_c_stops_an_idle_worker_with_exit_code_0(
    app, database_url, mail_server, workers, tmp_path
):
    log = tmp_path / "worker.log"
    worker = workers.start(database_url, mail_server, log)
    wait_for(lambda: log.exists() and "started" in log.read_text(), what="the worker to start")

    worker.send_signal(signal.SIGINT)

    assert worker.wait(timeout=15) == 0
    assert log.read_text().endswith("Worker stopped.\n")
