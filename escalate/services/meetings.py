"""Professionals' meetings (issue: follow-through): arranging one (or, at the final stage,
mediation by the independent chair), recording its outcome and its minutes, the sweep's
reminders to the person who arranged it, and the partnership's policy for the minutes' due date.
Each public function is one transaction (the sweep's: one a reminder)."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from escalate import calendar, meetings, wording
from escalate.extensions import db
from escalate.models import (
    Difference,
    EventKind,
    MeetingKind,
    ProfessionalsMeeting,
    Side,
    User,
)
from escalate.queries.conditions import visible_to
from escalate.queries.differences import actor_for, situation
from escalate.queries.setup import partnership_settings, working_calendar
from escalate.services._records import (
    commit_or_stale,
    lock_difference,
    message_facts,
    notify_people,
    notify_without_event,
    record_admin_edit,
    record_event,
    require_admin,
    settings_record,
    stale_on_conflict,
)
from escalate.workflow import (
    NotFound,
    StaleDifference,
    WrongState,
    check_not_anonymised,
    require_rationale,
    require_text,
)


def _lock(user: User, difference_id: int, version=None) -> Difference:
    difference = lock_difference(Difference.id == difference_id, visible_to(user))
    if difference is None:
        raise NotFound("Difference not found.")
    if version is not None:
        try:
            shown = int(version)
        except (TypeError, ValueError):
            raise StaleDifference() from None
        if shown != difference.version:
            raise StaleDifference()
    return difference


def _facts(difference, user, meeting: ProfessionalsMeeting) -> dict:
    return message_facts(difference, difference.open_stage, user) | {
        "meeting_kind": meeting.kind.value,
        "meets_on": wording.day_and_date(meeting.meets_on),
        "chair": meeting.chair,
        "invited": meeting.invited,
        "minutes_due_on": wording.day_and_date(meeting.minutes_due_on),
    }


@stale_on_conflict
def arrange_meeting(
    user: User, difference_id: int, version=None, *, meets_on, invited, chair, kind=None, now
) -> ProfessionalsMeeting:
    """Record that a professionals' meeting (or mediation) is arranged: its date, who is invited
    and who chairs it. The raiser and the current stage's responders and leads are told."""
    difference = _lock(user, difference_id, version)
    state = situation(difference, now)
    chosen = meetings.check_arrange(actor_for(user), state, kind)
    today = calendar.to_local(now).date()
    meets_on = meetings.check_meeting_date(meets_on, today=today)
    chair = meetings.check_chair(chair)
    invited = require_text(invited, field="invited", what="who is invited")
    cal = working_calendar()
    meeting = ProfessionalsMeeting(
        difference_id=difference.id,
        stage_level=difference.stage_level,
        kind=chosen,
        arranged_by_id=user.id,
        arranged_at=now,
        meets_on=meets_on,
        invited=invited,
        chair=chair,
        minutes_due_on=meetings.minutes_due_on(
            meets_on, partnership_settings().minutes_working_days, cal.nation, cal.closures
        ),
    )
    db.session.add(meeting)
    db.session.flush()
    data = {
        "meeting": meeting.id,
        "kind": chosen.value,
        "meets_on": meets_on.isoformat(),
        "minutes_due_on": meeting.minutes_due_on.isoformat(),
        "chair": chair,
        "invited": invited,
    }
    event = record_event(difference, EventKind.MEETING_ARRANGED, user, now, data)
    stage = difference.open_stage
    told = [difference.raiser]
    if stage is not None:
        told += stage.people(Side.RESPONDER) + stage.people(Side.LEAD)
    facts_ = _facts(difference, user, meeting)
    notify_people(
        difference,
        event,
        now,
        [person for person in told if person.id != user.id],
        "meeting_arranged",
        "involved",
        facts_,
    )
    commit_or_stale()
    return meeting


def _meeting_for_change(user: User, difference_id: int, meeting_id, now):
    difference = _lock(user, difference_id)
    meeting = db.session.scalar(
        sa.select(ProfessionalsMeeting)
        .where(
            ProfessionalsMeeting.id == _whole_number(meeting_id),
            ProfessionalsMeeting.difference_id == difference.id,
        )
        .execution_options(populate_existing=True)
    )
    if meeting is None:
        raise NotFound("Meeting not found.")
    meetings.check_record(actor_for(user), situation(difference, now), meeting.arranged_by_id)
    check_not_anonymised(difference.anonymised_at is not None)
    return difference, meeting


