"""Whether the partnership's weekly digest has gone for a week (its figures are
``figures.open_by_stage``)."""

import sqlalchemy as sa

from escalate.extensions import db
from escalate.models import PartnershipDigest


def digest_sent_for(week_of) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(PartnershipDigest.week_of == week_of)))
