"""The raiser keeps their voice (product.md §4): a lead for the raising side proposes to accept
the response or withdraw the difference, with a rationale; the raiser confirms or objects within
the policy's window; silence applies the proposal when the window ends (the sweep). Each public
function is one transaction, except ``apply_after_no_reply``, which the sweep commits.
"""

from datetime import datetime

import sqlalchemy as sa

from escalate import wording, workflow
from escalate.extensions import db
from escalate.models import (
    Difference,
    EventKind,
    Proposal,
    ProposalEnd,
    ProposalKind,
    Side,
    Stage,
    StageAlert,
    State,
    User,
)
from escalate.queries.differences import latest_response, situation
from escalate.queries.setup import working_calendar
from escalate.services._records import (
    commit_or_stale,
    message_facts,
    notify_everyone,
    notify_people,
    record_event,
    stale_on_conflict,
)
from escalate.services._stages import close_difference, policy_stage_at
from escalate.services.differences import _begin
from escalate.workflow import Action, FieldError

PROPOSING = {
    ProposalKind.ACCEPT: Action.PROPOSE_ACCEPT,
    ProposalKind.WITHDRAW: Action.PROPOSE_WITHDRAW,
}
CONFIRM, OBJECT = "confirm", "object"
# The stage_alert kind that makes applying a proposal after no reply happen once.
APPLIED_ALERT = "proposal_applied"


@stale_on_conflict
def propose(user: User, difference_id, version, *, kind, rationale, now: datetime) -> Difference:
    """A raising lead proposes to accept the response or withdraw the difference; the raiser is
    told at once and has the policy's window to confirm or object."""
    try:
        kind = ProposalKind(kind)
    except ValueError:
        raise FieldError("kind", "Select what you propose") from None
    difference, stage = _begin(user, difference_id, version, PROPOSING[kind], now)
    rationale = workflow.require_rationale(rationale, what="why you propose it")
    reply_by = working_calendar().deadline(now, policy_stage_at(stage.level).proposal_reply_days)
    difference.proposals.append(
        Proposal(
            stage_level=stage.level,
            kind=kind,
            proposer=user,
            rationale=rationale,
            proposed_at=now,
            reply_by=reply_by,
        )
    )
    data = {"proposal": kind.value, "rationale": rationale, "reply_by": reply_by.isoformat()}
    event = record_event(difference, EventKind.PROPOSED, user, now, data)
    facts_ = message_facts(difference, stage, user) | {
        "proposal": kind.value,
        "rationale": rationale,
        "reply_by": reply_by,
        "raiser": difference.raiser.name,
    }
    notify_people(difference, event, now, [difference.raiser], "proposed", "raiser", facts_)
    others = [u for u in stage.people(Side.LEAD) if u.id != user.id]
    notify_people(difference, event, now, others, "proposed", "lead", facts_)
    notify_people(
        difference, event, now, [s.user for s in difference.supporters], "proposed", "lead", facts_
    )
    commit_or_stale()
    return difference


@stale_on_conflict
def answer_proposal(
    user: User, difference_id, version, *, answer, reason="", now: datetime
) -> Difference:
    """The raiser confirms the proposal (it takes effect now) or objects, saying why (the
    difference goes on, and the objection is on its record)."""
    difference, stage = _begin(user, difference_id, version, Action.ANSWER_PROPOSAL, now)
    proposal = difference.open_proposal
    if answer not in (CONFIRM, OBJECT):
        raise FieldError("answer", "Select whether you confirm or object to the proposal")
    if answer == OBJECT:
        reason = workflow.require_rationale(reason, field="reason", what="why you object")
        proposal.ended_at, proposal.end = now, ProposalEnd.OBJECTED
        data = {
            "proposal": proposal.kind.value,
            "proposed_by": proposal.proposer.name,
            "reason": reason,
        }
        event = record_event(difference, EventKind.PROPOSAL_OBJECTED, user, now, data)
        facts_ = message_facts(difference, stage, user) | data
        told = [
            proposal.proposer,
            *stage.people(Side.LEAD),
            *(s.user for s in difference.supporters),
        ]
        notify_people(difference, event, now, told, "proposal_objected", "lead", facts_)
    else:
        comment = (reason or "").strip()
        if len(comment) > wording.MAX_TEXT_CHARACTERS:
            raise FieldError(
                "reason",
                f"Keep the comment to {wording.MAX_TEXT_CHARACTERS:,} characters or fewer",
            )
        proposal.ended_at, proposal.end = now, ProposalEnd.CONFIRMED
        _apply(difference, stage, proposal, user, now, comment=comment)
    commit_or_stale()
    return difference