def _whole_number(value) -> int:
    text = str(value if value is not None else "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else 0


@stale_on_conflict
def record_meeting_outcome(
    user: User,
    difference_id: int,
    meeting_id,
    *,
    attendees,
    agreed,
    minutes_recorded_on=None,
    now: datetime,
) -> ProfessionalsMeeting:
    """Record who attended and what was agreed (and, if they are, the day the minutes were
    recorded). Also once the difference has closed. The raiser is told."""
    difference, meeting = _meeting_for_change(user, difference_id, meeting_id, now)
    today = calendar.to_local(now).date()
    meetings.check_outcome_open(
        meeting.meets_on, outcome_recorded=meeting.outcome_recorded_at is not None, today=today
    )
    attendees = require_text(attendees, field="attendees", what="who attended")
    agreed = require_rationale(agreed, field="agreed", what="what was agreed")
    if minutes_recorded_on is not None:
        if meeting.minutes_recorded_on is not None:
            raise WrongState("This meeting's minutes have already been recorded.")
        minutes_recorded_on = meetings.check_minutes_date(
            minutes_recorded_on, meets_on=meeting.meets_on, today=today
        )
        meeting.minutes_recorded_on = minutes_recorded_on
    meeting.outcome_recorded_at = now
    meeting.outcome_by_id = user.id
    meeting.attendees = attendees
    meeting.agreed = agreed
    data = {
        "meeting": meeting.id,
        "kind": meeting.kind.value,
        "meets_on": meeting.meets_on.isoformat(),
        "attendees": attendees,
        "agreed": agreed,
    }
    if minutes_recorded_on is not None:
        data["minutes_recorded_on"] = minutes_recorded_on.isoformat()
    event = record_event(difference, EventKind.MEETING_HELD, user, now, data)
    if difference.raiser_id != user.id:
        facts_ = _facts(difference, user, meeting) | {"attendees": attendees, "agreed": agreed}
        notify_people(difference, event, now, [difference.raiser], "meeting_held", "raiser", facts_)
    commit_or_stale()
    return meeting


@stale_on_conflict
def record_minutes(
    user: User, difference_id: int, meeting_id, *, minutes_recorded_on, now: datetime
) -> ProfessionalsMeeting:
    """Record the day the meeting's minutes were recorded (also once the difference closed)."""
    difference, meeting = _meeting_for_change(user, difference_id, meeting_id, now)
    today = calendar.to_local(now).date()
    meetings.check_minutes_open(
        meeting.meets_on, minutes_recorded=meeting.minutes_recorded_on is not None, today=today
    )
    recorded_on = meetings.check_minutes_date(
        minutes_recorded_on, meets_on=meeting.meets_on, today=today
    )
    meeting.minutes_recorded_on = recorded_on
    data = {
        "meeting": meeting.id,
        "kind": meeting.kind.value,
        "meets_on": meeting.meets_on.isoformat(),
        "minutes_recorded_on": recorded_on.isoformat(),
        "minutes_due_on": meeting.minutes_due_on.isoformat(),
    }
    record_event(difference, EventKind.MINUTES_RECORDED, user, now, data, deadline=None)
    commit_or_stale()
    return meeting


# --- The policy --------------------------------------------------------------------------------


def change_minutes_working_days(actor: User | None, days, now) -> bool:
    """How many working days after a meeting its minutes are due (meetings arranged after the
    change). Recorded in the record of changes."""
    require_admin(actor)
    days = meetings.check_minutes_working_days(days)
    settings = partnership_settings()
    before = settings_record(settings) | {"minutes_working_days": settings.minutes_working_days}
    settings.minutes_working_days = days
    changed = record_admin_edit(
        actor,
        now,
        entity="stage policy",
        entity_id=None,
        summary="Working days to record a professionals' meeting's minutes changed",
        before=before,
        after=settings_record(settings) | {"minutes_working_days": days},
    )
    db.session.commit()
    return changed


# --- The sweep's reminders ---------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingReminder:
    """One reminder the sweep sent (or, in a dry run, would send) to a meeting's arranger."""

    reference: str
    what: str  # "outcome" or "minutes"


def due_reminders(now: datetime) -> list[tuple[int, str]]:
    """(meeting id, "outcome" or "minutes") of every reminder due at ``now``: two range reads on
    the partial indexes of meetings still waiting for their outcome or minutes."""
    cal = working_calendar()
    local = calendar.to_local(now)
    outcome_before = meetings.outcome_reminders_before(
        local.date(),
        local.time(),
        start_of_day=cal.start_of_day,
        nation=cal.nation,
        closures=cal.closures,
    )
    minutes_through = meetings.minutes_reminders_through(
        local.date(), local.time(), start_of_day=cal.start_of_day
    )
    table = ProfessionalsMeeting
    outcomes = db.session.scalars(
        sa.select(table.id)
        .where(
            table.outcome_recorded_at.is_(None),
            table.outcome_reminded_at.is_(None),
            table.meets_on < outcome_before,
        )
        .order_by(table.meets_on, table.id)
    ).all()
    minutes = db.session.scalars(
        sa.select(table.id)
        .where(
            table.minutes_recorded_on.is_(None),
            table.minutes_reminded_at.is_(None),
            table.minutes_due_on <= minutes_through,
        )
        .order_by(table.minutes_due_on, table.id)
    ).all()
    return [(i, "outcome") for i in outcomes] + [(i, "minutes") for i in minutes]


def send_reminder(
    meeting_id: int, what: str, now: datetime, *, act: bool
) -> MeetingReminder | None:
    """Claim one reminder with a conditional UPDATE (a second sweep, or a second machine, finds
    nothing left to claim) and write it to the outbox. None when already claimed or no longer
    due. The caller commits or rolls back."""
    table = ProfessionalsMeeting.__table__
    reminded, recorded = (
        (table.c.outcome_reminded_at, table.c.outcome_recorded_at)
        if what == "outcome"
        else (table.c.minutes_reminded_at, table.c.minutes_recorded_on)
    )
    if act:
        claimed = db.session.execute(
            sa.update(table)
            .where(table.c.id == meeting_id, reminded.is_(None), recorded.is_(None))
            .values({reminded.name: now})
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            return None
    meeting = db.session.get(ProfessionalsMeeting, meeting_id, populate_existing=True)
    difference = meeting.difference
    if act:
        facts_ = _facts(difference, None, meeting)
        notify_without_event(
            difference,
            now,
            [meeting.arranged_by],
            f"meeting_{what}_reminder",
            "arranger",
            facts_,
        )
    return MeetingReminder(difference.reference, what)


def kinds_offered(kinds: list[MeetingKind]) -> list[tuple[str, str]]:
    return [(kind.value, kind.label) for kind in kinds]
