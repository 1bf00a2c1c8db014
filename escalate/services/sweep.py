"""The deadline sweep.

Reminders before a deadline, missed deadlines, automatic escalation and reminders to a raising
side that has not answered a response (product.md §5). When each is due is decided by the pure
rules in escalate.deadlines; this module keeps each stage's schedule (remind_at,
raiser_remind_at) and does the work. Overdue itself stays derived from the clock everywhere
(see `situation`): the sweep only records it and tells people.

Safe to run twice, or on several machines at once: each item is one transaction that first
inserts its stage_alert row (UNIQUE(stage_id, kind)), so a second copy fails and rolls back;
on PostgreSQL the difference's row is also taken FOR UPDATE SKIP LOCKED, so two sweeps do not
even try the same item, and the state is checked again once the row is held.
"""

import functools
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from escalate import deadlines, messages, policy, queries, wording, workflow
from escalate.extensions import db
from escalate.models import (
    Difference,
    EventKind,
    ExtensionRequest,
    ExtensionStatus,
    PolicyStage,
    Side,
    Stage,
    StageAlert,
)
from escalate.queries.differences import situation
from escalate.queries.setup import working_calendar
from escalate.services import (
    actions,
    chronology,
    digest,
    drafts,
    meetings,
    proposals,
    raising_side,
    retention,
)
from escalate.services._records import (
    alert_partnership,
    message_facts,
    notify_people,
    notify_without_event,
    record_event,
)
from escalate.services._stages import escalate_to_next_stage, final_level, pick_for_stage
from escalate.services.extension_requests import lapse_extension


@dataclass(frozen=True)
class SweepItem:
    """One thing the sweep did (or, in a dry run, would do) for one stage."""

    reference: str
    stage_level: int
    stage: str
    duty: deadlines.Duty
    deadline: datetime

    @property
    def summary(self) -> str:
        due = wording.when(self.deadline)
        what = {
            deadlines.Duty.REMINDER: f"remind the responder that the response is due by {due}",
            deadlines.Duty.OVERDUE: f"record that the response due by {due} is overdue, and "
            "tell both sides",
            deadlines.Duty.AUTO_ESCALATE: "escalate automatically to the next stage",
            deadlines.Duty.RAISER_REMINDER: "remind the raising side that a response is waiting "
            "for their answer",
            deadlines.Duty.EXTENSION_LAPSED: "record that the unanswered request for more time "
            "has lapsed, and tell both sides",
            deadlines.Duty.RAISER_MANAGER: "tell the raiser's line manager or lead that a "
            "response has waited two reply windows",
            deadlines.Duty.CLOSE_NO_REPLY: "close it: no reply from the raising side",
            deadlines.Duty.PROPOSAL_APPLIED: "apply the lead's proposal, which the raiser did not "
            "answer in time",
        }[self.duty]
        return f"{self.reference}, stage {self.stage_level} ({self.stage}): {what}"


