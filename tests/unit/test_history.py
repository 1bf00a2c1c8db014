"""Sealing and verifying, on plain objects: keys and their rotation, the two chains, the
difference's row, the walk through the whole record, and signed checkpoints."""

from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace

from escalate import history
from escalate.history import GENESIS, Checkpoint, KeyRing, Walk
from escalate.models import Difference

KEY = "k" * 40
OLD = "o" * 40
KEYS = KeyRing.of(KEY)
AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


ROW = history.digest("the difference's row, as stored")


def an_event(difference_id, sequence, position, **changes):
    fields = {
        "difference_id": difference_id,
        "sequence": sequence,
        "position": position,
        "kind": "raised" if sequence == 1 else "responded",
        "actor_id": 7,
        "at": AT,
        "stage_level": 1,
        "deadline": None,
        "data": {"rationale": f"event {sequence} of {difference_id}"},
        "difference_digest": ROW,
    }
    fields.update(changes)
    return SimpleNamespace(**fields)


def record(*places, keys=KEYS):
    """Seal events (difference id, sequence) in this order as escalate would."""
    events, last_of, preceding = [], {}, GENESIS
    for position, (difference_id, sequence) in enumerate(places, start=1):
        event = an_event(difference_id, sequence, position)
        history.seal(
            event, keys, previous_seal=last_of.get(difference_id, GENESIS), preceding_seal=preceding
        )
        last_of[difference_id] = preceding = event.seal
        events.append(event)
    return events


def of(events, difference_id):
    return [e for e in events if e.difference_id == difference_id]


def test_every_difference_column_is_sealed_or_left_out_on_purpose():
    columns = {c.name for c in Difference.__table__.columns}
    assert columns == (
        set(history.DIFFERENCE_FIELDS) | set(history.DIFFERENCE_TEXTS) | set(history.NOT_SEALED)
    )
    assert not set(history.DIFFERENCE_FIELDS) & set(history.DIFFERENCE_TEXTS)


def test_a_seal_needs_the_key():
    events = record((1, 1), (1, 2))
    assert history.verify(events, KEYS).ok
    assert history.verify(events, KeyRing.of("another key entirely, just as long as it")) == (
        history.Verification(False, 1, history.UNKNOWN_KEY)
    )
    forged = KeyRing(KEYS.current, {KEYS.current: b"a guess"})  # the right id, the wrong key
    assert history.verify(events, forged).reason == history.ALTERED


def test_a_row_changed_after_its_latest_event_is_named_at_that_event():
    events = record((1, 1), (1, 2))
    assert history.verify(events, KEYS, ROW).ok
    assert history.verify(events, KEYS, history.digest("the row, changed")) == (
        history.Verification(False, 2, history.ROW_CHANGED)
    )


def test_rotated_keys_verify_what_they_sealed_and_new_events_use_the_new_key():
    before = record((1, 1), keys=KeyRing.of(OLD))
    rotated = KeyRing.of(KEY, [OLD])
    assert rotated.current == history.key_id(KEY) != history.key_id(OLD)
    assert history.verify(before, rotated).ok
    after = an_event(1, 2, 2)
    history.seal(after, rotated, previous_seal=before[0].seal, preceding_seal=before[0].seal)
    assert after.key_id == rotated.current
    assert history.verify([*before, after], rotated).ok
    assert history.verify([*before, after], KEYS) == history.Verification(
        False, 1, history.UNKNOWN_KEY
    )


def test_the_walk_finds_a_gap_a_broken_link_and_a_short_head():
    events = record((1, 1), (2, 1), (1, 2), (3, 1), (2, 2))
    walk = Walk(KEYS)
    for event in events[:1] + events[2:]:
        walk.add(event)  # the event at position 2 is gone
    walk.finish(SimpleNamespace(position=5, seal=events[-1].seal))
    assert [p.position for p in walk.problems] == [2]
    assert walk.verdict(2, ROW).reason == history.MISSING

    walk = Walk(KEYS)
    for event in events[:-1]:
        walk.add(event)
    walk.finish(SimpleNamespace(position=5, seal=events[-1].seal))  # the last one is gone
    assert walk.problems == [history.RecordProblem("an event is missing from the record", 5)]

    swapped = [replace_seal(events[0], events[1].seal), *events[1:]]
    walk = Walk(KEYS)
    for event in swapped:
        walk.add(event)
    assert history.RecordProblem(
        "the event before it in the record is not the one it was sealed after", 2
    ) in walk.problems


def replace_seal(event, seal):
    return SimpleNamespace(**{**vars(event), "seal": seal})


def test_the_walk_holds_the_record_to_its_checkpoint():
    events = record((1, 1), (2, 1), (1, 2))
    checkpoint = Checkpoint(3, events[2].seal, "2026-11-20T10:00:00+00:00")
    walk = Walk(KEYS, checkpoint=checkpoint)
    for event in events[:2]:
        walk.add(event)
    walk.finish(SimpleNamespace(position=2, seal=events[1].seal))
    assert walk.problems == [
        history.RecordProblem(
            "the record ends at position 2, before the checkpoint of "
            "2026-11-20T10:00:00+00:00 at position 3: events were removed",
            3,
        )
    ]
    resumed = Walk(KEYS, 2, events[1].seal, replace(checkpoint, position=2, seal=events[1].seal))
    resumed.resume(1, sequence=1, seal=events[0].seal, digest=None, events=1)
    resumed.add(events[2])
    resumed.finish(SimpleNamespace(position=3, seal=events[2].seal))
    assert resumed.problems == []
    assert resumed.verdict(1, events[2].difference_digest).ok


def test_a_checkpoint_line_is_signed_and_any_change_shows():
    line = history.sign_checkpoint({"kind": "checkpoint", "position": 21, "seal": "ab"}, KEYS)
    assert line["key_id"] == KEYS.current
    assert history.checkpoint_signed(line, KEYS)
    assert history.checkpoint_signed(line, KeyRing.of(OLD, [KEY]))
    assert not history.checkpoint_signed({**line, "position": 22}, KEYS)
    assert not history.checkpoint_signed(line, KeyRing.of(OLD))
    assert not history.checkpoint_signed({"kind": "checkpoint"}, KEYS)
