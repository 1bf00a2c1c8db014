"""Raising a difference and every action on it (product.md §4). Each public function is one
transaction (learning notes: escalate.services.learning).
"""

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from escalate import agreed_actions, calendar, policy, wording, workflow
from escalate.extensions import db
from escalate.models import (
    Agency,
    AgreedAction,
    Assignment,
    Category,
    Difference,
    EventKind,
    Outcome,
    Side,
    Stage,
    State,
    User,
)
from escalate.queries import conditions
from escalate.queries.conditions import visible_to
from escalate.queries.differences import actor_for, latest_response, person_for, situation
from escalate.queries.setup import partnership_settings, policy_stages, working_calendar
from escalate.services._records import (
    alert_partnership,
    commit_or_stale,
    lock_difference,
    message_facts,
    notify_everyone,
    notify_people,
    record_event,
    stale_on_conflict,
)
from escalate.services._stages import (
    alert_partnership_if_senior,
    close_difference,
    escalate_to_next_stage,
    involve,
    open_stage,
    policy_stage_at,
    schedule_raiser_reminder,
)
from escalate.services._support import add_supporters
from escalate.services.drafts import forget_draft
from escalate.workflow import (
    FieldError,
    FieldProblems,
    NotAllowed,
    NotFound,
    StaleDifference,
)


@dataclass
class NewDifference:
    """What a raiser records (product.md §2)."""

    receiving_agency_id: int
    child_reference: str
    child_initials: str
    category: Category | str
    decision: str
    reasons: str
    desired_outcome: str
    discussed_informally: bool
    immediate_risk: bool
    named_professional_id: int | None = None
    child_date_of_birth: date | None = None
    informal_discussion: str = ""
    protective_action: str = ""
    # An urgent difference's raiser chooses the stage to start at (up to the policy's highest).
    start_stage: int | None = None


def check_new_difference(raiser: User, new: NewDifference, now: datetime) -> None:
    """Apply every rule raise_difference applies, without recording anything (check answers)."""
    _build_difference(raiser, new, now)


@stale_on_conflict
def raise_difference(raiser: User, new: NewDifference, now: datetime) -> Difference:
    """Record a new difference and open its first stage."""
    difference = record_new_difference(raiser, new, now)
    commit_or_stale()
    return difference


def record_new_difference(
    raiser: User, new: NewDifference, now: datetime, *, follows: str | None = None
) -> Difference:
    """raise_difference's work, for the caller to commit: ``follows``, the reference of the
    difference whose missed action this one follows up, is recorded in its RAISED event."""
    difference = _build_difference(raiser, new, now)
    db.session.add(difference)
    db.session.flush()
    difference.reference = f"RPD-{now.year}-{difference.id:05d}"
    involve(difference, [raiser.id, difference.named_professional_id])
    cal = working_calendar()
    start = difference.stage_level
    stage, opened = open_stage(difference, policy_stage_at(start), now, cal)
    supporters = add_supporters(difference, raiser, now)
    data = {"urgent": difference.urgent, **opened, "supporters": [u.name for u in supporters]}
    if start != 1:
        data["start_stage"] = start
    if follows:
        data["follows"] = follows
    event = record_event(difference, EventKind.RAISED, raiser, now, data)
    common = message_facts(difference, stage, raiser) | {
        "raiser": raiser.name,
        "deadline": stage.deadline,
        "urgent": difference.urgent,
        "start_stage": start,
    }
    notify_people(difference, event, now, [raiser], "raised", "raiser", common)
    notify_people(
        difference, event, now, stage.people(Side.RESPONDER), "raised", "responder", common
    )
    # Started above stage 1: the raising side's lead there is told at once too.
    leads = [lead for lead in stage.people(Side.LEAD) if lead.id != raiser.id]
    notify_people(difference, event, now, leads, "raised", "lead", common)
    notify_people(difference, event, now, supporters, "raised", "supporter", common)
    if difference.urgent:
        alert_partnership(difference, event, now, "urgent_raised", common)
    alert_partnership_if_senior(difference, stage, event, now, common)
    if not follows:
        forget_draft(raiser)  # raised: the draft it was checked from is done with
    return difference


