"""Opening, closing and escalating stages, and their reminder schedule: shared by the actions, the
sweep and the administrators' recompute.
"""

from datetime import datetime

import sqlalchemy as sa

from escalate import calendar, deadlines, policy, workflow
from escalate.extensions import db
from escalate.models import (
    Agency,
    Assignment,
    Difference,
    EventKind,
    ExtensionRequest,
    ExtensionStatus,
    Involvement,
    PolicyStage,
    ProposalEnd,
    Role,
    Side,
    Stage,
    StageAlert,
    State,
    User,
)
from escalate.queries.choices import stage_contacts_for
from escalate.queries.setup import WorkingCalendar, working_calendar
from escalate.services._records import (
    alert_partnership,
    message_facts,
    notify_people,
    record_event,
)
from escalate.workflow import (
    InvalidRequest,
)


def policy_stage_at(level: int) -> PolicyStage:
    stage = db.session.scalar(sa.select(PolicyStage).where(PolicyStage.level == level))
    if stage is None:
        raise InvalidRequest(f"The stage policy has no stage {level}.")
    return stage


def final_level() -> int:
    return db.session.scalar(sa.select(sa.func.max(PolicyStage.level)))


def is_final_level(level: int) -> bool:
    return level == final_level()


def alert_partnership_if_senior(difference, stage: Stage, event, now, facts_: dict) -> None:
    """A difference that has reached the senior stage is the partnership's to watch."""
    if policy.is_senior_level(stage.level, final_level()):
        alert_partnership(difference, event, now, "senior_stage", facts_)


def active_or_none(user: User | None) -> User | None:
    return user if user is not None and user.active else None


def pick_for_stage(rule, difference: Difference, level: int, agency_id: int):
    contacts = stage_contacts_for(db.session.get(Agency, agency_id), level)
    partnership = db.session.scalars(
        sa.select(User)
        .where(User.role == Role.PARTNERSHIP, User.active.is_(True))
        .order_by(User.name)
    ).all()
    named = active_or_none(difference.named_professional)
    raiser = active_or_none(difference.raiser)
    return workflow.pick_people(
        rule,
        named=named,
        named_manager=active_or_none(named.line_manager) if named else None,
        raiser=raiser,
        raiser_manager=active_or_none(raiser.line_manager) if raiser else None,
        contacts=contacts,
        partnership=partnership,
    )


def open_stage(
    difference, policy_stage: PolicyStage, now, cal: WorkingCalendar
) -> tuple[Stage, dict]:
    """Open a stage with its deadline and people; also return what its history event records.

    An urgent difference's stage is timed in working hours, and its responder is reminded at
    half the time; any other stage in working days, reminded as the policy says."""
    timescale = policy.timescale(policy_stage, urgent=difference.urgent)
    stage = Stage(
        level=policy_stage.level,
        name=policy_stage.name,
        is_final=is_final_level(policy_stage.level),
        opened_at=now,
        deadline=cal.stage_deadline(now, timescale),
        working_days=timescale.days,
        working_hours=timescale.hours or None,
    )
    stage.remind_at = reminder_for(stage, policy_stage, since=now, cal=cal)
    responders, responders_fell_back = pick_for_stage(
        policy_stage.responder_rule, difference, policy_stage.level, difference.receiving_agency_id
    )
    leads, _ = pick_for_stage(
        policy_stage.lead_rule, difference, policy_stage.level, difference.raising_agency_id
    )
    for user in responders:
        stage.assignments.append(Assignment(user=user, side=Side.RESPONDER))
    for user in leads:
        stage.assignments.append(Assignment(user=user, side=Side.LEAD))
    difference.stages.append(stage)
    difference.stage_level = stage.level
    db.session.flush()
    involve(difference, [u.id for u in (*responders, *leads)])
    record = {
        "stage": stage.name,
        "responders": [u.name for u in responders],
        "leads": [u.name for u in leads],
        "responders_fell_back": responders_fell_back,
    }
    return stage, record


def involve(difference: Difference, user_ids) -> None:
    """Note each person's part in the difference for their own lists, once (the raiser's as
    raised): whoever is named, assigned or reassigned to it keeps it among theirs."""
    wanted = {user_id for user_id in user_ids if user_id is not None}
    known = set(
        db.session.scalars(
            sa.select(Involvement.user_id).where(
                Involvement.difference_id == difference.id, Involvement.user_id.in_(wanted)
            )
        )
    )
    for user_id in sorted(wanted - known):
        db.session.add(
            Involvement(
                user_id=user_id,
                difference_id=difference.id,
                raised=user_id == difference.raiser_id,
                is_open=difference.closed_at is None,
                raised_at=difference.raised_at,
            )
        )


