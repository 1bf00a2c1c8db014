"""Reading notifications in the app."""

from datetime import datetime

import sqlalchemy as sa

from escalate.extensions import db
from escalate.models import (
    InboxTally,
    Notification,
    User,
)
from escalate.queries.inbox import IN_THE_INBOX
from escalate.services import _tally
from escalate.workflow import (
    NotFound,
)


def open_notification(user: User, notification_id: int, now: datetime) -> Notification:
    """A notification addressed to ``user`` (NotFound otherwise), marked read."""
    notification = db.session.scalar(
        sa.select(Notification).where(
            Notification.id == notification_id,
            Notification.recipient_id == user.id,
            IN_THE_INBOX,
        )
    )
    if notification is None:
        raise NotFound("Notification not found.")
    if notification.read_at is None:
        # Read once, however many tabs open it at the same moment: only one of them counts it.
        opened = db.session.execute(
            sa.update(Notification)
            .where(Notification.id == notification.id, Notification.read_at.is_(None))
            .values(read_at=now)
        )
        _tally.note(user.id, unread=-opened.rowcount)
        db.session.commit()
    return notification


def mark_all_read(user: User, now: datetime) -> int:
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.recipient_id == user.id, Notification.read_at.is_(None), IN_THE_INBOX)
        .values(read_at=now)
    )
    _tally.note(user.id, unread=-result.rowcount)
    db.session.commit()
    return result.rowcount


def tallies_changed(session) -> frozenset:
    """Whose inbox tallies the commit now ending changed (read in an ``after_commit``)."""
    return _tally.changed(session)


def count_every_inbox() -> int:
    """Count every person's inbox again from their messages and commit; how many people have
    messages."""
    _tally.count_again()
    db.session.commit()
    return db.session.scalar(sa.select(sa.func.count()).select_from(InboxTally))