def _build_difference(raiser: User, new: NewDifference, now: datetime) -> Difference:
    """A new, unsaved difference from what the raiser recorded, or FieldErrors naming every
    rule it breaks (so the form shows them all at once), in the order of the form."""
    if not workflow.may_raise(actor_for(raiser)):
        raise NotAllowed("Only a professional in a member agency can raise a difference.")
    problems = FieldProblems()
    start_stage = protective_action = None
    if new.immediate_risk:
        with problems.check():
            protective_action = workflow.require_text(
                new.protective_action,
                field="protective_action",
                what="the protective action that has been taken",
            )
    with problems.check():
        start_stage = _start_stage(new)
    with problems.check():
        workflow.check_child_reference(new.child_reference)
    with problems.check():
        workflow.check_child_initials(new.child_initials)
    with problems.check():
        workflow.check_child_date_of_birth(
            new.child_date_of_birth, calendar.to_local(now).date()
        )
    receiving = db.session.get(Agency, new.receiving_agency_id) if new.receiving_agency_id else None
    with problems.check():
        workflow.check_receiving_agency(
            raiser.agency_id,
            receiving.id if receiving else None,
            has_professionals=receiving is not None
            and db.session.scalar(sa.select(conditions.has_professionals(receiving.id))),
        )
    named = None
    if new.named_professional_id is not None and not problems.about("receiving_agency"):
        named = db.session.get(User, new.named_professional_id)
        with problems.check():
            workflow.check_named_professional(person_for(named), receiving.id, receiving.name)
    category = decision = reasons = desired_outcome = informal_discussion = None
    with problems.check():
        try:
            category = Category(new.category)
        except ValueError:
            raise FieldError("category", "Select what the difference is about") from None
    with problems.check():
        decision = workflow.require_text(
            new.decision, field="decision", what="the decision or action you disagree with"
        )
    with problems.check():
        reasons = workflow.require_rationale(new.reasons, field="reasons", what="why you disagree")
    with problems.check():
        desired_outcome = workflow.require_text(
            new.desired_outcome, field="desired_outcome", what="the outcome you want"
        )
    if new.discussed_informally:
        with problems.check():
            informal_discussion = workflow.require_text(
                new.informal_discussion,
                field="informal_discussion",
                what="when you discussed it, with whom, and what was said",
            )
    problems.raise_any()
    return Difference(
        raiser=raiser,
        raising_agency_id=raiser.agency_id,
        receiving_agency=receiving,
        named_professional=named,
        child_reference=new.child_reference.strip(),
        child_initials=new.child_initials.strip().upper(),
        child_date_of_birth=new.child_date_of_birth,
        category=category,
        decision=decision,
        reasons=reasons,
        desired_outcome=desired_outcome,
        discussed_informally=new.discussed_informally,
        informal_discussion=informal_discussion or "",
        immediate_risk=new.immediate_risk,
        protective_action=protective_action or "",
        urgent=new.immediate_risk,
        state=State.AWAITING_RESPONSE,
        stage_level=start_stage,
        raised_at=now,
    )


def _start_stage(new: NewDifference) -> int:
    """Stage 1, or for an urgent difference the stage its raiser chose (within the policy; none
    chosen is stage 1)."""
    if not new.immediate_risk:
        if new.start_stage not in (None, 1):
            raise FieldError(
                "start_stage", "Only an urgent difference can start above stage 1"
            )
        return 1
    allowed = policy.urgent_start_levels(
        partnership_settings().highest_urgent_start, [s.level for s in policy_stages()]
    )
    start = 1 if new.start_stage is None else new.start_stage
    if start not in allowed:
        raise FieldError(
            "start_stage", f"An urgent difference can start at stage {wording.either(allowed)}"
        )
    return start


