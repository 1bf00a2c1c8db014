"""Verifying the history: one difference's (the badge on its page) and the partnership's whole
record (`flask escalate verify-audit`), against the key and the last checkpoint. Never commits.

The whole record is verified from its last checkpoint: the events at or before it must be, byte
for byte, the ones the checkpoint fingerprinted (one fast read, no seal recomputed), and only the
events after it are verified seal by seal. ``full=True`` verifies every seal from the start.
"""

import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from escalate import checkpoint_log, history
from escalate.extensions import db
from escalate.history import Checkpoint, KeyRing, RecordProblem, Verification, Walk
from escalate.models import Difference, Event, HistoryHead
from escalate.queries import access as queries_access
from escalate.queries.fingerprints import (  # noqa: F401 (the services and tests name them here)
    BLOCK,
    FINGERPRINTED,
    as_stored,
    difference_text,
    fingerprint_of,
    row_digest,
)
from escalate.wording import plural

# The columns the seals cover: rows, not entities, so a batch leaves nothing behind.
_EVENT_COLUMNS = (
    Event.difference_id,
    Event.sequence,
    Event.position,
    Event.kind,
    Event.actor_id,
    Event.at,
    Event.stage_level,
    Event.deadline,
    Event.data,
    Event.text_seals,
    Event.difference_digest,
    Event.key_id,
    Event.previous_seal,
    Event.preceding_seal,
    Event.seal,
)
# Every column of an event row, in this order, goes into the fingerprint, but for its texts: they
# may be erased, and are held to their commitments instead (``_check_texts``).
_ROW_TEXTS = tuple(getattr(Difference, name) for name in history.DIFFERENCE_TEXTS)
CHECKPOINT_KINDS = ("checkpoint", "resealed")


def keyring() -> KeyRing:
    return KeyRing.from_config(current_app.config)


def log_path() -> str:
    return current_app.config["HISTORY_CHECKPOINT_LOG"]


@dataclass(frozen=True)
class LogReading:
    """The last checkpoint the log holds that escalate's keys signed, and any problem found on
    the way to it (a later line not signed by them)."""

    checkpoint: Checkpoint | None
    line: dict | None
    problems: tuple[RecordProblem, ...] = ()


def last_checkpoint(keys: KeyRing | None = None, path: str | None = None) -> LogReading:
    keys, path = keys or keyring(), path or log_path()
    problems = []
    for line in checkpoint_log.backwards(path):
        if line is None or line.get("kind") not in CHECKPOINT_KINDS:
            continue
        if not history.checkpoint_signed(line, keys):
            problems.append(
                RecordProblem(
                    "a checkpoint in the checkpoint log is not signed with escalate's key "
                    f"(the line of {line.get('at', 'unknown date')})"
                )
            )
            continue
        return LogReading(Checkpoint.from_line(line), line, tuple(problems))
    return LogReading(None, None, tuple(problems))


def log_problems(keys: KeyRing | None = None, path: str | None = None) -> list[RecordProblem]:
    """Every line of the log checked: signed, and following the line before it."""
    keys, path = keys or keyring(), path or log_path()
    problems, previous = [], ""
    for number, line in enumerate(checkpoint_log.lines(path), start=1):
        if line is None or not history.checkpoint_signed(line, keys):
            problems.append(
                RecordProblem(f"line {number} of the checkpoint log is not signed by escalate")
            )
            continue
        if line.get("previous", "") != previous:
            problems.append(
                RecordProblem(
                    f"line {number} of the checkpoint log does not follow the line before it "
                    "(a line was removed)"
                )
            )
        previous = line["signature"]
    return problems


