"""The periodic report's follow-through sections (product.md §7): the learning notes of the
period with their recommendation, owner, status and timeliness; each receiving agency's
timeliness and requests for more time; and the impact the partnership wrote. Never commits."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from escalate import calendar, learning, wording
from escalate.calendar import Period
from escalate.extensions import db
from escalate.models import (
    Agency,
    Difference,
    ExtensionRequest,
    ExtensionStatus,
    LearningNote,
    LearningStatus,
    ReportImpact,
    Stage,
    User,
)
from escalate.queries import chronology as agency_records
from escalate.queries import figures, kept
from escalate.queries.spreadsheets import csv_line


def _count_where(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _within(column, period: Period):
    return sa.and_(column >= period.start, column < period.end)


@dataclass(frozen=True)
class PeriodNote:
    reference: str
    text: str
    recommendation: str
    owner: str  # "Person, Agency", the agency, or "Not set"
    due_on: date | None
    status: LearningStatus
    timeliness: str


def period_notes(period: Period, today: date) -> list[PeriodNote]:
    """The learning notes written in the period, oldest first, with how timely each is."""
    owner = aliased(User)
    rows = db.session.execute(
        sa.select(
            Difference.reference,
            LearningNote.text,
            LearningNote.recommendation,
            Agency.name,
            owner.name,
            LearningNote.due_on,
            LearningNote.status,
            LearningNote.status_changed_at,
        )
        .join(Difference, Difference.id == LearningNote.difference_id)
        .outerjoin(Agency, Agency.id == LearningNote.owner_agency_id)
        .outerjoin(owner, owner.id == LearningNote.owner_id)
        .where(_within(LearningNote.created_at, period))
        .order_by(LearningNote.created_at, LearningNote.id)
    )
    notes = []
    for reference, text, recommendation, agency, person, due_on, status, changed_at in rows:
        status = LearningStatus(status)
        done_on = calendar.to_local(changed_at).date() if changed_at else None
        notes.append(
            PeriodNote(
                reference=reference,
                text=text,
                recommendation=recommendation or "",
                owner=(f"{person}, {agency}" if person else agency) if agency else wording.NOT_SET,
                due_on=due_on,
                status=status,
                timeliness=learning.timeliness(status, due_on, done_on, today),
            )
        )
    return notes


@dataclass(frozen=True)
class AgencyTimeliness:
    agency: str
    due: int  # responses due in the period (not withdrawn or closed before their deadline)
    on_time: int  # responded by the deadline (as extended, if more time was agreed)
    late: int  # responded after the deadline, or not at all
    extensions_requested: int  # requests for more time made in the period
    extensions_agreed: int

    @property
    def share_on_time(self) -> str:
        return f"{round(100 * self.on_time / self.due)}%" if self.due else "None due"


def timeliness_by_agency(period: Period, now: datetime) -> list[AgencyTimeliness]:
    """For each receiving agency: the stages whose response was due in the period (and whose
    deadline has come), how many were answered by it, and the requests for more time made in
    the period and how many were agreed. Two grouped queries."""
    due = sa.and_(
        _within(Stage.deadline, period),
        sa.or_(
            Stage.responded_at.is_not(None),
            sa.and_(
                Stage.deadline <= now,
                sa.or_(Stage.closed_at.is_(None), Stage.closed_at >= Stage.deadline),
            ),
        ),
    )
    on_time = sa.and_(Stage.responded_at.is_not(None), Stage.responded_at <= Stage.deadline)
    responses = db.session.execute(
        sa.select(Agency.name, sa.func.count(Stage.id), _count_where(on_time))
        .join(Difference, Difference.id == Stage.difference_id)
        .join(Agency, Agency.id == Difference.receiving_agency_id)
        .where(due)
        .group_by(Agency.id, Agency.name)
    ).all()
    extensions = db.session.execute(
        sa.select(
            Agency.name,
            sa.func.count(ExtensionRequest.id),
            _count_where(ExtensionRequest.status == ExtensionStatus.AGREED),
        )
        .join(Stage, Stage.id == ExtensionRequest.stage_id)
        .join(Difference, Difference.id == Stage.difference_id)
        .join(Agency, Agency.id == Difference.receiving_agency_id)
        .where(_within(ExtensionRequest.requested_at, period))
        .group_by(Agency.id, Agency.name)
    ).all()
    counts: dict[str, list[int]] = {}
    for name, due_count, kept_count in responses:
        counts.setdefault(name, [0, 0, 0, 0])[:2] = [int(due_count), int(kept_count)]
    for name, asked, agreed in extensions:
        counts.setdefault(name, [0, 0, 0, 0])[2:] = [int(asked), int(agreed)]
    return [
        AgencyTimeliness(name, d, k, d - k, asked, agreed)
        for name, (d, k, asked, agreed) in sorted(counts.items())
    ]


@dataclass(frozen=True)
class Impact:
    text: str
    written_by: str
    written_at: datetime


def impact(period: Period) -> Impact | None:
    """What the partnership wrote about the period's impact, and who last wrote it, when."""
    row = db.session.execute(
        sa.select(ReportImpact.text, User.name, ReportImpact.written_at)
        .join(User, User.id == ReportImpact.written_by_id)
        .where(ReportImpact.period_start == period.first, ReportImpact.period_end == period.last)
    ).first()
    return Impact(*row) if row else None