@dataclass
class SweepReport:
    """What one sweep did. ``skipped`` counts items another sweep or a person reached first;
    ``problems`` items that could not be done (they are tried again by the next sweep)."""

    dry_run: bool = False
    items: list[SweepItem] = field(default_factory=list)
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    anonymised: list[str] = field(default_factory=list)  # references, under the retention policy

    def count(self, duty: deadlines.Duty) -> int:
        return sum(1 for item in self.items if item.duty == duty)

    @property
    def reminders(self) -> int:
        return self.count(deadlines.Duty.REMINDER)

    @property
    def overdue(self) -> int:
        return self.count(deadlines.Duty.OVERDUE)

    @property
    def escalated(self) -> int:
        return self.count(deadlines.Duty.AUTO_ESCALATE)

    @property
    def raiser_reminders(self) -> int:
        return self.count(deadlines.Duty.RAISER_REMINDER)

    @property
    def lapsed(self) -> int:
        return self.count(deadlines.Duty.EXTENSION_LAPSED)

    digests: int = 0  # the partnership's weekly digest, sent (0 or 1)
    actions_asked: int = 0  # agreed actions due: owners asked "is it done?"
    drafts: int = 0  # drafts of differences nobody came back to raise, removed
    # Professionals' meetings: their arrangers reminded of an outcome or minutes not recorded.
    meeting_outcome_reminders: int = 0
    minutes_reminders: int = 0
    # Outcomes an agency has not confirmed writing on the child's own record: owners reminded.
    record_reminders: int = 0

    def __bool__(self) -> bool:
        return bool(
            self.items
            or self.skipped
            or self.problems
            or self.digests
            or self.anonymised
            or self.drafts
            or self.meeting_outcome_reminders
            or self.minutes_reminders
            or self.actions_asked
            or self.record_reminders
        )

    def __str__(self) -> str:
        plural = wording.plural
        said = (
            f"{plural(self.reminders, 'reminder')}, {self.overdue} overdue, "
            f"{self.escalated} escalated, {plural(self.raiser_reminders, 'raiser reminder')}"
        )
        # What the raising side's silence and the partnership's digest led to, when anything.
        for count, words in (
            (self.lapsed, ("request for more time lapsed", "requests for more time lapsed")),
            (self.count(deadlines.Duty.RAISER_MANAGER), ("manager told", "managers told")),
            (self.count(deadlines.Duty.CLOSE_NO_REPLY), ("closed for no reply",) * 2),
            (self.count(deadlines.Duty.PROPOSAL_APPLIED), ("proposal applied",) * 2),
            (self.digests, ("weekly digest", "weekly digests")),
            (len(self.anonymised), ("anonymised",) * 2),
            (self.drafts, ("stale draft removed", "stale drafts removed")),
            (
                self.meeting_outcome_reminders,
                ("meeting outcome reminder", "meeting outcome reminders"),
            ),
            (self.minutes_reminders, ("minutes reminder", "minutes reminders")),
            (self.actions_asked, ("agreed action asked about", "agreed actions asked about")),
            (self.record_reminders, ("record reminder", "record reminders")),
        ):
            if count:
                said += f", {plural(count, *words)}"
        return said


def sweep(
    now: datetime, *, dry_run: bool = False, retention_years: int | None = None
) -> SweepReport:
    """Do everything that is due at ``now``: one transaction per stage, each done exactly once;
    then anonymise the differences the retention policy says are due (closed
    ``retention_years`` ago, RETENTION_YEARS by default), one transaction each; then remove the
    drafts of differences nobody came back to raise.

    With ``dry_run`` it reports what it would do and changes nothing. Everything due is done in
    one call (no cap): the due queries are indexed range queries on ``remind_at``, ``deadline``,
    ``raiser_remind_at`` and ``closed_at``, so the work grows with what is due, not with what is
    open.
    """
    report = SweepReport(dry_run=dry_run)
    _sweep_stages(report, now, dry_run)
    _remind_meetings(report, now, dry_run)
    _ask_about_actions(report, now, dry_run)
    years = retention_years or current_app.config["RETENTION_YEARS"]
    report.anonymised, skipped = retention.anonymise_due(now, years, dry_run=dry_run)
    report.skipped += skipped
    report.drafts = drafts.discard_stale_drafts(now, dry_run=dry_run)
    _remind_to_record(report, now, dry_run)
    return report


def _sweep_stages(report: SweepReport, now: datetime, dry_run: bool) -> None:
    due = _due_stages(now)
    due_proposals = proposals.due_proposals(now)
    db.session.rollback()  # end the read: each item below is its own transaction
    for stage_id, difference_id in due:
        try:
            items = _sweep_stage(stage_id, difference_id, now, act=not dry_run)
            if dry_run:
                db.session.rollback()
            else:
                db.session.commit()
        except (IntegrityError, StaleDataError):
            # Another sweep, or a person, reached this stage first: their work stands.
            db.session.rollback()
            report.skipped += 1
            continue
        except workflow.DomainError as error:
            db.session.rollback()
            report.problems.append(f"{_reference_of(difference_id)}: {error}")
            continue
        if items is None:
            report.skipped += 1  # held by another sweep right now
        else:
            report.items.extend(items)
    for proposal_id, difference_id in due_proposals:
        _one_item(
            report,
            dry_run,
            difference_id,
            functools.partial(_apply_proposal, proposal_id=proposal_id, now=now, dry_run=dry_run),
        )
    if current_app.config["WEEKLY_DIGEST"]:
        _one_item(report, dry_run, None, lambda _: _send_digest(report, now, dry_run))


