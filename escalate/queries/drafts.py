"""The draft of a difference someone is raising (services.drafts keeps them)."""

import sqlalchemy as sa

from escalate.extensions import db
from escalate.models import RaiseDraft, User


def draft_of(user: User) -> RaiseDraft | None:
    return db.session.scalar(sa.select(RaiseDraft).where(RaiseDraft.user_id == user.id))
