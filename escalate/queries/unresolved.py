"""The unresolved list: filters, sorting, pages and the streamed CSV export. Never commits."""


from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import Bundle, aliased

from escalate import calendar, deadlines, wording
from escalate.calendar import local_midnight
from escalate.extensions import db
from escalate.models import (
    Agency,
    Category,
    Difference,
    Stage,
    State,
)
from escalate.queries.conditions import OPEN_STATES, open_stage_on, overdue
from escalate.queries.paging import page_of_counted
from escalate.queries.spreadsheets import streamed_csv


@dataclass(frozen=True)
class UnresolvedFilters:
    """What the unresolved list is narrowed to, already checked (see oversight.forms)."""

    agency_id: int | None = None
    side: str = "either"  # the agency raised it ("raising"), received it, or "either"
    stage: int | None = None
    theme: Category | None = None
    waiting: str | None = None  # "response" or "raiser"
    urgent: bool = False
    overdue: bool = False
    min_age_days: int | None = None  # raised at least this many (calendar) days before today
    sort: str = "deadline"


SIDES = ("either", "raising", "receiving")
SORTS = {
    "deadline": "Response due, soonest first",
    "oldest": "Raised, oldest first",
    "newest": "Raised, newest first",
    "reference": "Reference",
    "stage": "Stage, highest first",
}


def _order_by(sort: str):
    awaiting_raiser_last = sa.case((Difference.state == State.AWAITING_RAISER, 1), else_=0)
    return {
        "deadline": (awaiting_raiser_last, Stage.deadline, Difference.id),
        "oldest": (Difference.raised_at, Difference.id),
        "newest": (Difference.raised_at.desc(), Difference.id.desc()),
        "reference": (Difference.reference, Difference.id),
        "stage": (
            Difference.stage_level.desc(),
            awaiting_raiser_last,
            Stage.deadline,
            Difference.id,
        ),
    }[sort if sort in SORTS else "deadline"]


def _unresolved_where(f: UnresolvedFilters, now: datetime) -> list:
    """The conditions of ``f`` on the open differences themselves (``_on_stage``: those on
    their open stage)."""
    where = [Difference.state.in_(OPEN_STATES)]
    if f.agency_id is not None:
        raising = Difference.raising_agency_id == f.agency_id
        receiving = Difference.receiving_agency_id == f.agency_id
        where.append(
            {"raising": raising, "receiving": receiving}.get(f.side, sa.or_(raising, receiving))
        )
    if f.stage is not None:
        where.append(Difference.stage_level == f.stage)
    if f.theme is not None:
        where.append(Difference.category == f.theme)
    if f.waiting == "response":
        where.append(Difference.state == State.AWAITING_RESPONSE)
    elif f.waiting == "raiser":
        where.append(Difference.state == State.AWAITING_RAISER)
    if f.urgent:
        where.append(Difference.urgent.is_(True))
    if f.min_age_days is not None:
        # Raised on a local date at least that many days before today, as the list shows ages.
        today = calendar.to_local(now).date()
        where.append(
            Difference.raised_at < local_midnight(today - timedelta(days=f.min_age_days - 1))
        )
    return where


def _on_stage(f: UnresolvedFilters, now: datetime) -> list:
    """The conditions of ``f`` on the open differences' open (current) stage."""
    return [overdue(now)] if f.overdue else []


def _matching(f: UnresolvedFilters, now: datetime, *columns):
    """``columns`` of the open differences matching ``f`` with their open stage, sorted."""
    return (
        sa.select(*columns)
        .select_from(Difference)
        .join(Stage, open_stage_on())
        .where(*_unresolved_where(f, now), *_on_stage(f, now))
        .order_by(*_order_by(f.sort))
    )


_RAISING, _RECEIVING = aliased(Agency), aliased(Agency)
_ROW = Bundle(
    "row",
    Difference.reference,
    Difference.raised_at,
    _RAISING.name.label("raising"),
    _RECEIVING.name.label("receiving"),
    Difference.category,
    Difference.stage_level,
    Stage.name.label("stage_name"),
    Difference.state,
    Difference.urgent,
    Stage.deadline,
)


def _with_agencies(statement):
    return statement.join(_RAISING, _RAISING.id == Difference.raising_agency_id).join(
        _RECEIVING, _RECEIVING.id == Difference.receiving_agency_id
    )