def _claim_each(report: SweepReport, dry_run: bool, due: list, claim, count) -> None:
    """Each due item of the follow-through in its own transaction: ``claim(item)`` claims it by
    a conditional UPDATE and does its work (a second sweep, or one on another machine, finds
    nothing left to claim and gets None), then ``count(item, result)`` counts what was done."""
    db.session.rollback()  # end the read: each item below is its own transaction
    for item in due:
        try:
            result = claim(item)
            if dry_run:
                db.session.rollback()
            else:
                db.session.commit()
        except (IntegrityError, StaleDataError):
            db.session.rollback()
            report.skipped += 1
            continue
        except workflow.DomainError as error:
            db.session.rollback()
            report.problems.append(str(error))
            continue
        if result is None:
            report.skipped += 1  # another sweep, or a person, got there first
        else:
            count(item, result)


def _remind_meetings(report: SweepReport, now: datetime, dry_run: bool) -> None:
    """Remind each meeting's arranger, once, of an outcome not recorded by the start of the
    working day after it met, and of minutes not recorded on their due date."""

    def count(item, _):
        if item[1] == "outcome":
            report.meeting_outcome_reminders += 1
        else:
            report.minutes_reminders += 1

    _claim_each(
        report,
        dry_run,
        meetings.due_reminders(now),
        lambda item: meetings.send_reminder(item[0], item[1], now, act=not dry_run),
        count,
    )


def _ask_about_actions(report: SweepReport, now: datetime, dry_run: bool) -> None:
    """Each agreed action due: its owner asked "is it done?", the raiser told; once."""

    def count(*_):
        report.actions_asked += 1

    _claim_each(
        report,
        dry_run,
        actions.due_actions(now),
        lambda item: actions.ask_if_done(item[0], item[1], now) or None,
        count,
    )


def _remind_to_record(report: SweepReport, now: datetime, dry_run: bool) -> None:
    """Each outcome an agency has not confirmed writing on the child's own record: its owner
    reminded, once (an entry with nobody to remind is claimed, not counted)."""

    def count(_, reminded):
        report.record_reminders += 1 if reminded else 0

    _claim_each(
        report,
        dry_run,
        chronology.due_reminders(now),
        lambda item: chronology.remind(item[0], now),
        count,
    )


def _one_item(report: SweepReport, dry_run: bool, difference_id: int | None, work) -> None:
    """Do one more piece of the sweep's work in its own transaction, with the difference's row
    held (skipped when another sweep holds it), as the stages' work above is done."""
    try:
        difference = None
        if difference_id is not None:
            difference = _hold(difference_id, act=not dry_run)
            if difference is None:
                report.skipped += 1
                return
        items = work(difference)
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    except (IntegrityError, StaleDataError):
        db.session.rollback()
        report.skipped += 1
        return
    except workflow.DomainError as error:
        db.session.rollback()
        report.problems.append(f"{_reference_of(difference_id)}: {error}")
        return
    report.items.extend(items)


def _hold(difference_id: int, *, act: bool) -> Difference | None:
    query = (
        sa.select(Difference)
        .where(Difference.id == difference_id)
        .execution_options(populate_existing=True)
    )
    if act:
        query = query.with_for_update(of=Difference, skip_locked=True)
    return db.session.scalar(query)


def _apply_proposal(difference, proposal_id: int, now: datetime, dry_run: bool) -> list[SweepItem]:
    stage = proposals.apply_after_no_reply(difference, proposal_id, now, act=not dry_run)
    if stage is None:
        return []
    return [
        SweepItem(
            difference.reference,
            stage.level,
            stage.name,
            deadlines.Duty.PROPOSAL_APPLIED,
            stage.deadline,
        )
    ]


def _send_digest(report: SweepReport, now: datetime, dry_run: bool) -> list[SweepItem]:
    report.digests += int(digest.send_weekly_digest(now, act=not dry_run))
    return []


