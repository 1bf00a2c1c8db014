"""Reading the outcomes each agency is to write on the child's own record: the difference page's
section, a person's entries still to confirm ("Waiting for you"), and the share confirmed per
agency (the dashboard and the report). Never commits.
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import joinedload

from escalate import chronology, wording, workflow
from escalate.calendar import Period
from escalate.extensions import db
from escalate.models import (
    Agency,
    ChronologyEntry,
    Difference,
    Event,
    EventKind,
    Role,
    User,
)
from escalate.queries import differences, kept
from escalate.queries.paging import page_of_counted
from escalate.queries.spreadsheets import csv_line
from escalate.workflow import OVERSIGHT_ROLES, NotFound

NOT_YET = "Not yet recorded in your system"


def _by_role(actor: User | None, difference: Difference) -> tuple[str, str, str]:
    """Who recorded an outcome: name, job title (or role), agency (of the two, or the
    partnership); all "" when escalate recorded it by itself."""
    if actor is None:
        return "", "", ""
    agencies = {
        difference.raising_agency_id: difference.raising_agency.name,
        difference.receiving_agency_id: difference.receiving_agency.name,
    }
    agency = agencies.get(actor.agency_id, "")
    if not agency and actor.role == Role.PARTNERSHIP:
        agency = "the safeguarding partnership"
    return actor.name, actor.job_title or actor.role.label, agency


def entry_facts(difference: Difference, event: Event) -> chronology.EntryFacts:
    """What an outcome's entry is made from (the difference loaded with its events)."""
    response = None
    if event.kind == EventKind.ACCEPTED:
        earlier = [
            e
            for e in difference.events
            if e.kind == EventKind.RESPONDED and e.sequence < event.sequence
        ]
        response = earlier[-1].details if earlier else None
    name, role, agency = _by_role(event.actor, difference)
    return chronology.EntryFacts(
        kind=str(event.kind),
        at=event.at,
        stage_level=event.stage_level,
        details=event.details,
        reference=difference.reference,
        child_reference=difference.child_reference,
        child_initials=difference.child_initials,
        raising_agency=difference.raising_agency.name,
        receiving_agency=difference.receiving_agency.name,
        recorded_by=name,
        recorded_by_role=role,
        recorded_by_agency=agency,
        response=response,
    )


def status_words(entry: ChronologyEntry, agency: str, *, yours: bool) -> str:
    if entry.confirmed_at is None:
        return NOT_YET if yours else f"Not yet recorded in {agency}'s system"
    by = entry.confirmed_by.name if entry.confirmed_by else ""
    return f"Recorded in {agency}'s system on {wording.long_date(entry.recorded_on)}" + (
        f", confirmed by {by}" if by else ""
    )


@dataclass(frozen=True)
class PageEntry:
    id: int
    agency: str
    confirmed: bool
    status: str
    text: str = ""  # the words to copy: only for the viewer's own agency
    may_confirm: bool = False


@dataclass(frozen=True)
class PageOutcome:
    outcome: str
    at: datetime
    entries: list[PageEntry] = field(default_factory=list)


@dataclass(frozen=True)
class PageSection:
    """The difference page's "For your agency's records": a viewer of one of the two agencies
    sees their agency's entry of each outcome (``oversight`` False); the partnership and
    auditors see both agencies' status."""

    oversight: bool
    outcomes: list[PageOutcome]


def _page_entries(oversight: bool) -> sa.Select:
    query = (
        sa.select(ChronologyEntry)
        .where(ChronologyEntry.difference_id == sa.bindparam("difference"))
        .options(joinedload(ChronologyEntry.confirmed_by))
        .order_by(ChronologyEntry.event_id, ChronologyEntry.id)
    )
    if not oversight:  # the viewer's own agency's entries
        query = query.where(ChronologyEntry.agency_id == sa.bindparam("agency"))
    return query


# Built once for the partnership and auditors, and once for an agency's people: the
# difference's page asks it on every view.
_PAGE_ENTRIES = {oversight: _page_entries(oversight) for oversight in (True, False)}


def page_section(
    user: User,
    difference: Difference,
    now: datetime,
    state: workflow.Situation | None = None,
) -> PageSection | None:
    """The section for ``user`` (who may see the difference), in one statement; None for
    anyone else who may see it (a supporter of another agency), with no statement."""
    oversight = user.role in OVERSIGHT_ROLES
    agencies = {
        difference.raising_agency_id: difference.raising_agency.name,
        difference.receiving_agency_id: difference.receiving_agency.name,
    }
    if not oversight and user.agency_id not in agencies:
        return None
    events = {e.id: e for e in difference.events}
    # Nothing more is recorded on an anonymised difference: its entries are shown, not confirmed.
    takes_part = (
        not oversight
        and difference.anonymised_at is None
        and differences.takes_part(user, difference, now, state)
    )
    outcomes: dict[int, PageOutcome] = {}
    found = db.session.scalars(
        _PAGE_ENTRIES[oversight], {"difference": difference.id, "agency": user.agency_id}
    )
    for entry in found:
        event = events[entry.event_id]
        if entry.event_id not in outcomes:
            outcomes[entry.event_id] = PageOutcome(
                chronology.outcome_words(event.kind, event.details, event.stage_level), event.at
            )
        agency = agencies[entry.agency_id]
        outcomes[entry.event_id].entries.append(
            PageEntry(
                id=entry.id,
                agency=agency,
                confirmed=entry.confirmed_at is not None,
                status=status_words(entry, agency, yours=not oversight),
                text="" if oversight else chronology.entry_text(entry_facts(difference, event)),
                may_confirm=not oversight
                and chronology.may_confirm(
                    user.role, user.agency_id, entry.agency_id, takes_part=takes_part
                ),
            )
        )
    return PageSection(oversight=oversight, outcomes=list(outcomes.values()))