def unresolved_statement(f: UnresolvedFilters, now: datetime):
    """The open differences matching ``f``, sorted: one statement for the page and the CSV.
    Each row is one value (a bundle of columns), as ``db.paginate`` takes scalars."""
    return _with_agencies(_matching(f, now, _ROW))


# A page's rows by the ids the list matched and sorted: built once, whatever the filters.
_ROWS_BY_ID = _with_agencies(
    sa.select(Difference.id, _ROW)
    .select_from(Difference)
    .join(Stage, open_stage_on())
    .where(Difference.id.in_(sa.bindparam("ids", expanding=True)))
)


@dataclass(frozen=True)
class UnresolvedRow:
    reference: str
    raised_at: datetime
    raising: str
    receiving: str
    category: Category
    stage_level: int
    stage_name: str
    state: State
    urgent: bool
    deadline: datetime | None  # only while a response is awaited
    is_overdue: bool
    days_open: int


def _unresolved_row(row, now: datetime) -> UnresolvedRow:
    awaiting = row.state == State.AWAITING_RESPONSE
    return UnresolvedRow(
        reference=row.reference,
        raised_at=row.raised_at,
        raising=row.raising,
        receiving=row.receiving,
        category=Category(row.category),
        stage_level=row.stage_level,
        stage_name=row.stage_name,
        state=State(row.state),
        urgent=bool(row.urgent),
        deadline=row.deadline if awaiting else None,
        is_overdue=deadlines.is_overdue(row.state, row.deadline, now),
        days_open=(calendar.to_local(now).date() - calendar.to_local(row.raised_at).date()).days,
    )


def _counted(f: UnresolvedFilters, now: datetime) -> sa.Select:
    """How many open differences match ``f``. Each has one open stage, its current one, so
    unless a condition is on that stage, they are counted from the differences' own index,
    without reading a stage."""
    counted = sa.select(sa.func.count()).select_from(Difference)
    on_stage = _on_stage(f, now)
    if on_stage:
        counted = counted.join(Stage, open_stage_on())
    return counted.where(*_unresolved_where(f, now), *on_stage)


def unresolved_page(f: UnresolvedFilters, now: datetime, page: int, per_page: int) -> Pagination:
    """One page of the list, each row as the page shows it; ``total`` says how many match.

    The open differences are a few per cent of all: they are counted, and a page of their ids
    matched and sorted, in the database from its indexes alone (``ix_difference_unresolved``,
    ``ix_stage_open``), without reading the differences' rows, which carry their long texts;
    then only that page's rows are read."""
    matching = _matching(f, now, Difference.id)
    pages = page_of_counted(
        lambda offset, limit: list(db.session.scalars(matching.offset(offset).limit(limit))),
        db.session.scalar(_counted(f, now)),
        page,
        per_page,
    )
    found = {row.id: row.row for row in db.session.execute(_ROWS_BY_ID, {"ids": pages.items})}
    # A difference closed since the page's ids were read is left out rather than failing.
    pages.items = [_unresolved_row(found[i], now) for i in pages.items if i in found]
    return pages


CSV_HEADER = (
    "Reference",
    "Raised on",
    "Days since raised",
    "Raising agency",
    "Receiving agency",
    "Theme",
    "Stage",
    "Stage name",
    "Status",
    "Urgent",
    "Overdue",
    "Response due",
)


def unresolved_csv(f: UnresolvedFilters, now: datetime, batch_size: int = 100) -> Iterator[str]:
    """The filtered, sorted list as CSV, streamed: rows are fetched ``batch_size`` at a time
    (a server-side cursor on PostgreSQL), so memory does not grow with the number of rows."""

    def cells(raw):
        r = _unresolved_row(raw, now)
        return (
            r.reference,
            calendar.to_local(r.raised_at).date().isoformat(),
            r.days_open,
            r.raising,
            r.receiving,
            r.category.label,
            r.stage_level,
            r.stage_name,
            r.state.label,
            "Yes" if r.urgent else "No",
            "Yes" if r.is_overdue else "No",
            wording.iso_minute(r.deadline),
        )

    return streamed_csv(CSV_HEADER, unresolved_statement(f, now), cells, batch_size)