def _due_stages(now: datetime) -> list[tuple[int, int]]:
    """(stage id, difference id) of every open stage with something due, soonest first.

    Each query is a range on one indexed column of `stage` alone, never a walk over the open
    differences: remind_at and raiser_remind_at are set only while there is something to remind
    of (cleared on a response, a reminder, an escalation or a close), and the overdue query
    matches the partial index ix_stage_awaiting_deadline (stages with no response, not closed).
    _sweep_stage checks the difference's state again once it holds the row.
    """

    def not_done(duty: deadlines.Duty):
        return ~sa.exists().where(StageAlert.stage_id == Stage.id, StageAlert.kind == duty.value)

    def due(moment, duty: deadlines.Duty, *conditions):
        return db.session.execute(
            sa.select(Stage.id, Stage.difference_id)
            .where(*conditions, not_done(duty))
            .order_by(moment, Stage.id)
        ).all()

    overdue = due(
        Stage.deadline,
        deadlines.Duty.OVERDUE,
        queries.conditions.overdue(now),
        Stage.overdue_noticed_at.is_(None),
    )
    reminders = due(
        Stage.remind_at,
        deadlines.Duty.REMINDER,
        Stage.remind_at <= now,
        Stage.deadline >= now,
    )
    raisers = due(
        Stage.raiser_remind_at,
        deadlines.Duty.CLOSE_NO_REPLY,
        Stage.raiser_remind_at <= now,
    )
    # Pending requests for more time are few (one a stage at most), found by their status.
    lapsing = db.session.execute(
        sa.select(Stage.id, Stage.difference_id)
        .join(ExtensionRequest, ExtensionRequest.stage_id == Stage.id)
        .where(
            ExtensionRequest.status == ExtensionStatus.PENDING,
            ExtensionRequest.current_deadline <= now,
            not_done(deadlines.Duty.EXTENSION_LAPSED),
        )
        .order_by(ExtensionRequest.current_deadline, Stage.id)
    ).all()
    found = [tuple(row) for row in (*lapsing, *overdue, *reminders, *raisers)]
    return list(dict.fromkeys(found))


def _reference_of(difference_id: int) -> str:
    return db.session.scalar(sa.select(Difference.reference).where(Difference.id == difference_id))


def _sweep_stage(stage_id: int, difference_id: int, now: datetime, *, act: bool):
    """Do (or, without ``act``, describe) what is due for one stage. None: another sweep holds
    the difference. The caller commits or rolls back."""
    query = (
        sa.select(Difference)
        .where(Difference.id == difference_id)
        .execution_options(populate_existing=True)
    )
    if act:
        query = query.with_for_update(of=Difference, skip_locked=True)
    difference = db.session.scalar(query)
    if difference is None:
        return None
    stage = db.session.get(Stage, stage_id, populate_existing=True)
    policy_stage = db.session.scalar(sa.select(PolicyStage).where(PolicyStage.level == stage.level))
    done = frozenset(
        db.session.scalars(sa.select(StageAlert.kind).where(StageAlert.stage_id == stage.id))
    )
    pending_until = db.session.scalar(
        sa.select(ExtensionRequest.current_deadline).where(
            ExtensionRequest.stage_id == stage.id,
            ExtensionRequest.status == ExtensionStatus.PENDING,
        )
    )
    # Checked again now that the row is held: the difference may have moved on since the query.
    duties = deadlines.duties(
        deadlines.StageClock(
            state=difference.state,
            is_open_stage=stage.level == difference.stage_level and stage.closed_at is None,
            is_final=stage.is_final,
            deadline=stage.deadline,
            remind_at=stage.remind_at,
            raiser_remind_at=stage.raiser_remind_at,
            auto_escalate=bool(policy_stage and policy_stage.auto_escalate),
            done=done,
            extension_pending_until=pending_until,
        ),
        now,
    )
    items = [
        SweepItem(difference.reference, stage.level, stage.name, duty, stage.deadline)
        for duty in duties
    ]
    if not act or not duties:
        return items
    for duty in duties:
        db.session.add(StageAlert(stage_id=stage.id, kind=duty.value, at=now))
    db.session.flush()  # a second sweep stops here, on the unique constraint, before any work
    if deadlines.Duty.EXTENSION_LAPSED in duties:
        lapse_extension(difference, stage, now)
    if deadlines.Duty.OVERDUE in duties:
        stage.overdue_noticed_at = now
        _record_overdue(difference, stage, now, escalating=deadlines.Duty.AUTO_ESCALATE in duties)
    elif deadlines.Duty.REMINDER in duties:
        _remind_responders(difference, stage, now)
    elif deadlines.Duty.RAISER_REMINDER in duties:
        _remind_raising_side(difference, stage, now)
    elif deadlines.Duty.RAISER_MANAGER in duties:
        raising_side.tell_raisers_manager(difference, stage, now)
    elif deadlines.Duty.CLOSE_NO_REPLY in duties:
        raising_side.close_for_no_reply(difference, stage, now)
    return items


