"""How long does verifying the history take at 100,000 differences? (`make bench`)

Builds a scratch SQLite database (or BENCH_DATABASE_URL: use a database you can throw away)
with bulk inserts: 100,000 differences, each with 3 to 5 events sealed as escalate seals them
(HMAC-SHA256, both chains, the row digest). Then it times:

- the first checkpoint, which verifies every seal (as `flask escalate checkpoint --full`);
- 1,000 new events later, `flask escalate verify-audit`: the events up to the checkpoint
  fingerprinted (one read, no seal recomputed), the 1,000 after it verified seal by seal, and
  every difference's row against its latest event;
- the worker's checkpoint each round (only what came after the last checkpoint);
- `verify-audit --full`, every seal recomputed;
- the verdict on one difference's page.

Times are medians of REPEATS on a machine that may be doing other work; the count of seals
each one recomputed is exact.
"""

import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# A throwaway application: it must not read a developer's settings or write a key anywhere.
os.environ["ESCALATE_ENV"] = "development"
os.environ["SECRET_KEY"] = secrets.token_hex(32)
os.environ["HISTORY_KEY"] = secrets.token_hex(32)
os.environ.pop("DATABASE_URL", None)

from escalate import create_app, history, queries, services  # noqa: E402
from escalate.extensions import db  # noqa: E402
from escalate.models import (  # noqa: E402
    Agency,
    AgencyKind,
    Base,
    Category,
    Difference,
    Event,
    HistoryHead,
    Role,
    State,
    User,
)
from escalate.services._records import commit_row_texts  # noqa: E402

DIFFERENCES = int(os.environ.get("BENCH_DIFFERENCES", "100000"))
LATER = 1_000  # events written after the checkpoint
CHUNK = 5_000
REPEATS = 3
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
RATIONALE = "The response does not deal with the bruising the school reported; " * 2


class Counting:
    """Counts the seals recomputed (history.seal_of calls) while it is active."""

    def __init__(self):
        self.seals = 0
        self._real = history.seal_of

    def __enter__(self):
        def counted(event, keys):
            self.seals += 1
            return self._real(event, keys)

        self._patch = mock.patch.object(history, "seal_of", counted)
        self._patch.start()
        return self

    def __exit__(self, *exc):
        self._patch.stop()


def people() -> tuple[list[int], list[int]]:
    agencies = [Agency(name=f"Agency {i}", kind=AgencyKind.OTHER) for i in range(2)]
    db.session.add_all(agencies)
    db.session.flush()
    users = [
        User(email=f"p{i}@example.org", name=f"P {i}", role=Role.PRACTITIONER, agency=agency)
        for i, agency in enumerate(agencies)
    ]
    db.session.add_all(users)
    db.session.commit()
    return [a.id for a in agencies], [u.id for u in users]


class Record:
    """Seals events in the order they are added, as escalate would."""

    def __init__(self, keys):
        self.keys, self.position, self.seal, self.last = keys, 0, history.GENESIS, {}
        self.rows: list[dict] = []

    def add(self, difference: dict, kind: str, at: datetime, data: dict, sequence: int) -> None:
        self.position += 1
        facts, texts = history.split_texts(data)  # texts sealed through commitments
        event = SimpleNamespace(
            difference_id=difference["id"], sequence=sequence, position=self.position,
            kind=kind, actor_id=difference["raiser_id"], at=at, stage_level=1, deadline=None,
            data=facts, texts=texts, text_seals=history.commit_texts(texts, self.keys),
            difference_digest=difference["digest"],
        )  # fmt: skip
        history.seal(
            event,
            self.keys,
            previous_seal=self.last.get(difference["id"], history.GENESIS),
            preceding_seal=self.seal,
        )
        self.last[difference["id"]] = self.seal = event.seal
        self.rows.append(vars(event))

    def flush(self) -> None:
        if self.rows:
            db.session.execute(sa.insert(Event.__table__), self.rows)
            self.rows.clear()


def difference_row(i: int, agencies, users) -> dict:
    raised = NOW - timedelta(days=400) + timedelta(minutes=5 * i)
    closed = i % 3 != 0
    return {
        "id": i, "version": 1, "reference": f"RPD-2026-{i:06d}", "raiser_id": users[0],
        "raising_agency_id": agencies[0], "receiving_agency_id": agencies[1],
        "named_professional_id": users[1], "child_reference": f"C-{i}", "child_initials": "AB",
        "child_date_of_birth": None, "category": Category.THRESHOLD, "decision": "A decision.",
        "reasons": RATIONALE, "desired_outcome": "An outcome.", "discussed_informally": False,
        "informal_discussion": "", "immediate_risk": False, "protective_action": "",
        "urgent": False, "state": State.RESOLVED if closed else State.AWAITING_RAISER,
        "stage_level": 1, "outcome": "agreed" if closed else None, "raised_at": raised,
        "closed_at": raised + timedelta(days=3) if closed else None,
        "resolution_working_days": 3 if closed else None,
    }  # fmt: skip


def digests(ids) -> dict[int, str]:
    """Each difference's row digest, as escalate takes it when it seals an event."""
    text = queries.histories.as_stored(
        [getattr(Difference, name) for name in history.DIFFERENCE_FIELDS], db.engine.dialect.name
    )
    found = db.session.execute(sa.select(Difference.id, text).where(Difference.id.in_(ids)))
    return {i: history.digest(stored) for i, stored in found}


