"""Reading notifications in the app."""

from datetime import datetime

import sqlalchemy as sa

from escalate.extensions import db
from escalate.models import (
    Notification,
    User,
)
from escalate.queries.inbox import IN_THE_INBOX
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
        notification.read_at = now
        db.session.commit()
    return notification


def mark_all_read(user: User, now: datetime) -> int:
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.recipient_id == user.id, Notification.read_at.is_(None), IN_THE_INBOX)
        .values(read_at=now)
    )
    db.session.commit()
    return result.rowcount
