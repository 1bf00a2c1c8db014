"""The access log, read: a difference's views (on its page), the log searched by person,
difference and dates, its CSV, and verifying its seals. Never commits."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination

from escalate import history
from escalate.access_log import AccessWalk
from escalate.calendar import DEFAULT_TZ
from escalate.extensions import db
from escalate.history import KeyRing
from escalate.models import AccessEntry, AccessHead, Difference, User
from escalate.queries.paging import page_of_counted
from escalate.wording import iso_minute

_SEALED = (
    AccessEntry.position,
    AccessEntry.at,
    AccessEntry.user_id,
    AccessEntry.kind,
    AccessEntry.difference_id,
    AccessEntry.what,
    AccessEntry.key_id,
    AccessEntry.previous_seal,
    AccessEntry.seal,
)


@dataclass(frozen=True)
class AccessRow:
    """One line of the log as a page shows it."""

    position: int
    at: datetime
    kind: str
    what: str
    person: str
    email: str
    reference: str | None


def _rows(statement) -> tuple[list[AccessRow], int]:
    """The page's rows, and how many match in all (a window count in the same statement)."""
    rows = db.session.execute(statement).all()
    return [AccessRow(*row[:-1]) for row in rows], (rows[0][-1] if rows else 0)


def _listing(*conditions):
    return (
        sa.select(
            AccessEntry.position,
            AccessEntry.at,
            AccessEntry.kind,
            AccessEntry.what,
            User.name,
            User.email,
            Difference.reference,
        )
        .join(User, User.id == AccessEntry.user_id)
        .outerjoin(Difference, Difference.id == AccessEntry.difference_id)
        .where(*conditions)
        .order_by(AccessEntry.position.desc())
    )


def _counted(statement):
    """``statement`` with how many rows match in all, as a window count in each row."""
    return statement.add_columns(sa.func.count().over().label("total"))


# Built once: a difference's page shows who viewed it to the partnership and auditors.
_VIEWS_COUNTED = (
    sa.select(sa.func.count())
    .select_from(AccessEntry)
    .where(AccessEntry.difference_id == sa.bindparam("difference"))
)
_VIEWS = (
    _listing(AccessEntry.difference_id == sa.bindparam("difference"))
    .offset(sa.bindparam("offset"))
    .limit(sa.bindparam("limit"))
)


def views_of(difference: Difference, page: int, per_page: int) -> Pagination:
    """Who viewed a difference, newest first. A difference may be viewed thousands of times:
    they are counted from the index of its views alone, and only the page's are read."""
    total = db.session.scalar(_VIEWS_COUNTED, {"difference": difference.id})

    def fetch(offset: int, limit: int) -> list[AccessRow]:
        found = db.session.execute(
            _VIEWS, {"difference": difference.id, "offset": offset, "limit": limit}
        )
        return [AccessRow(*row) for row in found]

    return page_of_counted(fetch, total, page, per_page)


def _page(statement, page: int, per_page: int) -> Pagination:
    page = max(page, 1)
    rows, total = _rows(statement.limit(per_page).offset((page - 1) * per_page))
    if not rows and page > 1:  # past the end: the last page, as every list does
        count = db.session.scalar(sa.select(sa.func.count()).select_from(statement.subquery()))
        page = max(1, -(-count // per_page))
        rows, total = _rows(statement.limit(per_page).offset((page - 1) * per_page))
    return page_of_counted(lambda offset, limit: rows, total, page, per_page)


@dataclass(frozen=True)
class AccessFilters:
    """What the log is searched for: a person (part of a name or email address), a difference's
    reference, and the days (UK time) from and to."""

    person: str = ""
    reference: str = ""
    first: date | None = None
    last: date | None = None

    def conditions(self) -> list:
        found = []
        if self.person:
            pattern = f"%{_escape(self.person.lower())}%"
            found.append(
                sa.or_(
                    sa.func.lower(User.name).like(pattern, escape="\\"),
                    sa.func.lower(User.email).like(pattern, escape="\\"),
                )
            )
        if self.reference:
            found.append(Difference.reference == self.reference.strip().upper())
        if self.first is not None:
            found.append(AccessEntry.at >= _start_of(self.first))
        if self.last is not None:
            found.append(AccessEntry.at < _start_of(self.last + timedelta(days=1)))
        return found


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(DEFAULT_TZ))


def search(filters: AccessFilters, page: int, per_page: int) -> Pagination:
    """The access log, newest first, as the filters narrow it: one statement a page."""
    return _page(_counted(_listing(*filters.conditions())), page, per_page)


CSV_HEADER = ("When (UK time)", "Who", "Email", "What", "Difference", "Details")
CSV_BATCH = 1000


def search_csv(filters: AccessFilters) -> Iterator[str]:
    """The filtered log as CSV, a batch of rows at a time (streamed, never held whole)."""
    from escalate.models import ACCESS_KIND_LABELS

    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADER)
    yield flush()
    before = None
    while True:
        statement = _listing(*filters.conditions()).limit(CSV_BATCH)
        if before is not None:
            statement = statement.where(AccessEntry.position < before)
        rows = db.session.execute(statement).all()
        if not rows:
            return
        for row in rows:
            writer.writerow(
                (
                    iso_minute(row.at),
                    row.name,
                    row.email,
                    ACCESS_KIND_LABELS[row.kind],
                    row.reference or "",
                    _safe(row.what),
                )
            )
        yield flush()
        before = rows[-1].position


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


# --- Verifying -----------------------------------------------------------------------------------


def verify(keys: KeyRing, checkpoint: dict | None, *, from_checkpoint: bool, batch_size: int):
    """Walk the access log's seals (from the last checkpoint's ``access``, if ``from_checkpoint``
    and it has one; else from the first entry) and compare its end with its head row and the
    checkpoint. Returns the walk, whose ``problems`` say what is wrong."""
    start = checkpoint if from_checkpoint and checkpoint else None
    walk = AccessWalk(
        keys,
        start["position"] if start else 0,
        start["seal"] if start else history.GENESIS,
        checkpoint,
    )
    if start and start.get("position"):
        # Trusting what came before the checkpoint: it must still end where the checkpoint saw.
        there = db.session.scalar(
            sa.select(AccessEntry.seal).where(AccessEntry.position == start["position"])
        )
        if there is None:
            last = db.session.scalar(sa.select(sa.func.max(AccessEntry.position))) or 0
            walk.problems.append(
                history.RecordProblem(
                    f"the access log ends at position {last}, before the checkpoint's position "
                    f"{start['position']}: entries were removed",
                    last + 1,
                )
            )
            return walk
        if there != start.get("seal"):
            walk.problems.append(
                history.RecordProblem(
                    "the access log's entry here is not the one the checkpoint recorded",
                    start["position"],
                )
            )
    head = db.session.execute(sa.select(AccessHead.position, AccessHead.seal)).first()
    up_to = head.position if head is not None else None
    after = walk.position
    while True:
        statement = (
            sa.select(*_SEALED)
            .where(AccessEntry.position > after)
            .order_by(AccessEntry.position)
            .limit(batch_size)
        )
        if up_to is not None:  # the log as it stood: later entries wait for the next check
            statement = statement.where(AccessEntry.position <= up_to)
        batch = db.session.execute(statement).all()
        if not batch:
            break
        for entry in batch:
            walk.add(entry)
        after = batch[-1].position
    walk.finish(head)
    return walk
