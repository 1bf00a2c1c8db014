"""A user's notifications. Never commits."""

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


# How many messages a person's inbox holds, and how many are unread: their tally, kept by the
# services as messages are written and read. (Every page's navigation reads the unread one with
# the person signed in: queries.setup.signed_in_person.)
_COUNTS = sa.select(InboxTally.messages, InboxTally.unread).where(
    InboxTally.user_id == sa.bindparam("user_id")
)


def counts(user: User) -> InboxCounts:
    row = db.session.execute(_COUNTS, {"user_id": user.id}).first()
    return InboxCounts(max(0, row.messages), max(0, row.unread)) if row else InboxCounts(0, 0)


def unread_count(user: User) -> int:
    return counts(user).unread


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


def inbox_page(user: User, page: int, per_page: int, counts: InboxCounts) -> Pagination:
    """One page of the user's notifications, unread first, then newest first (``counts``: how
    many there are, and how many unread). The unread and the read are each a range of one index,
    newest first, and a page takes its part of each: no sort over everything the person was ever
    sent."""
    unread = counts.unread

    def fetch(offset: int, limit: int) -> list[Notification]:
        from_unread = max(0, min(limit, unread - offset))

        def part(number: int, read: bool, start: int, count: int):
            newest_first = (Notification.created_at.desc(), Notification.id.desc())
            return (
                sa.select(Notification.id, sa.literal(number).label("part"))
                .where(
                    Notification.recipient_id == user.id,
                    IN_THE_INBOX,
                    Notification.read_at.is_not(None) if read else Notification.read_at.is_(None),
                )
                .order_by(*newest_first)
                .limit(count)
                .offset(start)
                .subquery()
                .select()
            )

        page_ids = sa.union_all(
            part(0, False, offset, from_unread),
            part(1, True, max(0, offset - unread), limit - from_unread),
        ).subquery()
        return list(
            db.session.scalars(
                sa.select(Notification)
                .join(page_ids, page_ids.c.id == Notification.id)
                .order_by(page_ids.c.part, Notification.created_at.desc(), Notification.id.desc())
            )
        )

    return page_of_counted(fetch, counts.messages, page, per_page)