# --- Waiting for you ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ToRecord:
    entry_id: int
    reference: str
    outcome: str
    at: datetime


# Built once, with the person and the page bound: the Waiting page asks them on every view.
_MINE_TO_RECORD = (
    ChronologyEntry.owner_id == sa.bindparam("person"),
    ChronologyEntry.confirmed_at.is_(None),
)
_TO_RECORD_COUNT = sa.select(sa.func.count()).select_from(ChronologyEntry).where(*_MINE_TO_RECORD)
_TO_RECORD_ROWS = (
    sa.select(
        ChronologyEntry.id,
        Difference.reference,
        Event.kind,
        Event.data,
        Event.stage_level,
        Event.at,
    )
    .join(Difference, Difference.id == ChronologyEntry.difference_id)
    .join(Event, Event.id == ChronologyEntry.event_id)
    .where(*_MINE_TO_RECORD)
    .order_by(ChronologyEntry.created_at, ChronologyEntry.id)
    .offset(sa.bindparam("offset"))
    .limit(sa.bindparam("limit"))
)


def to_record_page(user: User, page: int, per_page: int) -> Pagination:
    """A page of the outcomes ``user`` is asked to write on their agency's record and has not
    confirmed, oldest first. Counted from the partial index of unconfirmed entries by owner
    alone (nobody is asked to record an anonymised difference's outcome: ``owner_id`` is
    cleared then), and the page's rows read from it in order, with LIMIT."""
    total = db.session.scalar(_TO_RECORD_COUNT, {"person": user.id})

    def fetch(offset: int, limit: int) -> list[ToRecord]:
        rows = db.session.execute(
            _TO_RECORD_ROWS, {"person": user.id, "offset": offset, "limit": limit}
        )
        return [
            ToRecord(
                r.id,
                r.reference,
                chronology.outcome_words(r.kind, r.data or {}, r.stage_level),
                r.at,
            )
            for r in rows
        ]

    return page_of_counted(fetch, total, page, per_page)


# --- The dashboard and the report ---------------------------------------------------------------


@dataclass(frozen=True)
class AgencyShare:
    agency: str
    entries: int
    confirmed: int

    @property
    def share(self) -> int | None:
        """The share confirmed, as a whole percentage (None with no entries)."""
        return round(100 * self.confirmed / self.entries) if self.entries else None

    @property
    def share_words(self) -> str:
        return "" if self.share is None else f"{self.share}%"


def shares(period: Period | None = None) -> list[AgencyShare]:
    """Per agency: its entries (their outcomes in ``period``, or all), how many it confirmed
    as written on its own record. One grouped statement."""
    query = (
        sa.select(
            Agency.name,
            sa.func.count(ChronologyEntry.id),
            sa.func.count(ChronologyEntry.confirmed_at),
        )
        .join(Agency, Agency.id == ChronologyEntry.agency_id)
        .group_by(Agency.id, Agency.name)
        .order_by(Agency.name)
    )
    if period is not None:
        query = query.where(
            ChronologyEntry.created_at >= period.start, ChronologyEntry.created_at < period.end
        )
    return [
        AgencyShare(name, entries, confirmed)
        for name, entries, confirmed in db.session.execute(query)
    ]


def kept_shares(now: datetime, period: Period | None = None) -> list[AgencyShare]:
    """``shares``, kept with the dashboard's and report's figures (``kept.cached``): they
    read every entry of the period, so the pages read them once in the worker's interval."""
    return kept.cached("recorded", lambda: shares(period), now, period)


SECTION = "Outcomes recorded on agencies' own systems"


def shares_csv(rows: list[AgencyShare]) -> Iterator[str]:
    """The report CSV's lines for the shares: section, item, value, detail."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        yield csv_line(
            buffer,
            writer,
            [SECTION, row.agency, row.share_words, f"{row.confirmed} of {row.entries} confirmed"],
        )


def ensure_on_difference(difference: Difference, entry_id: int) -> None:
    """NotFound unless ``entry_id`` is an entry of this difference (a page never hints at
    another difference's)."""
    found = db.session.scalar(
        sa.select(ChronologyEntry.id).where(
            ChronologyEntry.id == entry_id, ChronologyEntry.difference_id == difference.id
        )
    )
    if found is None:
        raise NotFound("Difference not found.")