def _apply(difference, stage: Stage, proposal: Proposal, actor: User | None, now, *, comment=""):
    """Accept or withdraw as proposed: by the raiser confirming it, or (``actor`` None) by the
    system when the raiser did not reply in time. Everyone is told, the raiser first."""
    how = {
        "proposed_by": proposal.proposer.name,
        "proposal_rationale": proposal.rationale,
        "applied_after_no_reply": actor is None,
        "reply_by": proposal.reply_by,
    }
    recorded = how | {"reply_by": proposal.reply_by.isoformat()}
    if proposal.kind == ProposalKind.ACCEPT:
        response = latest_response(difference) or {}
        close_difference(difference, stage, State.RESOLVED, stage.outcome.value, now)
        data = {"comment": comment, "outcome": stage.outcome.value}
        event = record_event(
            difference, EventKind.ACCEPTED, actor, now, data | recorded, deadline=None
        )
        facts_ = data | {"rationale": response.get("rationale", "")}
        kind = "accepted"
    else:
        close_difference(difference, stage, State.WITHDRAWN, "withdrawn", now)
        data = {"rationale": proposal.rationale, "comment": comment}
        event = record_event(
            difference, EventKind.WITHDRAWN, actor, now, data | recorded, deadline=None
        )
        facts_ = data
        kind = "withdrawn"
    notify_everyone(
        difference, event, now, kind, message_facts(difference, stage, actor) | facts_ | how
    )
    notify_people(
        difference,
        event,
        now,
        [s.user for s in difference.supporters],
        kind,
        "involved",
        message_facts(difference, stage, actor) | facts_ | how,
    )


def due_proposals(now: datetime) -> list[tuple[int, int]]:
    """(proposal id, difference id) of open proposals whose window has passed, oldest first
    (a range on the partial index of open proposals)."""
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(Proposal.id, Proposal.difference_id)
            .where(Proposal.ended_at.is_(None), Proposal.reply_by <= now)
            .order_by(Proposal.reply_by, Proposal.id)
        )
    ]


def apply_after_no_reply(difference: Difference, proposal_id: int, now: datetime, *, act: bool):
    """The sweep's step for one proposal, with the difference's row held: apply it (recorded as
    applied after no reply, the raiser told), or end it if the difference has moved on so that
    it no longer applies. Returns the stage it was applied at, or None. The caller commits."""
    proposal = db.session.get(Proposal, proposal_id, populate_existing=True)
    if proposal is None or proposal.ended_at is not None or proposal.reply_by > now:
        return None
    stage = difference.open_stage
    action = Action.ACCEPT if proposal.kind == ProposalKind.ACCEPT else Action.WITHDRAW
    state = situation(difference, now)
    still_applies = (
        stage is not None
        and stage.level == proposal.stage_level
        and (state.state == State.AWAITING_RAISER or action == Action.WITHDRAW)
        and not state.state.is_final
    )
    if not act:
        return stage if still_applies else None
    if not still_applies:
        proposal.ended_at, proposal.end = now, ProposalEnd.OVERTAKEN
        return None
    # Once per stage: a second sweep stops here, on the unique constraint, before any work.
    db.session.add(StageAlert(stage_id=stage.id, kind=APPLIED_ALERT, at=now))
    db.session.flush()
    proposal.ended_at, proposal.end = now, ProposalEnd.APPLIED
    _apply(difference, stage, proposal, None, now)
    return stage
