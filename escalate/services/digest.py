"""The partnership's weekly digest (product.md §6): every open difference by stage and overdue,
to the partnership's members, once for each week, by the first sweep of the week."""

from datetime import datetime, timedelta

from escalate import calendar, messages, queries
from escalate.extensions import db
from escalate.models import PartnershipDigest
from escalate.services._records import add_to_outbox, partnership_contacts


def week_of(now: datetime):
    """The Monday (partnership time) of the week ``now`` falls in: what names a digest."""
    today = calendar.to_local(now).date()
    return today - timedelta(days=today.weekday())


def send_weekly_digest(now: datetime, *, act: bool) -> bool:
    """Write this week's digest to the outbox, unless it has been written already. Returns
    whether it was (or, without ``act``, would be) sent. The caller commits: a second sweep
    stops on the digest's unique week, so it is sent once a week however often the sweep runs."""
    week = week_of(now)
    if queries.digest.digest_sent_for(week):
        return False
    if not act:
        return True
    db.session.add(PartnershipDigest(week_of=week, sent_at=now))
    db.session.flush()
    lines = [line for line in queries.figures.open_by_stage(now) if line.open]
    subject, body = messages.weekly_digest(week_of=week, lines=lines)
    for member in partnership_contacts():
        add_to_outbox(member.id, subject, body, now)
    return True
