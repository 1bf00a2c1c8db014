"""The tamper-evident history (each event's hash covers its content and the previous hash), and
the audit queries and figures of product.md §7."""

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from escalate import calendar
from escalate.extensions import db
from escalate.models import (
    AGENCY_ROLES,
    Agency,
    Category,
    Difference,
    EmailStatus,
    Event,
    LearningNote,
    Notification,
    PolicyStage,
    Stage,
    State,
    User,
)

GENESIS = "0" * 64


def event_content(event) -> dict:
    """The fields of an event that its hash protects, in a form that survives a database trip."""
    return {
        "difference_id": event.difference_id,
        "sequence": event.sequence,
        "kind": str(event.kind),
        "actor_id": event.actor_id,
        "at": event.at.isoformat(),
        "stage_level": event.stage_level,
        "deadline": event.deadline.isoformat() if event.deadline else None,
        "data": event.data,
    }


def chain_hash(previous_hash: str, content: dict) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{previous_hash}\n{canonical}".encode()).hexdigest()


def seal(event, previous_hash: str) -> None:
    """Give a new event its place in the chain."""
    event.previous_hash = previous_hash
    event.hash = chain_hash(previous_hash, event_content(event))


@dataclass(frozen=True)
class Verification:
    ok: bool
    broken_at: int | None = None  # the sequence number of the first event that does not verify
    reason: str = ""


def verify(events: Sequence) -> Verification:
    """Check a difference's events (in sequence order) against their hash chain."""
    previous = GENESIS
    for expected_sequence, event in enumerate(events, start=1):
        if event.sequence != expected_sequence:
            return Verification(False, expected_sequence, "an event is missing")
        if event.previous_hash != previous:
            return Verification(False, event.sequence, "the link to the previous event is broken")
        if chain_hash(previous, event_content(event)) != event.hash:
            return Verification(False, event.sequence, "the event was altered after it was written")
        previous = event.hash
    return Verification(True)


# --- Checking every history -------------------------------------------------------------------

# The columns event_content and verify read: rows, not entities, so a batch leaves nothing behind.
_EVENT_COLUMNS = (
    Event.difference_id,
    Event.sequence,
    Event.kind,
    Event.actor_id,
    Event.at,
    Event.stage_level,
    Event.deadline,
    Event.data,
    Event.previous_hash,
    Event.hash,
)


@dataclass(frozen=True)
class HistoryCheck:
    reference: str
    events: int
    verification: Verification


def verify_every_history(batch_size: int = 200) -> Iterator[HistoryCheck]:
    """Verify each difference's history in turn, a batch of differences at a time."""
    last_id = 0
    while True:
        batch = db.session.execute(
            sa.select(Difference.id, Difference.reference)
            .where(Difference.id > last_id)
            .order_by(Difference.id)
            .limit(batch_size)
        ).all()
        if not batch:
            return
        events: dict[int, list] = {difference_id: [] for difference_id, _ in batch}
        for row in db.session.execute(
            sa.select(*_EVENT_COLUMNS)
            .where(Event.difference_id.in_(list(events)))
            .order_by(Event.difference_id, Event.sequence)
        ):
            events[row.difference_id].append(row)
        for difference_id, reference in batch:
            history = events[difference_id]
            # Every difference starts with its "raised" event: an empty history lost it.
            verification = (
                verify(history) if history else Verification(False, 1, "an event is missing")
            )
            yield HistoryCheck(reference or f"#{difference_id}", len(history), verification)
        last_id = batch[-1][0]


# --- Periods ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole days, first and last included, in the partnership's local time."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return _local_midnight(self.first)

    @property
    def end(self) -> datetime:
        """The instant just after the period: midnight at the start of the day after ``last``."""
        return _local_midnight(self.last + timedelta(days=1))

    @property
    def label(self) -> str:
        return f"{_day(self.first)} to {_day(self.last)}"


def _day(value: date) -> str:
    return f"{value.day} {value.strftime('%B %Y')}"


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(calendar.DEFAULT_TZ)).astimezone(UTC)


