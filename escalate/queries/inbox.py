"""A user's notifications. Never commits."""

import sqlalchemy as sa

from escalate.extensions import db
from escalate.models import (
    Notification,
    User,
)


def inbox(user: User) -> sa.Select:
    """The user's notifications, unread first, then newest first."""
    return (
        sa.select(Notification)
        .where(Notification.recipient_id == user.id)
        .order_by(
            sa.case((Notification.read_at.is_(None), 0), else_=1),
            Notification.created_at.desc(),
            Notification.id.desc(),
        )
    )


def unread_count(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Notification.id)).where(
            Notification.recipient_id == user.id, Notification.read_at.is_(None)
        )
    )
