"""Drafts of differences being raised (product.md §2): what the raiser typed is kept between
its questions and "Check your answers", so that going back, going forward or changing an answer
loses nothing and the difference is raised once. Each public function is one transaction."""

from datetime import datetime, timedelta

import sqlalchemy as sa

from escalate.extensions import db
from escalate.models import RaiseDraft, User

# A draft nobody came back to is removed by the sweep after this long: it holds a child's
# identifiers, and a difference still worth raising is raised in days, not weeks.
DRAFT_KEPT_DAYS = 7


def save_draft(user: User, urgent: bool, answers: list[list[str]], now: datetime) -> None:
    """Keep ``answers`` (the form's fields as sent, [name, value] pairs) as ``user``'s draft,
    in place of any earlier one."""
    draft = db.session.scalar(sa.select(RaiseDraft).where(RaiseDraft.user_id == user.id))
    if draft is None:
        draft = RaiseDraft(user_id=user.id)
        db.session.add(draft)
    draft.urgent, draft.answers, draft.saved_at = urgent, answers, now
    db.session.commit()


def discard_stale_drafts(now: datetime, *, dry_run: bool = False) -> int:
    """Remove the drafts last saved more than DRAFT_KEPT_DAYS ago; how many there were."""
    stale = RaiseDraft.saved_at < now - timedelta(days=DRAFT_KEPT_DAYS)
    count = db.session.scalar(sa.select(sa.func.count(RaiseDraft.id)).where(stale))
    if count and not dry_run:
        db.session.execute(sa.delete(RaiseDraft).where(stale))
        db.session.commit()
    return count


def forget_draft(user: User) -> None:
    """Remove ``user``'s draft, in the caller's transaction (the one that raises it)."""
    db.session.execute(sa.delete(RaiseDraft).where(RaiseDraft.user_id == user.id))
