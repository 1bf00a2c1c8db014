"""More time by agreement (product.md §4): the responder asks for a later deadline, saying why;
it moves only when the raising side (the raiser, or their lead at that stage) agrees; they may
refuse, saying why; an unanswered request lapses at the deadline it would have moved (the
sweep). Never on an urgent difference. Each public function is one transaction.
"""

from datetime import date, datetime

import sqlalchemy as sa

from escalate import calendar, wording, workflow
from escalate.extensions import db
from escalate.models import (
    Difference,
    EventKind,
    ExtensionRequest,
    ExtensionStatus,
    Side,
    Stage,
)
from escalate.queries.differences import pending_extension, situation
from escalate.queries.setup import working_calendar
from escalate.services._records import (
    commit_or_stale,
    message_facts,
    notify_people,
    record_event,
    stale_on_conflict,
)
from escalate.services._stages import rearm_deadline_alerts
from escalate.services.differences import _begin
from escalate.workflow import Action, FieldError

ANSWERS = ("yes", "no")


@stale_on_conflict
def request_extension(
    user, difference_id, version, *, new_deadline, rationale, now
) -> ExtensionRequest:
    """The responder asks for the deadline to move to the end of the working day on
    ``new_deadline`` (within the policy's bound), saying why. The raising side is told."""
    difference, stage = _begin(user, difference_id, version, Action.EXTEND, now)
    cal = working_calendar()
    if not isinstance(new_deadline, date) or isinstance(new_deadline, datetime):
        raise FieldError("new_deadline", "Select the new deadline you ask for")
    current_day = calendar.to_local(stage.deadline).date()
    days = calendar.working_days_between(current_day, new_deadline, cal.nation, cal.closures)
    if new_deadline <= current_day:
        raise FieldError(
            "new_deadline",
            f"The new deadline must be after the current one, {wording.when(stage.deadline)}",
        )
    if not calendar.is_working_day(new_deadline, cal.nation, cal.closures):
        raise FieldError(
            "new_deadline",
            f"{wording.day_and_date(new_deadline)} is not a working day: choose a working day",
        )
    workflow.check_extension(situation(difference, now), days)
    rationale = workflow.require_rationale(rationale, what="why more time is needed")
    request = ExtensionRequest(
        stage_id=stage.id,
        requested_by_id=user.id,
        requested_at=now,
        current_deadline=stage.deadline,
        proposed_deadline=cal.deadline(stage.deadline, days),
        working_days=days,
        rationale=rationale,
        status=ExtensionStatus.PENDING,
        answer="",
    )
    db.session.add(request)
    data = {
        "proposed_deadline": request.proposed_deadline.isoformat(),
        "working_days": days,
        "rationale": rationale,
    }
    event = record_event(difference, EventKind.EXTENSION_REQUESTED, user, now, data)
    facts_ = _facts(difference, stage, user, request)
    _tell_raising_side(difference, stage, event, now, "extension_requested", facts_, user)
    commit_or_stale()
    return request


@stale_on_conflict
def answer_extension(user, difference_id, version, *, agree, answer="", now) -> Difference:
    """The raising side agrees to the new deadline (it moves) or refuses it, saying why. The
    responder and the raising side are told."""
    difference, stage = _begin(user, difference_id, version, Action.ANSWER_EXTENSION, now)
    if agree not in ANSWERS:
        raise FieldError("agree", "Select yes if you agree to the new deadline")
    request = pending_extension(stage, now)
    if agree == "no":
        answer = workflow.require_rationale(
            answer, field="answer", what="why the deadline should not move"
        )
    else:
        answer = (answer or "").strip()
        if len(answer) > wording.MAX_TEXT_CHARACTERS:
            raise FieldError(
                "answer", f"Keep the comment to {wording.MAX_TEXT_CHARACTERS:,} characters or fewer"
            )
    request.answered_by_id, request.answered_at, request.answer = user.id, now, answer
    data = {
        "previous_deadline": request.current_deadline.isoformat(),
        "proposed_deadline": request.proposed_deadline.isoformat(),
        "working_days": request.working_days,
        "answer": answer,
    }
    if agree == "yes":
        request.status = ExtensionStatus.AGREED
        stage.deadline = request.proposed_deadline
        stage.extended_days += request.working_days
        rearm_deadline_alerts(stage, now)
        kind = EventKind.EXTENSION_AGREED
    else:
        request.status = ExtensionStatus.REFUSED
        kind = EventKind.EXTENSION_REFUSED
    event = record_event(difference, kind, user, now, data)
    facts_ = _facts(difference, stage, user, request) | {"answer": answer}
    _tell_everyone_concerned(difference, stage, event, now, kind.value, facts_, user, request)
    commit_or_stale()
    return difference


def lapse_extension(difference: Difference, stage: Stage, now: datetime) -> bool:
    """The sweep, at the deadline a pending request would have moved: the request lapses, on
    the record, and everyone concerned is told. The caller commits. False when there was none
    (or it was answered meanwhile)."""
    request = db.session.scalar(
        sa.select(ExtensionRequest).where(
            ExtensionRequest.stage_id == stage.id,
            ExtensionRequest.status == ExtensionStatus.PENDING,
        )
    )
    if request is None:
        return False
    request.status, request.answered_at = ExtensionStatus.LAPSED, now
    data = {
        "previous_deadline": request.current_deadline.isoformat(),
        "proposed_deadline": request.proposed_deadline.isoformat(),
        "working_days": request.working_days,
    }
    event = record_event(difference, EventKind.EXTENSION_LAPSED, None, now, data)
    facts_ = _facts(difference, stage, None, request)
    _tell_everyone_concerned(
        difference, stage, event, now, "extension_lapsed", facts_, None, request
    )
    return True


def _facts(difference, stage, actor, request: ExtensionRequest) -> dict:
    return message_facts(difference, stage, actor) | {
        "requested_by": request.requested_by.name if request.requested_by else "",
        "rationale": request.rationale,
        "deadline": request.current_deadline,
        "proposed_deadline": request.proposed_deadline,
    }


def _tell_raising_side(difference, stage, event, now, kind, facts_, actor) -> None:
    notify_people(difference, event, now, [difference.raiser], kind, "raiser", facts_)
    leads = [lead for lead in stage.people(Side.LEAD) if lead != difference.raiser]
    notify_people(difference, event, now, leads, kind, "lead", facts_)


def _tell_everyone_concerned(difference, stage, event, now, kind, facts_, actor, request) -> None:
    responders = [request.requested_by, *stage.people(Side.RESPONDER)]
    notify_people(
        difference, event, now, [p for p in responders if p != actor], kind, "responder", facts_
    )
    others = [p for p in [difference.raiser, *stage.people(Side.LEAD)] if p != actor]
    raiser = [p for p in others if p == difference.raiser]
    leads = [p for p in others if p not in raiser]
    notify_people(difference, event, now, raiser, kind, "raiser", facts_)
    notify_people(difference, event, now, leads, kind, "lead", facts_)
