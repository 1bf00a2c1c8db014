"""A user's notifications. Never commits."""

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination

from escalate.extensions import db
from escalate.models import (
    Notification,
    User,
)
from escalate.queries.paging import page_of_counted

# Every notification but the email with a set-password link: its link is not kept, and it is of
# no use to someone signed in.
IN_THE_INBOX = Notification.invitation_id.is_(None)


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


def inbox_page(user: User, page: int, per_page: int, unread: int) -> Pagination:
    """One page of the user's notifications, unread first, then newest first (``unread``: how
    many are unread). The unread and the read are each a range of one index, newest first, and a
    page takes its part of each: no sort over everything the person was ever sent."""
    total = db.session.scalar(
        sa.select(sa.func.count()).where(Notification.recipient_id == user.id, IN_THE_INBOX)
    )

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

    return page_of_counted(fetch, total, page, per_page)


def unread_counted(recipient, at_most=None) -> sa.Select:
    """How many unread messages ``recipient`` (an id, or a bound parameter) has; with
    ``at_most``, counted no further than that."""
    unread = sa.select(Notification.id).where(
        Notification.recipient_id == recipient, Notification.read_at.is_(None), IN_THE_INBOX
    )
    if at_most is not None:
        unread = unread.limit(at_most)
    return sa.select(sa.func.count()).select_from(unread.subquery())


def unread_count(user: User, *, at_most: int | None = None) -> int:
    """The person's unread messages; with ``at_most``, counted no further than that, so that
    what every page's navigation pays does not grow with a long-neglected inbox."""
    return db.session.scalar(unread_counted(user.id, at_most))