def _record_overdue(difference: Difference, stage: Stage, now: datetime, *, escalating: bool):
    """The deadline passed with no response: an event, and both sides told; then, if the policy
    says so, the difference escalates automatically (the raiser and the next stage are told by
    the escalation's own message, which gives the missed deadline as its reason)."""
    next_policy = (
        None
        if stage.is_final
        else db.session.scalar(sa.select(PolicyStage).where(PolicyStage.level == stage.level + 1))
    )
    next_responders = []
    if next_policy is not None and not escalating:
        # Who would receive it if the raising side escalates now.
        next_responders, _ = pick_for_stage(
            next_policy.responder_rule,
            difference,
            next_policy.level,
            difference.receiving_agency_id,
        )
    responders, leads = stage.people(Side.RESPONDER), stage.people(Side.LEAD)
    data = {
        "stage": stage.name,
        "responders": [u.name for u in responders],
        "next_stage": next_policy.name if next_policy else None,
        "next_responders": [u.name for u in next_responders],
        "escalated_automatically": escalating,
    }
    event = record_event(difference, EventKind.OVERDUE, None, now, data)
    stage.remind_at = None
    facts_ = message_facts(difference, stage, None) | {
        "deadline": stage.deadline,
        "next_stage": data["next_stage"],
        "escalating": escalating,
        "is_final": stage.is_final,
    }
    notify_people(difference, event, now, responders, "overdue", "responder", facts_)
    if policy.partnership_watches_overdue(stage.level, final_level()):
        alert_partnership(difference, event, now, "overdue", facts_)
    if escalating:
        others = [lead for lead in leads if lead.id != difference.raiser_id]
        notify_people(difference, event, now, others, "overdue", "lead", facts_)
        workflow.check(workflow.SYSTEM, situation(difference, now), workflow.Action.ESCALATE)
        reason = messages.automatic_escalation_reason(stage.deadline)
        escalate_to_next_stage(difference, stage, None, reason, now, automatic=True)
    else:
        notify_people(difference, event, now, [difference.raiser], "overdue", "raiser", facts_)
        notify_people(difference, event, now, leads, "overdue", "lead", facts_)
        notify_people(difference, event, now, next_responders, "overdue", "next_responder", facts_)


def _remind_responders(difference: Difference, stage: Stage, now: datetime) -> None:
    stage.remind_at = None
    facts_ = message_facts(difference, stage, None) | {
        "deadline": stage.deadline,
        "time_left": queries.differences.deadline_words(stage, now, working_calendar())[
            "time_left"
        ],
        "urgent": difference.urgent,
    }
    notify_without_event(
        difference, now, stage.people(Side.RESPONDER), "reminder", "responder", facts_
    )


def _remind_raising_side(difference: Difference, stage: Stage, now: datetime) -> None:
    raising_side.schedule_next_window(stage)
    facts_ = message_facts(difference, stage, None) | {
        "responded_at": stage.responded_at,
        "outcome": stage.outcome.value if stage.outcome else "",
        "reply_by": stage.reply_by,
        "manager_told_at": stage.raiser_remind_at,
    }
    recipients = [difference.raiser, *stage.people(Side.LEAD)]
    notify_without_event(difference, now, recipients, "raiser_reminder", "raiser", facts_)