def quarter_of(day: date) -> Period:
    """The calendar quarter (January–March, April–June…) containing ``day``."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    first = date(day.year, first_month, 1)
    after = date(day.year + 1, 1, 1) if first_month == 10 else date(day.year, first_month + 3, 1)
    return Period(first, after - timedelta(days=1))


def quarter_label(period: Period) -> str:
    return f"{period.first.strftime('%b')} to {period.last.strftime('%b %Y')}"


def quarters_up_to(day: date, count: int) -> list[Period]:
    """The ``count`` quarters ending with the one containing ``day``, oldest first."""
    quarters = [quarter_of(day)]
    while len(quarters) < count:
        quarters.insert(0, quarter_of(quarters[0].first - timedelta(days=1)))
    return quarters


# --- Figures (every one an aggregate query) ------------------------------------------------------

OPEN_STATES = (State.AWAITING_RESPONSE, State.AWAITING_RAISER)


def _open_stage_on():
    return sa.and_(Stage.difference_id == Difference.id, Stage.level == Difference.stage_level)


def _is_overdue(now: datetime):
    return sa.and_(Difference.state == State.AWAITING_RESPONSE, Stage.deadline < now)


def _count_where(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _within(column, period: Period | None):
    return sa.true() if period is None else sa.and_(column >= period.start, column < period.end)


def stage_names() -> dict[int, str]:
    return dict(db.session.execute(sa.select(PolicyStage.level, PolicyStage.name)).all())


@dataclass(frozen=True)
class OpenStage:
    level: int
    name: str
    open: int
    awaiting_response: int
    overdue: int
    awaiting_raiser: int
    urgent: int


def open_by_stage(now: datetime) -> list[OpenStage]:
    """Open differences now, by stage: waiting for a response, overdue, waiting for the raiser."""
    names = stage_names()
    rows = db.session.execute(
        sa.select(
            Difference.stage_level,
            sa.func.count(Difference.id),
            _count_where(Difference.state == State.AWAITING_RESPONSE),
            _count_where(_is_overdue(now)),
            _count_where(Difference.state == State.AWAITING_RAISER),
            _count_where(Difference.urgent.is_(True)),
        )
        .join(Stage, _open_stage_on())
        .where(Difference.state.in_(OPEN_STATES))
        .group_by(Difference.stage_level)
        .order_by(Difference.stage_level)
    ).all()
    counted = {row[0]: row for row in rows}
    levels = sorted(set(names) | set(counted))
    return [
        OpenStage(level, names.get(level, f"Stage {level}"), *map(int, counted[level][1:]))
        if level in counted
        else OpenStage(level, names.get(level, f"Stage {level}"), 0, 0, 0, 0, 0)
        for level in levels
    ]


@dataclass(frozen=True)
class ResolutionTime:
    """Working days from raising to resolution, over differences resolved (not withdrawn)."""

    count: int
    average: float | None
    median: float | None
    shortest: int | None
    longest: int | None


def resolution_time(period: Period | None = None) -> ResolutionTime:
    where = (
        Difference.state == State.RESOLVED,
        Difference.resolution_working_days.is_not(None),
        _within(Difference.closed_at, period),
    )
    count, average, shortest, longest = db.session.execute(
        sa.select(
            sa.func.count(Difference.id),
            sa.func.avg(Difference.resolution_working_days),
            sa.func.min(Difference.resolution_working_days),
            sa.func.max(Difference.resolution_working_days),
        ).where(*where)
    ).one()
    median = None
    if count:
        # The middle value (or the two middle values) by ORDER BY with OFFSET: portable SQL.
        middle = db.session.scalars(
            sa.select(Difference.resolution_working_days)
            .where(*where)
            .order_by(Difference.resolution_working_days)
            .offset((count - 1) // 2)
            .limit(2 - count % 2)
        ).all()
        median = sum(middle) / len(middle)
    return ResolutionTime(
        count,
        round(float(average), 1) if average is not None else None,
        median,
        shortest,
        longest,
    )


@dataclass(frozen=True)
class ClosedAtStage:
    level: int
    name: str
    resolved: int
    withdrawn: int


def closed_by_stage(period: Period | None = None) -> list[ClosedAtStage]:
    """The stage at which differences were resolved or withdrawn."""
    names = stage_names()
    rows = db.session.execute(
        sa.select(
            Difference.stage_level,
            _count_where(Difference.state == State.RESOLVED),
            _count_where(Difference.state == State.WITHDRAWN),
        )
        .where(Difference.state.in_((State.RESOLVED, State.WITHDRAWN)))
        .where(_within(Difference.closed_at, period))
        .group_by(Difference.stage_level)
        .order_by(Difference.stage_level)
    ).all()
    counted = {row[0]: row for row in rows}
    return [
        ClosedAtStage(
            level,
            names.get(level, f"Stage {level}"),
            int(counted[level][1]) if level in counted else 0,
            int(counted[level][2]) if level in counted else 0,
        )
        for level in sorted(set(names) | set(counted))
    ]


OUTCOME_LABELS = {
    "agreed": "Agreed: the decision changed",
    "upheld": "Upheld: the decision stood",
    "withdrawn": "Withdrawn",
}


def outcomes(period: Period | None = None) -> list[tuple[str, int]]:
    """Closed differences by outcome, in a fixed order (every outcome listed, even at 0)."""
    counted = dict(
        db.session.execute(
            sa.select(Difference.outcome, sa.func.count(Difference.id))
            .where(Difference.state.in_((State.RESOLVED, State.WITHDRAWN)))
            .where(_within(Difference.closed_at, period))
            .group_by(Difference.outcome)
        ).all()
    )
    return [(label, int(counted.get(key, 0))) for key, label in OUTCOME_LABELS.items()]


def themes(period: Period | None = None) -> list[tuple[Category, int]]:
    """Differences raised by theme, most first (themes with none left out)."""
    count = sa.func.count(Difference.id)
    return [
        (Category(category), int(n))
        for category, n in db.session.execute(
            sa.select(Difference.category, count)
            .where(_within(Difference.raised_at, period))
            .group_by(Difference.category)
            .order_by(count.desc(), Difference.category)
        )
    ]


@dataclass(frozen=True)
class AgencyPair:
    raising: str
    receiving: str
    count: int


def agency_pairs(period: Period | None = None) -> list[AgencyPair]:
    """Who raises differences with whom, most first."""
    raising, receiving = aliased(Agency), aliased(Agency)
    count = sa.func.count(Difference.id)
    return [
        AgencyPair(r, s, int(n))
        for r, s, n in db.session.execute(
            sa.select(raising.name, receiving.name, count)
            .join(raising, raising.id == Difference.raising_agency_id)
            .join(receiving, receiving.id == Difference.receiving_agency_id)
            .where(_within(Difference.raised_at, period))
            .group_by(raising.id, raising.name, receiving.id, receiving.name)
            .order_by(count.desc(), raising.name, receiving.name)
        )
    ]


@dataclass(frozen=True)
class AgencyActivity:
    name: str
    raised: int
    received: int


def agencies_by_raising(period: Period | None = None) -> list[AgencyActivity]:
    """Every agency whose staff could raise a difference, those that raise fewest first."""

    def counted(column):
        return (
            sa.select(sa.func.count(Difference.id))
            .where(column == Agency.id, _within(Difference.raised_at, period))
            .scalar_subquery()
        )

    raised = counted(Difference.raising_agency_id)
    received = counted(Difference.receiving_agency_id)
    has_staff = (
        sa.select(User.id).where(User.agency_id == Agency.id, User.role.in_(AGENCY_ROLES)).exists()
    )
    return [
        AgencyActivity(name, int(r), int(s))
        for name, r, s in db.session.execute(
            sa.select(Agency.name, raised, received).where(has_staff).order_by(raised, Agency.name)
        )
    ]


@dataclass(frozen=True)
class QuarterCount:
    label: str
    raised: int
    closed: int


def _count_by_period(column, periods: list[Period]) -> dict[int, int]:
    # The period index is computed in a subquery and grouped outside it: PostgreSQL would not see
    # a CASE with bound parameters in GROUP BY as the same expression as in the select list.
    index = sa.case(
        *[(sa.and_(column >= p.start, column < p.end), i) for i, p in enumerate(periods)],
        else_=-1,
    ).label("period")
    inner = sa.select(index).where(column >= periods[0].start, column < periods[-1].end).subquery()
    return {
        int(i): int(n)
        for i, n in db.session.execute(
            sa.select(inner.c.period, sa.func.count()).group_by(inner.c.period)
        )
    }


def trend_by_quarter(today: date, count: int = 8) -> list[QuarterCount]:
    """Differences raised and closed in each of the last ``count`` quarters."""
    quarters = quarters_up_to(today, count)
    raised = _count_by_period(Difference.raised_at, quarters)
    closed = _count_by_period(Difference.closed_at, quarters)
    return [
        QuarterCount(quarter_label(q), raised.get(i, 0), closed.get(i, 0))
        for i, q in enumerate(quarters)
    ]


@dataclass(frozen=True)
class FailedNotification:
    reference: str
    recipient: str
    subject: str
    created_at: datetime
    attempts: int


def notification_failures(limit: int = 10) -> tuple[int, list[FailedNotification]]:
    """How many notifications could not be emailed, and the latest of them."""
    failed = Notification.email_status == EmailStatus.FAILED
    total = db.session.scalar(sa.select(sa.func.count(Notification.id)).where(failed))
    latest = [
        FailedNotification(*row)
        for row in db.session.execute(
            sa.select(
                Difference.reference,
                User.name,
                Notification.subject,
                Notification.created_at,
                Notification.attempts,
            )
            .join(Difference, Difference.id == Notification.difference_id)
            .join(User, User.id == Notification.recipient_id)
            .where(failed)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    ]
    return int(total), latest


@dataclass(frozen=True)
class Note:
    reference: str
    category: Category
    author: str
    created_at: datetime
    text: str


def learning_notes(
    period: Period | None = None, categories: list[Category] | None = None, limit: int | None = None
) -> list[Note]:
    """Learning notes written in the period (newest first), optionally only for some themes."""
    query = (
        sa.select(
            Difference.reference,
            Difference.category,
            User.name,
            LearningNote.created_at,
            LearningNote.text,
        )
        .join(Difference, Difference.id == LearningNote.difference_id)
        .join(User, User.id == LearningNote.author_id)
        .where(_within(LearningNote.created_at, period))
        .order_by(LearningNote.created_at.desc(), LearningNote.id.desc())
    )
    if categories is not None:
        query = query.where(Difference.category.in_(categories))
    if limit is not None:
        query = query.limit(limit)
    return [Note(*row) for row in db.session.execute(query)]


@dataclass(frozen=True)
class RecurringTheme:
    category: Category
    count: int
    notes: list[Note]


def recurring_themes(period: Period | None = None, top: int = 5) -> list[RecurringTheme]:
    """The themes raised more than once in the period, most first, with their learning notes."""
    recurring = [(c, n) for c, n in themes(period) if n > 1][:top]
    notes = learning_notes(period, [c for c, _ in recurring]) if recurring else []
    return [
        RecurringTheme(c, n, [note for note in notes if note.category == c]) for c, n in recurring
    ]


@dataclass(frozen=True)
class Totals:
    raised: int
    urgent: int
    closed: int
    resolved: int
    withdrawn: int
    open_now: int  # of those raised in the period (or at all), still open


def totals(period: Period | None = None) -> Totals:
    raised, urgent, open_now = db.session.execute(
        sa.select(
            sa.func.count(Difference.id),
            _count_where(Difference.urgent.is_(True)),
            _count_where(Difference.state.in_(OPEN_STATES)),
        ).where(_within(Difference.raised_at, period))
    ).one()
    resolved, withdrawn = db.session.execute(
        sa.select(
            _count_where(Difference.state == State.RESOLVED),
            _count_where(Difference.state == State.WITHDRAWN),
        ).where(_within(Difference.closed_at, period))
    ).one()
    return Totals(
        int(raised),
        int(urgent),
        int(resolved) + int(withdrawn),
        int(resolved),
        int(withdrawn),
        int(open_now),
    )


@dataclass(frozen=True)
class Dashboard:
    open_by_stage: list[OpenStage]
    totals: Totals
    resolution: ResolutionTime
    closed_by_stage: list[ClosedAtStage]
    outcomes: list[tuple[str, int]]
    themes: list[tuple[Category, int]]
    pairs: list[AgencyPair]
    agencies: list[AgencyActivity]
    trend: list[QuarterCount]
    failures: int
    latest_failures: list[FailedNotification]
    recurring: list[RecurringTheme]

    @property
    def open(self) -> int:
        return sum(s.open for s in self.open_by_stage)

    @property
    def overdue(self) -> int:
        return sum(s.overdue for s in self.open_by_stage)

    @property
    def urgent_open(self) -> int:
        return sum(s.urgent for s in self.open_by_stage)

    @property
    def awaiting_raiser(self) -> int:
        return sum(s.awaiting_raiser for s in self.open_by_stage)


def dashboard(now: datetime) -> Dashboard:
    """Every figure of product.md §7: open ones as they stand now, the rest over all time."""
    failures, latest = notification_failures()
    return Dashboard(
        open_by_stage=open_by_stage(now),
        totals=totals(),
        resolution=resolution_time(),
        closed_by_stage=closed_by_stage(),
        outcomes=outcomes(),
        themes=themes(),
        pairs=agency_pairs(),
        agencies=agencies_by_raising(),
        trend=trend_by_quarter(calendar.to_local(now).date()),
        failures=failures,
        latest_failures=latest,
        recurring=recurring_themes(),
    )


@dataclass(frozen=True)
class Report:
    period: Period
    totals: Totals
    resolution: ResolutionTime
    closed_by_stage: list[ClosedAtStage]
    outcomes: list[tuple[str, int]]
    themes: list[tuple[Category, int]]
    pairs: list[AgencyPair]
    agencies: list[AgencyActivity]
    recurring: list[RecurringTheme]
    notes: list[Note] = field(default_factory=list)


def report(period: Period) -> Report:
    """The periodic report: raised in the period (themes, pairs), closed in it (outcomes, stage,
    time to resolution), and the learning notes written in it."""
    return Report(
        period=period,
        totals=totals(period),
        resolution=resolution_time(period),
        closed_by_stage=closed_by_stage(period),
        outcomes=outcomes(period),
        themes=themes(period),
        pairs=agency_pairs(period),
        agencies=agencies_by_raising(period),
        recurring=recurring_themes(period),
        notes=list(reversed(learning_notes(period))),
    )


def _safe_cell(value) -> str:
    """A spreadsheet must not run a cell as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_line(writer_buffer: io.StringIO, writer, cells) -> str:
    writer.writerow([_safe_cell(c) for c in cells])
    line = writer_buffer.getvalue()
    writer_buffer.seek(0)
    writer_buffer.truncate()
    return line


