"""A user's notifications. Never commits."""

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination

from escalate.extensions import db
from escalate.models import (
    InboxTally,
    Notification,
    User,
)
from escalate.queries.paging import page_of_counted

# Every notification but the email with a set-password link: its link is not kept, and it is of
# no use to someone signed in.
IN_THE_INBOX = Notification.invitation_id.is_(None)


class InboxCounts(NamedTuple):
    messages: int
    unread: int

    @classmethod
    def of(cls, messages: int | None, unread: int | None) -> "InboxCounts":
        """From a tally as read (none yet: nothing; never below nothing)."""
        return cls(max(0, messages or 0), max(0, unread or 0))


# How many messages a person's inbox holds, and how many are unread: their tally, kept by the
# services as messages are written and read. (Every request reads the signed-in person's with
# them, queries.setup.signed_in_person, and holds it: presentation.inbox_counts.)
_COUNTS = sa.select(InboxTally.messages, InboxTally.unread).where(
    InboxTally.user_id == sa.bindparam("user_id")
)


def counts(user: User) -> InboxCounts:
    row = db.session.execute(_COUNTS, {"user_id": user.id}).first()
    return InboxCounts.of(row.messages, row.unread) if row else InboxCounts(0, 0)


def inbox(user: User) -> sa.Select:
    """The user's notifications, unread first, then newest first (``inbox_page`` gives a page of
    them in this order)."""
    return (
        sa.select(Notification)
        .where(Notification.recipient_id == user.id, IN_THE_INBOX)
        .order_by(
            sa.case((Notification.read_at.is_(None), 0), else_=1),
            Notification.created_at.desc(),
            Notification.id.desc(),
        )
    )


class Message(NamedTuple):
    """A line of the inbox: what the list shows of a notification."""

    id: int
    subject: str
    created_at: datetime
    read_at: datetime | None


def _part(number: int, read: bool) -> sa.Select:
    """The person's unread (or read) messages, newest first, from an offset: one range of an
    index of their own (``ix_notification_inbox_unread``, ``ix_notification_inbox_read``)."""
    return (
        sa.select(Notification.id, sa.literal(number).label("part"))
        .where(
            Notification.recipient_id == sa.bindparam("user_id"),
            IN_THE_INBOX,
            Notification.read_at.is_not(None) if read else Notification.read_at.is_(None),
        )
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(sa.bindparam(f"limit_{number}", type_=sa.Integer))
        .offset(sa.bindparam(f"offset_{number}", type_=sa.Integer))
        .subquery()
        .select()
    )


# A page of messages: its part of the unread, then its part of the read; built once, as every
# inbox page asks it.
_PAGE_IDS = sa.union_all(_part(0, False), _part(1, True)).subquery()
_PAGE = (
    sa.select(Notification.id, Notification.subject, Notification.created_at, Notification.read_at)
    .join(_PAGE_IDS, _PAGE_IDS.c.id == Notification.id)
    .order_by(_PAGE_IDS.c.part, Notification.created_at.desc(), Notification.id.desc())
)


def inbox_page(user: User, page: int, per_page: int, counts: InboxCounts) -> Pagination:
    """One page of the user's messages, unread first, then newest first (``counts``: how many
    there are, and how many unread). The unread and the read are each a range of an index,
    newest first, and a page takes its part of each: no sort over everything the person was ever
    sent."""
    unread = counts.unread

    def fetch(offset: int, limit: int) -> list[Message]:
        from_unread = max(0, min(limit, unread - offset))
        rows = db.session.execute(
            _PAGE,
            {
                "user_id": user.id,
                "offset_0": offset,
                "limit_0": from_unread,
                "offset_1": max(0, offset - unread),
                "limit_1": limit - from_unread,
            },
        )
        return [Message(*row) for row in rows]

    return page_of_counted(fetch, counts.messages, page, per_page)