def build() -> int:
    agencies, users = people()
    record = Record(queries.histories.keyring())
    rows: list[dict] = []
    for i in range(1, DIFFERENCES + 1):
        rows.append(difference_row(i, agencies, users))
        if i % CHUNK and i != DIFFERENCES:
            continue
        for row in rows:
            row["text_seals"] = commit_row_texts(row, record.keys)
        db.session.execute(sa.insert(Difference.__table__), rows)
        digest = digests([row["id"] for row in rows])
        for difference in rows:
            difference["digest"] = digest[difference["id"]]
            at = difference["raised_at"]
            record.add(difference, "raised", at, {"urgent": False, "stage": "Stage 1"}, 1)
            events = 3 + difference["id"] % 3  # 3, 4 or 5
            for sequence in range(2, events + 1):
                kind = "conversation" if sequence < events else "responded"
                data = {"rationale": RATIONALE, "participants": "Both sides"}
                record.add(difference, kind, at + timedelta(hours=sequence), data, sequence)
        record.flush()
        rows.clear()
    db.session.execute(sa.update(HistoryHead).values(position=record.position, seal=record.seal))
    db.session.commit()
    return record.position


def add_later_events(count: int) -> None:
    """Events after the checkpoint, on differences spread across the record."""
    keys = queries.histories.keyring()
    head = db.session.get(HistoryHead, 1)
    record = Record(keys)
    record.position, record.seal = head.position, head.seal
    step = DIFFERENCES // count
    for k in range(count):
        difference_id = 1 + k * step
        last = db.session.execute(
            sa.select(Event.sequence, Event.seal)
            .where(Event.difference_id == difference_id)
            .order_by(Event.sequence.desc())
            .limit(1)
        ).one()
        difference = {
            "id": difference_id,
            "raiser_id": None,
            "digest": queries.histories.row_digest(difference_id),
        }
        record.last[difference_id] = last.seal
        data = {"text": "What the partnership learned from it."}
        record.add(difference, "learning_note", NOW, data, last.sequence + 1)
    record.flush()
    db.session.execute(sa.update(HistoryHead).values(position=record.position, seal=record.seal))
    db.session.commit()


def timed(action, repeats: int = REPEATS):
    """Median wall-clock and CPU seconds (SQLite works in this process, so its CPU time counts:
    on a busy machine it says more than the clock), what the action returned and the seals it
    recomputed."""
    times, cpu, result, seals = [], [], None, 0
    for _ in range(repeats):
        db.session.remove()
        with Counting() as counting:
            started, started_cpu = time.perf_counter(), time.process_time()
            result = action()
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        seals = counting.seals
    db.session.remove()
    return (statistics.median(times), statistics.median(cpu)), result, seals


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{scratch}/verify.sqlite"
        log = Path(scratch) / "checkpoints.jsonl"
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": url, "HISTORY_CHECKPOINT_LOG": str(log),
             "CLOCK": lambda: NOW}  # fmt: skip
        )
        with app.app_context():
            Base.metadata.drop_all(db.engine)
            Base.metadata.create_all(db.engine)
            services.setup.install_defaults()
            started = time.perf_counter()
            events = build()
            built = time.perf_counter() - started
            print(f"\nHistory verification at {DIFFERENCES:,} differences ({events:,} events; "
                  f"{db.engine.dialect.name}, built in {built:.0f} s):")  # fmt: skip
            first, report, first_seals = timed(
                lambda: services.checkpoints.checkpoint(NOW, full=True), repeats=1
            )
            assert report.written and not report.problems, report
            add_later_events(LATER)
            total = events + LATER

            quick, found, quick_seals = timed(lambda: queries.histories.audit())
            assert found.ok and found.events == total, (found.record, found.altered[:3])
            full, found_full, full_seals = timed(lambda: queries.histories.audit(full=True), 1)
            assert found_full.ok and found_full.events == total
            worker, _, worker_seals = timed(
                lambda: queries.histories.audit(trust_checkpoint=True, fingerprint=True)
            )
            page, verdict, page_seals = timed(
                lambda: queries.histories.verify_difference(
                    db.session.get(Difference, DIFFERENCES // 2)
                ),
                repeats=5,
            )
            assert verdict.ok
            rows = [
                ("first checkpoint (checkpoint --full)", first, first_seals),
                (f"verify-audit, {LATER:,} events after the checkpoint", quick, quick_seals),
                ("verify-audit --full", full, full_seals),
                ("the worker's checkpoint each round", worker, worker_seals),
                ("the verdict on one difference's page", page, page_seals),
            ]
            print(f"  {'what':<52} {'seconds':>8} {'CPU s':>7} {'seals recomputed':>17}")
            for what, (seconds, cpu), seals in rows:
                print(f"  {what:<52} {seconds:>8.2f} {cpu:>7.2f} {seals:>17,}")
            print(
                f"  verify-audit from the checkpoint took {quick[1] / full[1]:.0%} of the CPU "
                f"time of the full verification, recomputing {quick_seals / full_seals:.1%} of "
                "the seals"
            )
            print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