def report_csv(r: Report) -> Iterator[str]:
    """The report as CSV lines: section, item, value, detail."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(*cells):
        return _csv_line(buffer, writer, cells)

    yield line("Section", "Item", "Value", "Detail")
    yield line("Period", "From", r.period.first.isoformat(), "")
    yield line("Period", "To", r.period.last.isoformat(), "")
    t = r.totals
    for item, value in (
        ("Differences raised", t.raised),
        ("Raised as urgent", t.urgent),
        ("Raised in the period and still open", t.open_now),
        ("Differences closed", t.closed),
        ("Resolved", t.resolved),
        ("Withdrawn", t.withdrawn),
    ):
        yield line("Figures", item, value, "")
    res = r.resolution
    for item, value in (
        ("Differences resolved", res.count),
        ("Average", res.average),
        ("Median", res.median),
        ("Shortest", res.shortest),
        ("Longest", res.longest),
    ):
        yield line("Time to resolution (working days)", item, "" if value is None else value, "")
    for label, count in r.outcomes:
        yield line("Outcomes", label, count, "")
    for s in r.closed_by_stage:
        yield line("Stage at which closed", f"{s.level}. {s.name}", s.resolved, "resolved")
        yield line("Stage at which closed", f"{s.level}. {s.name}", s.withdrawn, "withdrawn")
    for category, count in r.themes:
        yield line("Themes", category.label, count, "")
    for pair in r.pairs:
        yield line("Agency pairs", f"{pair.raising} raised with {pair.receiving}", pair.count, "")
    for agency in r.agencies:
        yield line("Agencies", agency.name, agency.raised, f"raised; {agency.received} received")
    for theme in r.recurring:
        yield line("Themes that recur", theme.category.label, theme.count, "")
    for note in r.notes:
        yield line(
            "Learning notes",
            f"{note.reference} ({note.category.label})",
            note.text,
            f"{note.author}, {calendar.to_local(note.created_at).date().isoformat()}",
        )


# --- The unresolved list ------------------------------------------------------------------------


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
        "stage": (Difference.stage_level.desc(), awaiting_raiser_last, Stage.deadline),
    }[sort if sort in SORTS else "deadline"]


def _unresolved_where(f: UnresolvedFilters, now: datetime) -> list:
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
    if f.overdue:
        where.append(_is_overdue(now))
    if f.min_age_days is not None:
        # Raised on a local date at least that many days before today, as the list shows ages.
        today = calendar.to_local(now).date()
        where.append(
            Difference.raised_at < _local_midnight(today - timedelta(days=f.min_age_days - 1))
        )
    return where


def unresolved_statement(f: UnresolvedFilters, now: datetime):
    """The open differences matching ``f``, sorted: one statement for the page and the CSV."""
    raising, receiving = aliased(Agency), aliased(Agency)
    return (
        sa.select(
            Difference.reference,
            Difference.raised_at,
            raising.name.label("raising"),
            receiving.name.label("receiving"),
            Difference.category,
            Difference.stage_level,
            Stage.name.label("stage_name"),
            Difference.state,
            Difference.urgent,
            Stage.deadline,
        )
        .join(Stage, _open_stage_on())
        .join(raising, raising.id == Difference.raising_agency_id)
        .join(receiving, receiving.id == Difference.receiving_agency_id)
        .where(*_unresolved_where(f, now))
        .order_by(*_order_by(f.sort))
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
        is_overdue=awaiting and row.deadline < now,
        days_open=(calendar.to_local(now).date() - calendar.to_local(row.raised_at).date()).days,
    )


def count_unresolved(f: UnresolvedFilters, now: datetime) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Difference.id))
        .join(Stage, _open_stage_on())
        .where(*_unresolved_where(f, now))
    )


def unresolved_page(f: UnresolvedFilters, now: datetime, page: int, per_page: int):
    """One page of the list (count_unresolved says how many match in all)."""
    rows = db.session.execute(
        unresolved_statement(f, now).offset((page - 1) * per_page).limit(per_page)
    )
    return [_unresolved_row(row, now) for row in rows]


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


def _local_minute(value: datetime | None) -> str:
    return calendar.to_local(value).strftime("%Y-%m-%d %H:%M") if value else ""


def unresolved_csv(f: UnresolvedFilters, now: datetime, batch_size: int = 100) -> Iterator[str]:
    """The filtered, sorted list as CSV, streamed: rows are fetched ``batch_size`` at a time
    (a server-side cursor on PostgreSQL), so memory does not grow with the number of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield _csv_line(buffer, writer, CSV_HEADER)
    result = db.session.execute(
        unresolved_statement(f, now), execution_options={"yield_per": batch_size}
    )
    try:
        for chunk in result.partitions():
            for raw in chunk:
                r = _unresolved_row(raw, now)
                writer.writerow(
                    [
                        _safe_cell(cell)
                        for cell in (
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
                            _local_minute(r.deadline),
                        )
                    ]
                )
            text = buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            yield text
    finally:
        result.close()