@stale_on_conflict
def respond(
    user, difference_id, version, *, outcome, rationale, child_impact, actions=(), now
) -> Difference:
    """The responder answers at a stage: agreed (the decision changes), partly agreed (a
    different plan) or upheld. An answer that agrees lists its ``actions`` (NewAction: what,
    which of the two agencies, by when); one that upholds lists none."""
    difference, stage = _begin(user, difference_id, version, workflow.Action.RESPOND, now)
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise FieldError(
            "outcome", "Select whether you agree, partly agree or uphold the decision"
        ) from None
    actions = list(actions or ())
    if outcome.has_actions:
        agencies = (difference.raising_agency_id, difference.receiving_agency_id)
        actions = agreed_actions.check_actions(actions, agencies, calendar.to_local(now).date())
    elif actions:
        raise FieldError(
            agreed_actions.row_field(1, "what"),
            "Actions are agreed only when you agree or partly agree",
        )
    rationale = workflow.require_rationale(rationale, what="the reasons for your response")
    child_impact = workflow.require_rationale(
        child_impact, field="child_impact", what="what this means for the child"
    )
    names = {
        difference.raising_agency_id: difference.raising_agency.name,
        difference.receiving_agency_id: difference.receiving_agency.name,
    }
    stage.outcome, stage.responded_at = outcome, now
    difference.state = State.AWAITING_RAISER
    schedule_raiser_reminder(stage, now)
    data = {
        "outcome": outcome.value,
        "rationale": rationale,
        "child_impact": child_impact,
        "agreed_actions": agreed_actions.as_text(actions, names),
    }
    event = record_event(
        difference,
        EventKind.RESPONDED,
        user,
        now,
        data | {"reply_by": stage.reply_by.isoformat()},
        deadline=None,
    )
    _add_agreed_actions(difference, stage, event, user, actions)
    facts_ = message_facts(difference, stage, user) | data | {"reply_by": stage.reply_by}
    notify_people(difference, event, now, [difference.raiser], "responded", "raiser", facts_)
    notify_people(difference, event, now, stage.people(Side.LEAD), "responded", "lead", facts_)
    commit_or_stale()
    return difference


def _add_agreed_actions(difference, stage, event, responder, actions) -> None:
    """One row per agreed action, asked about at the start of its working due day. Its owner
    is the responder for the receiving agency's actions, the raiser for the raising agency's."""
    cal = working_calendar()
    for number, action in enumerate(actions, start=1):
        owner = (
            responder if action.agency_id == difference.receiving_agency_id else difference.raiser
        )
        db.session.add(
            AgreedAction(
                difference_id=difference.id,
                stage_id=stage.id,
                event_id=event.id,
                number=number,
                what=action.what,
                agency_id=action.agency_id,
                owner_id=owner.id,
                due_on=action.due_on,
                ask_at=agreed_actions.ask_at(action.due_on, cal),
            )
        )


@stale_on_conflict
def accept(user, difference_id, version, *, comment="", now) -> Difference:
    """The raising side accepts the response: the difference is resolved."""
    difference, stage = _begin(user, difference_id, version, workflow.Action.ACCEPT, now)
    comment = (comment or "").strip()
    if len(comment) > wording.MAX_TEXT_CHARACTERS:
        raise FieldError(
            "comment", f"Keep the comment to {wording.MAX_TEXT_CHARACTERS:,} characters or fewer"
        )
    response = latest_response(difference) or {}
    close_difference(difference, stage, State.RESOLVED, stage.outcome.value, now)
    event = record_event(
        difference,
        EventKind.ACCEPTED,
        user,
        now,
        {"comment": comment, "outcome": stage.outcome.value},
        deadline=None,
    )
    notify_everyone(
        difference,
        event,
        now,
        "accepted",
        # The raiser is told what was accepted and why, even when their lead accepted it.
        message_facts(difference, stage, user)
        | {
            "comment": comment,
            "outcome": stage.outcome.value,
            "rationale": response.get("rationale", ""),
        },
    )
    commit_or_stale()
    return difference


@stale_on_conflict
def escalate(user, difference_id, version, *, rationale, now) -> Difference:
    """Move the difference to the next stage, which opens with its own deadline."""
    difference, stage = _begin(user, difference_id, version, workflow.Action.ESCALATE, now)
    rationale = workflow.require_rationale(rationale, what="why you are escalating")
    escalate_to_next_stage(difference, stage, user, rationale, now, automatic=False)
    commit_or_stale()
    return difference


@stale_on_conflict
def decide(
    user, difference_id, version, *, outcome, decision, rationale, child_impact, now
) -> Difference:
    """The partnership decides at the final stage: the difference is resolved."""
    difference, stage = _begin(user, difference_id, version, workflow.Action.DECIDE, now)
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise FieldError(
            "outcome", "Select whether the decision changes, a different plan, or it stands"
        ) from None
    decision = workflow.require_text(decision, field="decision", what="the decision")
    rationale = workflow.require_rationale(rationale, what="the reasons for the decision")
    child_impact = workflow.require_rationale(
        child_impact, field="child_impact", what="what this means for the child"
    )
    stage.outcome, stage.responded_at = outcome, now
    close_difference(difference, stage, State.RESOLVED, outcome.value, now)
    data = {
        "outcome": outcome.value,
        "decision": decision,
        "rationale": rationale,
        "child_impact": child_impact,
    }
    event = record_event(difference, EventKind.DECIDED, user, now, data, deadline=None)
    notify_everyone(
        difference, event, now, "decided", message_facts(difference, stage, user) | data
    )
    commit_or_stale()
    return difference


