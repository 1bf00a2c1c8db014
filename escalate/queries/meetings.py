"""Reading professionals' meetings (follow-through): a difference's meetings for its page (one
statement), one meeting for its action pages, and the meetings a person arranged that wait for
their outcome or minutes ("Waiting for you"). Never commits."""

import functools
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from escalate import calendar, meetings, workflow
from escalate.extensions import db
from escalate.models import Difference, ProfessionalsMeeting, User
from escalate.queries import conditions
from escalate.workflow import NotFound

# "Waiting for you" shows at most this many meetings to follow up (a person arranges few).
FOLLOW_UP_LIMIT = 50


@dataclass(frozen=True)
class MeetingFacts:
    """One meeting as a difference's page shows it to one person."""

    meeting: ProfessionalsMeeting
    outcome_due: bool  # its day has passed and no outcome is recorded
    minutes_overdue: bool
    may_record_outcome: bool
    may_record_minutes: bool


@dataclass(frozen=True)
class PageMeetings:
    items: list[MeetingFacts]
    may_arrange: bool


# Built once, with the difference bound: its page asks it on every view.
_OF_DIFFERENCE = (
    sa.select(ProfessionalsMeeting)
    .where(ProfessionalsMeeting.difference_id == sa.bindparam("difference"))
    .order_by(ProfessionalsMeeting.meets_on, ProfessionalsMeeting.id)
    .options(joinedload(ProfessionalsMeeting.arranged_by))
)


def for_page(user: User, difference: Difference, state: workflow.Situation, now: datetime):
    """The difference's meetings, soonest first, with what ``user`` may record on each: one
    statement (the page's rules use ``state``, which the page already has)."""
    from escalate.queries.differences import actor_for

    rows = db.session.scalars(_OF_DIFFERENCE, {"difference": difference.id}).all()
    actor = actor_for(user)
    today = calendar.to_local(now).date()
    live = difference.anonymised_at is None
    items = []
    for meeting in rows:
        may = live and meetings.may_record(actor, state, meeting.arranged_by_id)
        items.append(
            MeetingFacts(
                meeting=meeting,
                outcome_due=meetings.outcome_due(
                    meeting.meets_on, meeting.outcome_recorded_at is not None, today=today
                ),
                minutes_overdue=meetings.minutes_overdue(
                    meeting.minutes_due_on, meeting.minutes_recorded_on, today=today
                ),
                may_record_outcome=may
                and meeting.outcome_recorded_at is None
                and today >= meeting.meets_on,
                may_record_minutes=may
                and meeting.minutes_recorded_on is None
                and today >= meeting.meets_on,
            )
        )
    return PageMeetings(items=items, may_arrange=meetings.may_arrange(actor, state))


def find_meeting(difference: Difference, meeting_id: int) -> ProfessionalsMeeting:
    """One of the difference's meetings (the difference already found for the person)."""
    meeting = db.session.scalar(
        sa.select(ProfessionalsMeeting).where(
            ProfessionalsMeeting.id == meeting_id,
            ProfessionalsMeeting.difference_id == difference.id,
        )
    )
    if meeting is None:
        raise NotFound("Meeting not found.")
    return meeting


@dataclass(frozen=True)
class FollowUp:
    """A meeting its arranger should follow up, as "Waiting for you" lists it."""

    reference: str
    kind: str
    meets_on: date
    outcome_due: bool
    minutes_due_on: date
    minutes_overdue: bool


@functools.cache
def _to_follow_up(reach: str):
    """``to_follow_up``'s statement for the people of one reach, built once."""
    m = ProfessionalsMeeting
    return (
        sa.select(
            Difference.reference,
            m.kind,
            m.meets_on,
            m.outcome_recorded_at,
            m.minutes_due_on,
            m.minutes_recorded_on,
        )
        .join(Difference, Difference.id == m.difference_id)
        .where(
            m.arranged_by_id == sa.bindparam("person"),
            sa.or_(m.outcome_recorded_at.is_(None), m.minutes_recorded_on.is_(None)),
            sa.or_(m.meets_on < sa.bindparam("today"), m.outcome_recorded_at.is_not(None)),
            Difference.anonymised_at.is_(None),
            conditions.visible_bound(reach),
        )
        .order_by(m.meets_on, m.id)
        .limit(FOLLOW_UP_LIMIT)
    )


def to_follow_up(user: User, now: datetime) -> list[FollowUp]:
    """The meetings ``user`` arranged whose day has passed with no outcome recorded, or whose
    minutes are not recorded once it met (one statement, on the arranger's partial index)."""
    today = calendar.to_local(now).date()
    rows = db.session.execute(
        _to_follow_up(conditions.reach(user)),
        {"person": user.id, "agency": user.agency_id, "today": today},
    ).all()
    return [
        FollowUp(
            reference=row.reference,
            kind=row.kind.label,
            meets_on=row.meets_on,
            outcome_due=row.outcome_recorded_at is None,
            minutes_due_on=row.minutes_due_on,
            minutes_overdue=meetings.minutes_overdue(
                row.minutes_due_on, row.minutes_recorded_on, today=today
            ),
        )
        for row in rows
    ]
