"""The access log: every view of a difference, every report shown and every spreadsheet
downloaded, written as it happens (who, when, what), sealed like the history."""

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import current_app

from escalate import access_log, history
from escalate.extensions import db
from escalate.models import AccessEntry, AccessHead, AccessKind, User
from escalate.services import transactions

MAX_WHAT = 300


# Built once: every view of a difference, a report or a list runs them.
_HEAD = AccessHead.__table__
_TAKE_PLACE = (
    sa.update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(position=_HEAD.c.position + 1)
    .returning(_HEAD.c.position, _HEAD.c.seal)
)
_SEAL_HEAD = sa.update(_HEAD).where(_HEAD.c.id == 1).values(seal=sa.bindparam("entry_seal"))
_WRITE_ENTRY = sa.insert(AccessEntry.__table__)
_ENTRY_COLUMNS = tuple(c.name for c in AccessEntry.__table__.columns if c.name != "id")


def record(
    user: User, kind: AccessKind, now: datetime, *, difference_id: int | None = None, what: str
) -> None:
    """Log one access and commit it: the entry takes the next place in the log, sealed after
    the entry before it (the head row stays locked until the commit, so one at a time). The
    entry is written as a row, not through the session's objects: nothing reads it back."""
    taken = db.session.execute(_TAKE_PLACE).first()
    if taken is None:  # the first entry ever
        last = db.session.execute(
            sa.select(AccessEntry.position, AccessEntry.seal)
            .order_by(AccessEntry.position.desc())
            .limit(1)
        ).first()
        position, seal = (last.position, last.seal) if last else (0, history.GENESIS)
        db.session.add(AccessHead(id=1, position=position + 1, seal=seal))
        db.session.flush()
        taken = (position + 1, seal)
    entry = AccessEntry(
        position=taken[0],
        at=now.astimezone(UTC),
        user_id=user.id,
        kind=kind,
        difference_id=difference_id,
        what=what[:MAX_WHAT],
    )
    access_log.seal_access(
        entry, history.KeyRing.from_config(current_app.config), previous_seal=taken[1]
    )
    db.session.execute(_WRITE_ENTRY, {name: getattr(entry, name) for name in _ENTRY_COLUMNS})
    db.session.execute(_SEAL_HEAD, {"entry_seal": entry.seal})
    # Logged first thing in a request: what was read before it (the person signed in) is as it
    # was, so it is kept rather than read again after the commit.
    transactions.commit_keeping_what_was_read()
