"""The dashboard's and the periodic report's figures (product.md §7), every one an aggregate query.
Never commits.
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from escalate import calendar, wording
from escalate.calendar import Period, quarter_label, quarters_up_to
from escalate.extensions import db
from escalate.models import (
    AGENCY_ROLES,
    Agency,
    Category,
    Difference,
    EmailStatus,
    LearningNote,
    Notification,
    PolicyStage,
    Stage,
    State,
    User,
)
from escalate.queries.conditions import OPEN_STATES, open_stage_on, overdue
from escalate.queries.spreadsheets import csv_line


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
            _count_where(overdue(now)),
            _count_where(Difference.state == State.AWAITING_RAISER),
            _count_where(Difference.urgent.is_(True)),
        )
        .join(Stage, open_stage_on())
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


def outcomes(period: Period | None = None) -> list[tuple[str, int]]:
    """Closed differences by outcome, in a fixed order (every outcome listed, even at 0)."""
    counted = dict(
        db.session.execute(
            sa.select(Difference.outcome, sa.func.count(Difference.id))
            .where(
                Difference.state.in_((State.RESOLVED, State.WITHDRAWN, State.CLOSED_NO_REPLY))
            )
            .where(_within(Difference.closed_at, period))
            .group_by(Difference.outcome)
        ).all()
    )
    return [
        (wording.outcome_label(key), int(counted.get(key, 0))) for key in wording.CLOSED_OUTCOMES
    ]


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
    """Who raises differences with whom, most first. Counted by the agencies' ids first, from an
    index of the differences (not their rows), then named."""
    raising, receiving = aliased(Agency), aliased(Agency)
    counted = (
        sa.select(
            Difference.raising_agency_id.label("raising_id"),
            Difference.receiving_agency_id.label("receiving_id"),
            sa.func.count().label("n"),
        )
        .where(_within(Difference.raised_at, period))
        .group_by(Difference.raising_agency_id, Difference.receiving_agency_id)
        .subquery()
    )
    return [
        AgencyPair(r, s, int(n))
        for r, s, n in db.session.execute(
            sa.select(raising.name, receiving.name, counted.c.n)
            .join(raising, raising.id == counted.c.raising_id)
            .join(receiving, receiving.id == counted.c.receiving_id)
            .order_by(counted.c.n.desc(), raising.name, receiving.name)
        )
    ]


@dataclass(frozen=True)
class AgencyActivity:
    name: str
    raised: int
    received: int


def agencies_by_raising(period: Period | None = None) -> list[AgencyActivity]:
    """Every agency whose staff could raise a difference, those that raise fewest first. Each
    side counted by agency in one pass over an index of the differences (not their rows)."""

    def counted(column):
        return (
            sa.select(column.label("agency_id"), sa.func.count().label("n"))
            .where(_within(Difference.raised_at, period))
            .group_by(column)
            .subquery()
        )

    raised_by, received_by = counted(Difference.raising_agency_id), counted(
        Difference.receiving_agency_id
    )
    raised = sa.func.coalesce(raised_by.c.n, 0)
    received = sa.func.coalesce(received_by.c.n, 0)
    has_staff = (
        sa.select(User.id).where(User.agency_id == Agency.id, User.role.in_(AGENCY_ROLES)).exists()
    )
    return [
        AgencyActivity(name, int(r), int(s))
        for name, r, s in db.session.execute(
            sa.select(Agency.name, raised, received)
            .outerjoin(raised_by, raised_by.c.agency_id == Agency.id)
            .outerjoin(received_by, received_by.c.agency_id == Agency.id)
            .where(has_staff)
            .order_by(raised, Agency.name)
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
    """How many notifications about differences could not be emailed, and the latest of them.
    (A set-password link that could not be emailed is the administrators' to deal with.)"""
    failed = sa.and_(
        Notification.email_status == EmailStatus.FAILED, Notification.difference_id.is_not(None)
    )
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
    notes: list[Note]  # the newest few
    note_count: int = 0  # all the theme's notes in the period


def recurring_themes(
    period: Period | None = None, top: int = 5, counted: list | None = None
) -> list[RecurringTheme]:
    """The themes raised more than once in the period, most first, with their learning notes
    (``counted``: the period's themes, if already counted)."""
    counted = themes(period) if counted is None else counted
    recurring = [(c, n) for c, n in counted if n > 1][:top]
    notes = learning_notes(period, [c for c, _ in recurring]) if recurring else []
    themed = {c: [note for note in notes if note.category == c] for c, _ in recurring}
    return [
        RecurringTheme(c, n, themed[c][:NOTES_PER_THEME], len(themed[c])) for c, n in recurring
    ]


# Learning notes shown under each recurring theme, newest first (the report lists every one).
NOTES_PER_THEME = 3


@dataclass(frozen=True)
class Totals:
    raised: int
    urgent: int
    closed: int
    resolved: int
    withdrawn: int
    open_now: int  # of those raised in the period (or at all), still open
    closed_no_reply: int = 0  # closed, neither resolved nor withdrawn: nobody answered


def totals(period: Period | None = None) -> Totals:
    raised, urgent, open_now = db.session.execute(
        sa.select(
            sa.func.count(Difference.id),
            _count_where(Difference.urgent.is_(True)),
            _count_where(Difference.state.in_(OPEN_STATES)),
        ).where(_within(Difference.raised_at, period))
    ).one()
    resolved, withdrawn, no_reply = db.session.execute(
        sa.select(
            _count_where(Difference.state == State.RESOLVED),
            _count_where(Difference.state == State.WITHDRAWN),
            _count_where(Difference.state == State.CLOSED_NO_REPLY),
        ).where(_within(Difference.closed_at, period))
    ).one()
    return Totals(
        int(raised),
        int(urgent),
        int(resolved) + int(withdrawn) + int(no_reply),
        int(resolved),
        int(withdrawn),
        int(open_now),
        int(no_reply),
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
    counted = themes()
    return Dashboard(
        open_by_stage=open_by_stage(now),
        totals=totals(),
        resolution=resolution_time(),
        closed_by_stage=closed_by_stage(),
        outcomes=outcomes(),
        themes=counted,
        pairs=agency_pairs(),
        agencies=agencies_by_raising(),
        trend=trend_by_quarter(calendar.to_local(now).date()),
        failures=failures,
        latest_failures=latest,
        recurring=recurring_themes(counted=counted),
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
    counted = themes(period)
    return Report(
        period=period,
        totals=totals(period),
        resolution=resolution_time(period),
        closed_by_stage=closed_by_stage(period),
        outcomes=outcomes(period),
        themes=counted,
        pairs=agency_pairs(period),
        agencies=agencies_by_raising(period),
        recurring=recurring_themes(period, counted=counted),
        notes=list(reversed(learning_notes(period))),
    )


def report_csv(r: Report) -> Iterator[str]:
    """The report as CSV lines: section, item, value, detail."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(*cells):
        return csv_line(buffer, writer, cells)

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
        (wording.NO_REPLY_LABEL, t.closed_no_reply),
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