@stale_on_conflict
def withdraw(user, difference_id, version, *, rationale, now) -> Difference:
    """The raising side withdraws the difference, saying why."""
    difference, stage = _begin(user, difference_id, version, workflow.Action.WITHDRAW, now)
    rationale = workflow.require_rationale(rationale, what="why you are withdrawing it")
    close_difference(difference, stage, State.WITHDRAWN, "withdrawn", now)
    event = record_event(
        difference, EventKind.WITHDRAWN, user, now, {"rationale": rationale}, deadline=None
    )
    notify_everyone(
        difference,
        event,
        now,
        "withdrawn",
        message_facts(difference, stage, user) | {"rationale": rationale},
    )
    commit_or_stale()
    return difference


@stale_on_conflict
def reassign(user, difference_id, version, *, new_responder_id, rationale, now) -> Difference:
    """Give the open stage's response to someone else, saying why."""
    difference, stage = _begin(user, difference_id, version, workflow.Action.REASSIGN, now)
    new_responder = db.session.get(User, new_responder_id) if new_responder_id else None
    if not workflow.may_take_over(
        person_for(new_responder),
        is_final_stage=stage.is_final,
        receiving_agency_id=difference.receiving_agency_id,
    ):
        raise FieldError(
            "new_responder",
            "Select a partnership member"
            if stage.is_final
            else f"Select someone who works for {difference.receiving_agency.name}",
        )
    current = stage.people(Side.RESPONDER)
    if current == [new_responder]:
        raise FieldError("new_responder", f"{new_responder.name} is already the responder")
    rationale = workflow.require_rationale(rationale, what="why you are reassigning it")
    for assignment in stage.assignments:
        if assignment.side == Side.RESPONDER:
            assignment.active = False
    stage.assignments.append(Assignment(user=new_responder, side=Side.RESPONDER))
    involve(difference, [new_responder.id])
    data = {
        "rationale": rationale,
        "new_responder_id": new_responder.id,
        "new_responder": new_responder.name,
        "previous_responders": [u.name for u in current],
    }
    event = record_event(difference, EventKind.REASSIGNED, user, now, data)
    facts_ = message_facts(difference, stage, user) | data | {"deadline": stage.deadline}
    notify_people(difference, event, now, [new_responder], "reassigned", "responder", facts_)
    notify_people(difference, event, now, [difference.raiser], "reassigned", "raiser", facts_)
    commit_or_stale()
    return difference


@stale_on_conflict
def record_conversation(
    user, difference_id, version, *, held_on, participants, agreed, now
) -> Difference:
    """Put a conversation about the difference on its record (it changes no state)."""
    difference, stage = _begin(
        user, difference_id, version, workflow.Action.RECORD_CONVERSATION, now
    )
    workflow.check_conversation_date(
        held_on,
        today=calendar.to_local(now).date(),
        raised_on=calendar.to_local(difference.raised_at).date(),
    )
    participants = workflow.require_text(participants, field="participants", what="who took part")
    agreed = workflow.require_rationale(agreed, field="agreed", what="what was agreed")
    data = {"held_on": held_on.isoformat(), "participants": participants, "agreed": agreed}
    event = record_event(difference, EventKind.CONVERSATION, user, now, data)
    if difference.raiser_id != user.id:
        facts_ = (
            message_facts(difference, stage, user)
            | data
            | {"held_on": wording.long_date(held_on)}
        )
        notify_people(difference, event, now, [difference.raiser], "conversation", "raiser", facts_)
    commit_or_stale()
    return difference


def _begin(user, difference_id, version, action, now) -> tuple[Difference, Stage | None]:
    """Load a difference for change, locking its row, and check the rules and the version."""
    difference = lock_difference(Difference.id == difference_id, visible_to(user))
    if difference is None:
        raise NotFound("Difference not found.")
    try:
        shown = int(version) if version is not None else None
    except (TypeError, ValueError):
        raise StaleDifference() from None
    if shown is not None and shown != difference.version:
        raise StaleDifference()
    workflow.check(actor_for(user), situation(difference, now), action)
    return difference, difference.open_stage


def forget_changes() -> None:
    """Drop anything loaded in this request so the next read sees the database afresh."""
    db.session.rollback()
    db.session.expire_all()
