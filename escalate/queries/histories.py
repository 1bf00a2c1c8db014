"""Verifying every difference's history, a batch at a time (`flask escalate verify-audit`). Never
commits.
"""


from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from escalate.extensions import db
from escalate.history import Verification, verify
from escalate.models import (
    Difference,
    Event,
)

# The columns event_content and verify read: rows, not entities, so a batch leaves nothing behind.
_EVENT_COLUMNS = (
    Event.difference_id,
    Event.sequence,
    Event.kind,
    Event.actor_id,
    Event.at,
    Event.stage_level,
    Event.deadline,
    Event.data,
    Event.previous_hash,
    Event.hash,
)


@dataclass(frozen=True)
class HistoryCheck:
    reference: str
    events: int
    verification: Verification


def verify_every_history(batch_size: int = 200) -> Iterator[HistoryCheck]:
    """Verify each difference's history in turn, a batch of differences at a time."""
    last_id = 0
    while True:
        batch = db.session.execute(
            sa.select(Difference.id, Difference.reference)
            .where(Difference.id > last_id)
            .order_by(Difference.id)
            .limit(batch_size)
        ).all()
        if not batch:
            return
        events: dict[int, list] = {difference_id: [] for difference_id, _ in batch}
        for row in db.session.execute(
            sa.select(*_EVENT_COLUMNS)
            .where(Event.difference_id.in_(list(events)))
            .order_by(Event.difference_id, Event.sequence)
        ):
            events[row.difference_id].append(row)
        for difference_id, reference in batch:
            history = events[difference_id]
            # Every difference starts with its "raised" event: an empty history lost it.
            verification = (
                verify(history) if history else Verification(False, 1, "an event is missing")
            )
            yield HistoryCheck(reference or f"#{difference_id}", len(history), verification)
        last_id = batch[-1][0]


