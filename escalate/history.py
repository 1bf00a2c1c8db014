"""The tamper-evident history: each event's hash covers its content and the previous hash.

Pure: sealing a new event and verifying a sequence of events; no database session.
"""


import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

GENESIS = "0" * 64


def event_content(event) -> dict:
    """The fields of an event that its hash protects, in a form that survives a database trip."""
    return {
        "difference_id": event.difference_id,
        "sequence": event.sequence,
        "kind": str(event.kind),
        "actor_id": event.actor_id,
        "at": event.at.isoformat(),
        "stage_level": event.stage_level,
        "deadline": event.deadline.isoformat() if event.deadline else None,
        "data": event.data,
    }


def chain_hash(previous_hash: str, content: dict) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{previous_hash}\n{canonical}".encode()).hexdigest()


def seal(event, previous_hash: str) -> None:
    """Give a new event its place in the chain."""
    event.previous_hash = previous_hash
    event.hash = chain_hash(previous_hash, event_content(event))


@dataclass(frozen=True)
class Verification:
    ok: bool
    broken_at: int | None = None  # the sequence number of the first event that does not verify
    reason: str = ""


def verify(events: Sequence) -> Verification:
    """Check a difference's events (in sequence order) against their hash chain."""
    previous = GENESIS
    for expected_sequence, event in enumerate(events, start=1):
        if event.sequence != expected_sequence:
            return Verification(False, expected_sequence, "an event is missing")
        if event.previous_hash != previous:
            return Verification(False, event.sequence, "the link to the previous event is broken")
        if chain_hash(previous, event_content(event)) != event.hash:
            return Verification(False, event.sequence, "the event was altered after it was written")
        previous = event.hash
    return Verification(True)