def _ends() -> sa.Select:
    last = sa.select(sa.func.max(Event.position)).scalar_subquery()
    after = sa.bindparam("after")

    def seal_at(position):
        return sa.select(Event.seal).where(Event.position == position).scalar_subquery()

    return sa.select(
        sa.select(HistoryHead.position).scalar_subquery().label("position"),
        sa.select(HistoryHead.seal).scalar_subquery().label("seal"),
        sa.select(sa.func.count(Event.id))
        .where(Event.position > after)
        .scalar_subquery()
        .label("events"),
        last.label("last"),
        seal_at(last).label("last_seal"),
        seal_at(after).label("seal_after"),
    )


_ENDS = _ends()


def ends(after: int = 0):
    """Where the record ends, read in one statement so that it is one moment's view (an event
    and the head's move are committed together): the head's position and seal, how many events
    there are after position ``after``, the last one's position and seal, and the seal of the
    event at ``after`` (the last checkpoint's position, when there is one)."""
    return db.session.execute(_ENDS, {"after": after}).one()


def events_up_to(checkpoint: Checkpoint | None) -> int:
    """How many events the record holds up to the last checkpoint. Counting them reads the
    whole record, so each worker counts them at most once in its interval (``WORKER_INTERVAL``)
    for the same checkpoint: a page finds an event removed before the checkpoint at most that
    late (the worker's own check of the whole record finds it too)."""
    if checkpoint is None:
        return 0
    store = current_app.extensions.setdefault("escalate_record_counts", {})
    interval = current_app.config.get("WORKER_INTERVAL", 15)
    key = (log_path(), checkpoint.position, checkpoint.seal, time.monotonic() // interval)
    if store.get("up_to", (None,))[0] != key:
        counted = db.session.scalar(
            sa.select(sa.func.count(Event.id)).where(Event.position <= checkpoint.position)
        )
        store["up_to"] = (key, counted)
    return store["up_to"][1]


# --- One difference: the badge on its page ----------------------------------------------------


@functools.cache
def _events_and_row(dialect: str) -> sa.Select:
    """A difference's events and its row in one statement (an action committed meanwhile
    changes both), built once for each kind of database."""
    return (
        sa.select(
            *_EVENT_COLUMNS,
            Event.texts,
            difference_text(dialect).label("row"),
            *_ROW_TEXTS,
            Difference.text_seals.label("row_text_seals"),
            Difference.erasures,
        )
        .join(Difference, Difference.id == Event.difference_id)
        .where(Event.difference_id == sa.bindparam("difference"))
        .order_by(Event.sequence)
    )


def verify_difference(difference: Difference) -> Verification:
    """Its events against their seals and each other, its row against its latest event, their
    places in the partnership's record, and the record against its head and last checkpoint."""
    keys = keyring()
    connection = db.session.connection()
    rows = connection.execute(
        _events_and_row(connection.dialect.name), {"difference": difference.id}
    ).all()
    if rows:
        last = rows[-1]
        row = SimpleNamespace(
            text_seals=last.row_text_seals,
            **{name: getattr(last, name) for name in history.DIFFERENCE_TEXTS},
        )
        own = history.verify(
            rows, keys, history.digest(last.row), erasures=last.erasures, row=row
        )
    else:
        own = history.verify(rows, keys)
    if not own.ok:
        return own
    # From the last checkpoint on, counted now; up to it, counted once in the worker's interval.
    reading = last_checkpoint(keys)
    record = ends(reading.checkpoint.position if reading.checkpoint is not None else 0)
    events = events_up_to(reading.checkpoint) + record.events
    problems = _around(rows, record) + _record_ends(record, events, reading)
    if problems:
        first = problems[0]
        where = f"at position {first.position}, " if first.position else ""
        return Verification(False, None, where + first.reason, record=True)
    return history.VERIFIED


_NEIGHBOURS = sa.select(Event.position, Event.seal, Event.preceding_seal).where(
    Event.position.in_(sa.bindparam("positions", expanding=True))
)


def _around(events, record) -> list[RecordProblem]:
    """Each event's neighbours in the whole record are the ones it was sealed between."""
    positions = {e.position for e in events}
    wanted = {p - 1 for p in positions} | {p + 1 for p in positions}
    neighbours = {
        row.position: row for row in db.session.execute(_NEIGHBOURS, {"positions": list(wanted)})
    }
    problems = []
    for event in events:
        before, after = neighbours.get(event.position - 1), neighbours.get(event.position + 1)
        if event.position > 1 and (before is None or before.seal != event.preceding_seal):
            problems.append(
                RecordProblem(
                    "the event before this history's event in the record is missing or altered",
                    event.position - 1,
                )
            )
        if after is not None and after.preceding_seal != event.seal:
            problems.append(
                RecordProblem("the record after this history's event was altered", event.position)
            )
        if after is None and record.position != event.position:
            problems.append(
                RecordProblem("an event after this history's event is missing", event.position + 1)
            )
    return problems


def _record_ends(record, events: int, reading: LogReading) -> list[RecordProblem]:
    """Whole-record checks cheap enough for every page: no gap (``events``: how many the record
    holds), the head, the checkpoint."""
    last = record.last or 0
    problems = list(reading.problems)
    if events != last:
        missing = plural(last - events, "event is", "events are")
        problems.append(RecordProblem(f"{missing} missing from the record"))
    if record.position is None:
        if last:
            problems.append(RecordProblem("the record's head is missing"))
    elif record.position > last:
        missing = plural(record.position - last, "event is", "events are")
        problems.append(RecordProblem(f"the record's last {missing} missing"))
    elif record.position < last or record.seal != record.last_seal:
        problems.append(RecordProblem("the record's last event is not the one its head names"))
    if reading.checkpoint is not None:  # ``record`` was read after its position
        problems.extend(
            history.against_checkpoint(reading.checkpoint, last, record.seal_after)
        )
    return problems


# --- The whole record: `flask escalate verify-audit` -------------------------------------------


@dataclass(frozen=True)
class HistoryCheck:
    reference: str
    events: int
    verification: Verification


@dataclass
class Audit:
    """What verifying the whole record found."""

    differences: int = 0
    events: int = 0
    altered: list[HistoryCheck] = field(default_factory=list)  # differences, by id
    record: list[RecordProblem] = field(default_factory=list)  # the record as a whole
    checkpoint: Checkpoint | None = None  # verified from here on (None: from the start)
    position: int = 0  # where the record ends: its last event's position and seal
    seal: str = history.GENESIS
    fingerprint: str | None = None  # of every event up to ``position`` (when asked for)
    fingerprint_base: tuple[int, str] | None = None
    access: list[RecordProblem] = field(default_factory=list)  # the access log's problems
    access_entries: int = 0  # verified
    access_position: int = 0  # where the access log ends: its last entry's position and seal
    access_seal: str = history.GENESIS

    @property
    def ok(self) -> bool:
        return not self.altered and not self.record and not self.access


def audit(
    batch_size: int = 1000,
    *,
    full: bool = False,
    trust_checkpoint: bool = False,
    fingerprint: bool = False,
) -> Audit:
    """Verify every difference's history and the partnership's whole record.

    By default, from the last checkpoint: the events up to it must be as it fingerprinted them,
    the ones after it are verified seal by seal, and every difference's row against its latest
    event. ``full``: every seal from the first event, and every line of the checkpoint log.
    ``trust_checkpoint``: only what came after the checkpoint (the worker's quick check before a
    new one). ``fingerprint``: also fingerprint the record to its end, for a new checkpoint.
    """
    keys = keyring()
    reading = last_checkpoint(keys)
    checkpoint = reading.checkpoint
    result = Audit(record=list(reading.problems))
    if full:
        result.record.extend(log_problems(keys))
    resume = not full and checkpoint is not None and checkpoint.fingerprint is not None
    unchanged = (
        resume
        and not trust_checkpoint
        and fingerprint_of(checkpoint.position)[0] == checkpoint.fingerprint
    )
    if resume and not trust_checkpoint and not unchanged:
        result.record.append(
            RecordProblem(
                f"events at or before the checkpoint of {checkpoint.at} (position "
                f"{checkpoint.position}) were changed, removed or reordered since"
            )
        )
        resume = False
    if resume:
        walk = Walk(keys, checkpoint.position, checkpoint.seal, checkpoint)
        result.checkpoint = checkpoint
        if trust_checkpoint:
            there = db.session.scalar(
                sa.select(Event.seal).where(Event.position == checkpoint.position)
            )
            if there != checkpoint.seal:
                result.record.append(
                    RecordProblem(
                        f"the event here is not the one the checkpoint of {checkpoint.at} "
                        "recorded",
                        checkpoint.position,
                    )
                )
    else:
        walk = Walk(keys, checkpoint=checkpoint)
    record = ends()  # what is verified: the record as it stood now (later events wait)
    for batch in _event_batches(walk.position, record.last or 0, batch_size):
        if resume:
            _resume(walk, {row.difference_id for row in batch}, checkpoint.position)
        for row in batch:
            walk.add(row)
    walk.finish(record if record.position is not None else None)
    result.record.extend(walk.problems)
    result.events = walk.events + (checkpoint.position if resume else 0)
    result.position, result.seal = walk.position, walk.seal
    if resume and trust_checkpoint:
        _check_trails(walk, result)
    else:
        _check_rows(walk, result, batch_size, from_checkpoint=resume)
        _check_texts(result, keys, batch_size)
    access = queries_access.verify(
        keys,
        reading.line.get("access") if reading.line else None,
        from_checkpoint=resume and trust_checkpoint,
        batch_size=batch_size,
    )
    result.access = access.problems
    result.access_entries, result.access_position = access.entries, access.position
    result.access_seal = access.seal
    if fingerprint and result.ok:
        result.fingerprint, result.fingerprint_base = fingerprint_of(
            result.position, start=checkpoint.fingerprint_base if resume else None
        )
    return result


def _event_batches(after: int, up_to: int, batch_size: int) -> Iterator[list]:
    while True:
        batch = db.session.execute(
            sa.select(*_EVENT_COLUMNS)
            .where(Event.position > after, Event.position <= up_to)
            .order_by(Event.position)
            .limit(batch_size)
        ).all()
        if not batch:
            return
        yield batch
        after = batch[-1].position


def _resume(walk: Walk, difference_ids, up_to: int) -> None:
    """Give the walk the trail, up to the checkpoint, of each difference it has not met."""
    new = [i for i in difference_ids if i not in walk.trails]
    if not new:
        return
    latest = (
        sa.select(
            Event.difference_id,
            sa.func.max(Event.sequence).label("sequence"),
            sa.func.count(Event.id).label("events"),
        )
        .where(Event.difference_id.in_(new), Event.position <= up_to)
        .group_by(Event.difference_id)
        .subquery()
    )
    for row in db.session.execute(
        sa.select(
            Event.difference_id,
            Event.sequence,
            Event.seal,
            Event.difference_digest,
            latest.c.events,
        ).join(
            latest,
            sa.and_(
                Event.difference_id == latest.c.difference_id,
                Event.sequence == latest.c.sequence,
            ),
        )
    ):
        walk.resume(
            row.difference_id,
            sequence=row.sequence,
            seal=row.seal,
            digest=row.difference_digest,
            events=row.events,
        )


def _check_trails(walk: Walk, result: Audit) -> None:
    """The histories the walk went through (their rows are left to verify-audit)."""
    references = dict(
        db.session.execute(
            sa.select(Difference.id, Difference.reference).where(
                Difference.id.in_(list(walk.trails))
            )
        ).all()
    )
    for difference_id, trail in walk.trails.items():
        if trail.problem is not None:
            reference = references.get(difference_id) or f"#{difference_id}"
            result.altered.append(HistoryCheck(reference, trail.events, trail.problem))


def _check_rows(walk: Walk, result: Audit, batch_size: int, *, from_checkpoint: bool) -> None:
    """Each difference's row against its latest event, a batch of differences at a time. From a
    checkpoint, a difference the walk did not meet is held to its latest event as stored (the
    events up to the checkpoint are as it fingerprinted them)."""
    latest = aliased(Event)
    newest = (
        sa.select(sa.func.max(latest.sequence))
        .where(latest.difference_id == Difference.id)
        .scalar_subquery()
    )
    connection = db.session.connection()
    text = difference_text(connection.dialect.name)
    keys = walk.keys
    last_id, seen = 0, set()
    while True:
        batch = connection.execute(
            sa.select(
                Difference.id,
                Difference.reference,
                Event.sequence,
                Event.difference_digest,
                text,
                Difference.text_seals,
                *_ROW_TEXTS,
            )
            .outerjoin(
                Event, sa.and_(Event.difference_id == Difference.id, Event.sequence == newest)
            )
            .where(Difference.id > last_id)
            .order_by(Difference.id)
            .limit(batch_size)
        ).all()
        if not batch:
            break
        for row in batch:
            seen.add(row[0])
            result.differences += 1
            verification = walk.verdict(
                row[0], history.digest(row[4]), row[2:4] if from_checkpoint else None
            )
            if verification.ok and history.row_texts_hold(_row_texts(row), keys) is not None:
                trail = walk.trails.get(row[0])
                sequence = trail.sequence if trail and trail.events else row[2]
                verification = Verification(False, sequence, history.ROW_CHANGED)
            if not verification.ok:
                trail = walk.trails.get(row[0])
                events = trail.events if trail else (row[2] or 0)
                result.altered.append(HistoryCheck(row[1] or f"#{row[0]}", events, verification))
        last_id = batch[-1][0]
    orphans = sorted(set(walk.trails) - seen)
    if orphans:
        result.record.append(
            RecordProblem(
                f"the record holds events of {len(orphans)} differences that no longer exist "
                f"(ids {', '.join(map(str, orphans[:10]))})"
            )
        )


def _row_texts(row) -> SimpleNamespace:
    """A batch row of ``_check_rows`` as ``history.row_texts_hold`` reads it."""
    texts = dict(zip(history.DIFFERENCE_TEXTS, row[6:], strict=True))
    return SimpleNamespace(text_seals=row[5], **texts)


def erasures_by_difference() -> dict[int, dict]:
    """Every difference with erased texts: its id -> ``history.erased_in`` of its erasures."""
    return {
        difference_id: history.erased_in(erasures)
        for difference_id, erasures in db.session.execute(
            sa.select(Difference.id, Difference.erasures).where(Difference.erasures.is_not(None))
        )
    }


def _check_texts(result: Audit, keys: KeyRing, batch_size: int) -> None:
    """Every event's texts against their commitments, or erased on the record. (The texts are
    not in the checkpoint's fingerprint, so that they can be erased: every one is checked.)"""
    erased = erasures_by_difference()
    named = {check.reference for check in result.altered}
    broken: dict[int, Verification] = {}
    after = 0
    while True:
        batch = db.session.execute(
            sa.select(
                Event.position,
                Event.difference_id,
                Event.sequence,
                Event.texts,
                Event.text_seals,
            )
            .where(Event.position > after)
            .order_by(Event.position)
            .limit(batch_size)
        ).all()
        if not batch:
            break
        for event in batch:
            if event.difference_id in broken:
                continue
            problem = history.check_texts(event, keys, erased.get(event.difference_id))
            if problem is not None:
                broken[event.difference_id] = problem
        after = batch[-1].position
    if not broken:
        return
    references = dict(
        db.session.execute(
            sa.select(Difference.id, Difference.reference).where(Difference.id.in_(list(broken)))
        ).all()
    )
    for difference_id, problem in sorted(broken.items()):
        reference = references.get(difference_id) or f"#{difference_id}"
        if reference not in named:
            result.altered.append(HistoryCheck(reference, 0, problem))
