"""The partnership's learning (product.md §7): the learning page's list, its filters and its
streamed CSV, and one note for its update page. Never commits."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import Bundle, aliased

from escalate import calendar, learning, wording
from escalate.extensions import db
from escalate.models import Agency, Difference, LearningNote, LearningStatus, User
from escalate.queries.paging import page_of
from escalate.queries.spreadsheets import streamed_csv


@dataclass(frozen=True)
class LearningFilters:
    """What the learning list is narrowed to, already checked (see oversight.forms)."""

    status: LearningStatus | None = None
    agency_id: int | None = None  # the owning agency
    overdue: bool = False


@dataclass(frozen=True)
class LearningRow:
    id: int
    reference: str
    text: str
    recommendation: str
    owner_agency: str | None
    owner: str | None
    due_on: date | None
    status: LearningStatus
    created_at: datetime
    is_overdue: bool

    @property
    def owner_label(self) -> str:
        if self.owner_agency is None:
            return wording.NOT_SET
        return f"{self.owner}, {self.owner_agency}" if self.owner else self.owner_agency


def learning_statement(f: LearningFilters, today: date):
    """The notes matching ``f``, soonest due first (those with no due date last), each row one
    bundle: one statement for the page and the CSV."""
    owner = aliased(User)
    row = Bundle(
        "row",
        LearningNote.id,
        Difference.reference,
        LearningNote.text,
        LearningNote.recommendation,
        Agency.name.label("owner_agency"),
        owner.name.label("owner"),
        LearningNote.due_on,
        LearningNote.status,
        LearningNote.created_at,
    )
    query = (
        sa.select(row)
        .join(Difference, Difference.id == LearningNote.difference_id)
        .outerjoin(Agency, Agency.id == LearningNote.owner_agency_id)
        .outerjoin(owner, owner.id == LearningNote.owner_id)
        .order_by(
            sa.case((LearningNote.due_on.is_(None), 1), else_=0),
            LearningNote.due_on,
            LearningNote.id,
        )
    )
    if f.status is not None:
        query = query.where(LearningNote.status == f.status)
    if f.agency_id is not None:
        query = query.where(LearningNote.owner_agency_id == f.agency_id)
    if f.overdue:
        query = query.where(LearningNote.status != LearningStatus.DONE, LearningNote.due_on < today)
    return query


def _row(raw, today: date) -> LearningRow:
    status = LearningStatus(raw.status)
    return LearningRow(
        id=raw.id,
        reference=raw.reference,
        text=raw.text,
        recommendation=raw.recommendation,
        owner_agency=raw.owner_agency,
        owner=raw.owner,
        due_on=raw.due_on,
        status=status,
        created_at=raw.created_at,
        is_overdue=learning.is_overdue(status, raw.due_on, today),
    )


def learning_page(f: LearningFilters, now: datetime, page: int, per_page: int) -> Pagination:
    today = calendar.to_local(now).date()
    pages = page_of(learning_statement(f, today), page, per_page)
    pages.items = [_row(raw, today) for raw in pages.items]
    return pages


CSV_HEADER = (
    "Reference",
    "Written on",
    "What the partnership learned",
    "Recommendation",
    "Owning agency",
    "Owner",
    "Due",
    "Status",
    "Overdue",
)


def learning_csv(f: LearningFilters, now: datetime, batch_size: int = 100) -> Iterator[str]:
    """The filtered list as CSV, streamed ``batch_size`` rows at a time."""
    today = calendar.to_local(now).date()

    def cells(raw):
        r = _row(raw, today)
        return (
            r.reference,
            calendar.to_local(r.created_at).date().isoformat(),
            r.text,
            r.recommendation,
            r.owner_agency or wording.NOT_SET,
            r.owner or "",
            r.due_on.isoformat() if r.due_on else wording.NOT_SET,
            r.status.label,
            "Yes" if r.is_overdue else "No",
        )

    return streamed_csv(CSV_HEADER, learning_statement(f, today), cells, batch_size)


def note(note_id: int) -> LearningNote | None:
    """One learning note with its difference and owner, for its update page."""
    return db.session.get(LearningNote, note_id)


def owners() -> list[User]:
    """Who can be named as a recommendation's owner: active professionals and partnership
    members, by agency."""
    return list(
        db.session.scalars(
            sa.select(User)
            .join(Agency, Agency.id == User.agency_id)
            .where(User.active.is_(True), User.role.in_(learning.OWNER_ROLES))
            .order_by(Agency.name, User.name)
        )
    )