@dataclass(frozen=True)
class FollowThrough:
    notes: list[PeriodNote]
    timeliness: list[AgencyTimeliness]
    impact: Impact | None


def kept_follow_through(
    period: Period, now: datetime
) -> tuple[list[PeriodNote], list[AgencyTimeliness]]:
    """The period's learning notes and timeliness. They read every stage and request for more
    time due in the period, so they are kept as the report's figures are (``kept.cached``)."""
    today = calendar.to_local(now).date()
    return kept.cached(
        "report_follow_through",
        lambda: (period_notes(period, today), timeliness_by_agency(period, now)),
        now,
        period,
    )


def sections(period: Period, now: datetime) -> FollowThrough:
    """The report's follow-through: the notes and timeliness as kept; the impact is one row,
    read each time."""
    notes, timeliness = kept_follow_through(period, now)
    return FollowThrough(notes=notes, timeliness=timeliness, impact=impact(period))


def report_csv(period: Period, now: datetime) -> Iterator[str]:
    """The whole report as CSV lines (the page's download and `flask escalate report`): the
    figures, the outcomes recorded on the agencies' own systems, then the follow-through."""
    follow = sections(period, now)
    yield from figures.report_csv(figures.report(period))
    yield from agency_records.shares_csv(agency_records.shares(period))
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(*cells):
        return csv_line(buffer, writer, cells)

    for n in follow.notes:
        due = n.due_on.isoformat() if n.due_on else wording.NOT_SET
        yield line(
            "Recommendations",
            n.reference,
            n.recommendation or wording.NOT_SET,
            f"Owner: {n.owner}; due: {due}; status: {n.status.label}; {n.timeliness}",
        )
    for a in follow.timeliness:
        item = a.agency
        yield line("Timeliness by receiving agency", item, a.due, "responses due")
        yield line("Timeliness by receiving agency", item, a.on_time, "on time")
        yield line("Timeliness by receiving agency", item, a.late, "late or missed")
        yield line("Timeliness by receiving agency", item, a.share_on_time, "share on time")
        yield line(
            "Timeliness by receiving agency", item, a.extensions_requested, "more time asked"
        )
        yield line("Timeliness by receiving agency", item, a.extensions_agreed, "more time agreed")
    if follow.impact is not None:
        i = follow.impact
        when = calendar.to_local(i.written_at).date().isoformat()
        yield line("Impact", "The partnership's account", i.text, f"{i.written_by}, {when}")