def end_open_proposal(difference, now) -> None:
    """A lead's proposal waiting for the raiser is overtaken once the difference closes or moves
    to another stage: what it proposed no longer fits."""
    proposal = difference.open_proposal
    if proposal is not None:
        proposal.ended_at, proposal.end = now, ProposalEnd.OVERTAKEN


def close_difference(difference, stage, state: State, outcome: str, now) -> None:
    end_open_proposal(difference, now)
    difference.state = state
    difference.outcome = outcome
    difference.closed_at = now
    db.session.execute(
        sa.update(Involvement)
        .where(Involvement.difference_id == difference.id)
        .values(is_open=False)
        .execution_options(synchronize_session=False)
    )
    # Fixed now, in the calendar in force, so reports can aggregate time to resolution in SQL.
    cal = working_calendar()
    difference.resolution_working_days = calendar.working_days_between(
        calendar.to_local(difference.raised_at).date(),
        calendar.to_local(now).date(),
        cal.nation,
        cal.closures,
    )
    if stage is not None:
        stage.closed_at = now
        stop_reminders(stage)


def escalate_to_next_stage(
    difference, stage, actor: User | None, rationale: str, now, *, automatic
) -> Stage:
    stage.closed_at = now
    stop_reminders(stage)
    end_open_proposal(difference, now)
    cal = working_calendar()
    next_stage, opened = open_stage(difference, policy_stage_at(stage.level + 1), now, cal)
    difference.state = State.AWAITING_RESPONSE
    data = {"rationale": rationale, "from_stage": stage.name, "automatic": automatic, **opened}
    event = record_event(difference, EventKind.ESCALATED, actor, now, data)
    facts_ = message_facts(difference, next_stage, actor) | {
        "previous_stage": stage.name,
        "rationale": rationale,
        "deadline": next_stage.deadline,
        "automatic": automatic,
    }
    notify_people(difference, event, now, [difference.raiser], "escalated", "raiser", facts_)
    notify_people(
        difference, event, now, next_stage.people(Side.RESPONDER), "escalated", "responder", facts_
    )
    notify_people(difference, event, now, next_stage.people(Side.LEAD), "escalated", "lead", facts_)
    alert_partnership_if_senior(difference, next_stage, event, now, facts_)
    return next_stage


def reminder_for(stage: Stage, policy_stage: PolicyStage, *, since, cal: WorkingCalendar):
    """When to remind the stage's responder of its deadline (None: no reminder)."""
    if stage.working_hours:
        return deadlines.halfway_reminder_at(
            stage.deadline,
            since=since,
            working_minutes=cal.minutes_between(since, stage.deadline),
            add_minutes=cal.add_minutes,
        )
    return deadlines.reminder_at(
        stage.deadline,
        policy_stage.reminder_days_before,
        since=since,
        nation=cal.nation,
        closures=cal.closures,
    )


def schedule_raiser_reminder(stage: Stage, now: datetime) -> None:
    """After a response: nothing more to remind the responder of; remind the raising side if
    they have not accepted or escalated within the policy's window."""
    cal = working_calendar()
    stage.remind_at = None
    overtake_pending_extension(stage)
    stage.reply_by = stage.raiser_remind_at = deadlines.raiser_reminder_at(
        now,
        policy_stage_at(stage.level).raiser_reply_days,
        nation=cal.nation,
        closures=cal.closures,
        end_of_day=cal.end_of_day,
    )


def rearm_deadline_alerts(stage: Stage, now: datetime) -> None:
    """A moved deadline gets its own reminder and, if it is missed too, its own overdue notice.

    Reassignment does not come here: the schedule stays, and whoever is the responder when a
    reminder or overdue notice falls due receives it (the assignment message itself states the
    deadline, so a responder assigned after the reminder went is not sent a second one).
    """
    stage.remind_at = reminder_for(
        stage, policy_stage_at(stage.level), since=now, cal=working_calendar()
    )
    stage.overdue_noticed_at = None
    db.session.execute(
        sa.delete(StageAlert).where(
            StageAlert.stage_id == stage.id,
            StageAlert.kind.in_([duty.value for duty in deadlines.RESPONDER_DUTIES]),
        )
    )


def stop_reminders(stage: Stage) -> None:
    """The stage has closed: nothing is left to remind anyone of (keeps the due queries small)."""
    stage.remind_at = None
    stage.raiser_remind_at = None
    overtake_pending_extension(stage)


def overtake_pending_extension(stage: Stage) -> None:
    """A response, an escalation or a close came before the raising side answered a request
    for more time: the request no longer needs an answer (nor lapses)."""
    db.session.execute(
        sa.update(ExtensionRequest)
        .where(
            ExtensionRequest.stage_id == stage.id,
            ExtensionRequest.status == ExtensionStatus.PENDING,
        )
        .values(status=ExtensionStatus.OVERTAKEN)
    )
