"""A user's notifications. Never commits."""

import sqlalchemy as sa

from escalate.extensions import db
from escalate.models import (
    Notification,
    User,
)

# Every notification but the email with a set-password link: its link is not kept, and it is of
# no use to someone signed in.
IN_THE_INBOX = Notification.invitation_id.is_(None)


def inbox(user: User) -> sa.Select:
    """The user's notifications, unread first, then newest first."""
    return (
        sa.select(Notification)
        .where(Notification.recipient_id == user.id, IN_THE_INBOX)
        .order_by(
            sa.case((Notification.read_at.is_(None), 0), else_=1),
            Notification.created_at.desc(),
            Notification.id.desc(),
        )
    )


def unread_count(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Notification.id)).where(
            Notification.recipient_id == user.id, Notification.read_at.is_(None), IN_THE_INBOX
        )
    )
