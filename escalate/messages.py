"""The words of every notification: plain English, the outcome and its rationale in the message.

Only the difference's reference identifies the child: never initials or a date of birth.
"""

from datetime import datetime

from escalate.calendar import to_local
from escalate.wording import day_and_date, long_date, outcome_label, plural, when


def compose(
    kind: str, *, reference: str, stage: str, for_recipient: str, **facts
) -> tuple[str, str]:
    """Return (subject, body) for one notification.

    ``for_recipient`` is "raiser", "responder", "lead" or "involved": the same event reads
    differently to the person who raised the difference and to the person who must now act.
    """
    subject, lines = _WRITERS[kind](reference=reference, stage=stage, to=for_recipient, **facts)
    # The words are read in the inbox (beside a link to the difference) and in the email (with
    # its own link), so they do not tell the reader to sign in.
    body = "\n\n".join(line for line in lines if line)
    if not reference:  # about no difference the recipient may see
        return subject[:1].upper() + subject[1:], body
    return f"{reference}: {subject}", body


def _the_stage(name: str) -> str:
    """A stage named in a sentence: "the Manager to manager stage"."""
    return f"the {name} stage"


def _outcome_line(outcome) -> str:
    label = outcome_label(outcome)
    return f"Outcome: {label[:1].lower()}{label[1:]}." if label else ""


def _what_was_decided(outcome) -> str:
    return {
        "agreed": "agreed to change its decision",
        "partly_agreed": "partly agreed: it proposes a different plan",
    }.get(outcome, "upheld its decision")


def invitation(*, expires_at: datetime) -> tuple[str, str]:
    """(subject, body) of the outbox row for a set-password link.

    What the email says is in templates/email/invitation.*: these words are what escalate
    keeps, for the administrator following the email's delivery. Never the link.
    """
    return "Set your password", (
        f"A one-time link to set a password, which works until {when(expires_at)}. The link is "
        "in the email only: escalate does not keep it."
    )


def _deadline_line(deadline) -> str:
    return f"A response is due by {when(deadline)}." if deadline else ""


def _raised(
    *, reference, stage, to, raiser, raising_agency, receiving_agency, deadline, urgent, **_
):
    urgency = "It is marked urgent: the child may be at immediate risk. " if urgent else ""
    if to == "lead":
        return f"a professional difference has started at {stage}", [
            f"{raiser} ({raising_agency}) has raised a professional difference with "
            f"{receiving_agency}. {urgency}It starts at {_the_stage(stage)}, where you lead for "
            "the raising agency.",
            _deadline_line(deadline),
            "You can escalate it, saying why, without waiting for the response.",
        ]
    if to == "raiser":
        return "your difference has been raised", [
            f"Your professional difference with {receiving_agency} has been recorded as "
            f"{reference}.",
            f"Stage: {stage}.",
            _deadline_line(deadline),
            "You will be told of every response and every change of stage.",
        ]
    if to == "supporter":
        return f"{raiser} has raised a professional difference: you support them", [
            f"{raiser} ({raising_agency}) has raised a professional difference with "
            f"{receiving_agency}. {urgency}",
            f"Stage: {stage}.",
            "You are told because you support them (as their line manager, or as your "
            "agency's designated safeguarding lead). You can read the difference and add advice "
            "to its record; the decisions on it stay with them.",
        ]
    return f"a professional difference needs your response by {when(deadline)}", [
        f"{raiser} ({raising_agency}) has raised a professional difference with "
        f"{receiving_agency}. {urgency}It has been assigned to you.",
        f"Stage: {stage}.",
        _deadline_line(deadline),
    ]


def _responded(
    *,
    reference,
    stage,
    to,
    actor,
    receiving_agency,
    outcome,
    rationale,
    child_impact,
    agreed_actions,
    reply_by=None,
    **_,
):
    headline = f"{receiving_agency} {_what_was_decided(outcome)}"
    return headline, [
        f"{actor} responded at {_the_stage(stage)}.",
        _outcome_line(outcome),
        f"Actions agreed: {agreed_actions}" if agreed_actions else "",
        f"Rationale: {rationale}",
        f"What this means for the child: {child_impact}",
        (
            "Please accept this response, or escalate the difference to the next stage, by "
            f"{when(reply_by)}."
            if reply_by
            else "You can now accept this response, or escalate the difference to the next stage."
        )
        if to in ("raiser", "lead")
        else "",
    ]


def _proposal_line(proposed_by, applied_after_no_reply, reply_by, proposal_rationale) -> str:
    """How a lead's proposal came to take effect, for the message that says it did."""
    if not proposed_by:
        return ""
    if applied_after_no_reply:
        how = (
            f"{proposed_by} proposed this, and there was no reply by {when(reply_by)}, so it was "
            "applied after no reply."
        )
    else:
        how = f"{proposed_by} proposed this, and the person who raised it confirmed it."
    return f"{how} Their reason: {proposal_rationale}"


def _accepted(
    *,
    reference,
    stage,
    actor,
    comment,
    outcome=None,
    rationale="",
    proposed_by=None,
    applied_after_no_reply=False,
    reply_by=None,
    proposal_rationale="",
    **_,
):
    who = "escalate" if applied_after_no_reply else actor
    return "the difference has been resolved", [
        f"{who} accepted the response at {_the_stage(stage)}. The difference is resolved.",
        _proposal_line(proposed_by, applied_after_no_reply, reply_by, proposal_rationale),
        _outcome_line(outcome),
        f"Rationale given in the response: {rationale}" if rationale else "",
        f"Comment: {comment}" if comment else "",
    ]


def _escalated(*, reference, stage, to, actor, previous_stage, rationale, deadline, automatic, **_):
    who = (
        "The deadline was missed, so the difference escalated automatically"
        if automatic
        else (f"{actor} escalated the difference")
    )
    lines = [
        f"{who} from {_the_stage(previous_stage)} to {_the_stage(stage)}.",
        f"Reason: {rationale}",
        _deadline_line(deadline),
    ]
    if to == "responder":
        return f"a professional difference has been escalated to you ({stage})", [
            *lines,
            "It has been assigned to you.",
        ]
    if to == "lead":
        return f"a professional difference has reached {stage}", [
            *lines,
            "You lead for the raising agency at this stage.",
        ]
    return f"escalated to {stage}", lines


def _decided(*, reference, stage, actor, outcome, decision, rationale, child_impact, **_):
    return "the partnership has decided", [
        f"{actor} recorded the partnership's decision at {_the_stage(stage)}. The difference is "
        "resolved.",
        _outcome_line(outcome),
        f"Decision: {decision}",
        f"Rationale: {rationale}",
        f"What this means for the child: {child_impact}",
    ]


def _withdrawn(
    *,
    reference,
    stage,
    actor,
    rationale,
    proposed_by=None,
    applied_after_no_reply=False,
    reply_by=None,
    comment="",
    **_,
):
    if proposed_by:
        return "the difference has been withdrawn", [
            f"The difference was withdrawn at {_the_stage(stage)}.",
            _proposal_line(proposed_by, applied_after_no_reply, reply_by, rationale),
            f"Comment: {comment}" if comment else "",
        ]
    return "the difference has been withdrawn", [
        f"{actor} withdrew the difference at {_the_stage(stage)}.",
        f"Reason: {rationale}",
    ]


def _extension_requested(
    *, reference, stage, to, requested_by, rationale, deadline, proposed_deadline, **_
):
    return f"more time asked for: to {when(proposed_deadline)}", [
        f"{requested_by} asks for the response at {_the_stage(stage)} to be due by "
        f"{when(proposed_deadline)} instead of {when(deadline)}.",
        f"Why: {rationale}",
        "The deadline moves only if you agree. You can agree, or refuse and say why; if nobody "
        f"answers by {when(deadline)}, the request lapses and the deadline stays.",
    ]


def _extension_agreed(
    *, reference, stage, to, actor, rationale, deadline, proposed_deadline, answer="", **_
):
    return f"more time agreed: the response is due by {when(proposed_deadline)}", [
        f"{actor} agreed that the response at {_the_stage(stage)} is now due by "
        f"{when(proposed_deadline)} (it was due by {when(deadline)}).",
        f"The reason given for more time: {rationale}",
        f"Comment: {answer}" if answer else "",
    ]


def _extension_refused(
    *, reference, stage, to, actor, deadline, proposed_deadline, answer="", **_
):
    return f"more time refused: the response is still due by {when(deadline)}", [
        f"{actor} did not agree to move the deadline at {_the_stage(stage)} to "
        f"{when(proposed_deadline)}.",
        f"Reason: {answer}",
        f"The response is still due by {when(deadline)}.",
    ]


def _extension_lapsed(*, reference, stage, to, deadline, proposed_deadline, **_):
    return "the request for more time lapsed", [
        f"The request to move the deadline at {_the_stage(stage)} to {when(proposed_deadline)} was "
        f"not answered by {when(deadline)}, so it lapsed and the deadline stands.",
        "Please respond as soon as you can." if to == "responder" else "",
    ]


_PROPOSALS = {"accept": "accepting the response", "withdraw": "withdrawing the difference"}


def _proposed(*, reference, stage, to, actor, proposal, rationale, reply_by, raiser, **_):
    what = _PROPOSALS[proposal]
    if to == "raiser":
        return f"{actor} proposes {what}: do you agree?", [
            f"{actor}, who leads for your agency at {_the_stage(stage)}, proposes {what}.",
            f"Their reason: {rationale}",
            f"It is your difference: confirm the proposal, or object and say why, by "
            f"{when(reply_by)}. If you object, the difference goes on. If you do not reply by "
            "then, the proposal takes effect.",
        ]
    return f"{actor} proposes {what}", [
        f"{actor} proposes {what} at {_the_stage(stage)}.",
        f"Their reason: {rationale}",
        f"{raiser} has until {when(reply_by)} to confirm or object.",
    ]


def _proposal_objected(*, reference, stage, actor, proposal, proposed_by, reason, **_):
    return f"{actor} objected to {_PROPOSALS[proposal]}", [
        f"{actor} objected to the proposal by {proposed_by} at {_the_stage(stage)}: "
        f"{_PROPOSALS[proposal]}. The difference goes on.",
        f"Their reason: {reason}",
    ]


def _advice(*, reference, stage, actor, advice, **_):
    return f"{actor} added advice", [
        f"{actor}, who supports the person who raised this difference, added advice to its "
        "record.",
        f"Advice: {advice}",
    ]


def _reassigned(*, reference, stage, to, actor, new_responder, rationale, deadline, **_):
    if to == "responder":
        return f"a professional difference has been assigned to you ({stage})", [
            f"{actor} assigned this difference to you at {_the_stage(stage)}.",
            f"Reason: {rationale}",
            _deadline_line(deadline),
        ]
    return f"now assigned to {new_responder}", [
        f"{actor} assigned the response at {_the_stage(stage)} to {new_responder}.",
        f"Reason: {rationale}",
        _deadline_line(deadline),
    ]


def _conversation(*, reference, stage, actor, held_on, participants, agreed, **_):
    return "a conversation was recorded", [
        f"{actor} recorded a conversation held on {held_on} at {_the_stage(stage)}.",
        f"Who took part: {participants}",
        f"What was agreed: {agreed}",
    ]


# --- Alerts to the partnership ---


def _urgent_raised(
    *, reference, stage, raiser, raising_agency, receiving_agency, deadline=None, **_
):
    return "an urgent difference has been raised", [
        f"{raiser} ({raising_agency}) has raised a professional difference with "
        f"{receiving_agency} and marked it urgent: the child may be at immediate risk of "
        "significant harm.",
        f"It opened at {_the_stage(stage)}. {_deadline_line(deadline)}",
        "The partnership is alerted to every urgent difference, so that it can check that "
        "immediate action has been taken and that the difference is moving.",
    ]


def _senior_stage(
    *, reference, stage, raising_agency, receiving_agency, deadline=None, rationale="", **_
):
    return f"a difference has reached {stage}", [
        f"The professional difference between {raising_agency} and {receiving_agency} has "
        f"reached {_the_stage(stage)}, the last before the partnership's own.",
        f"Reason given: {rationale}" if rationale else "",
        _deadline_line(deadline),
        "The partnership is alerted whenever a difference reaches the senior stage.",
    ]


def weekly_digest(*, week_of, lines) -> tuple[str, str]:
    """(subject, body) of the partnership's weekly digest: what is open, by stage and overdue."""
    total = sum(line.open for line in lines)
    late = sum(line.overdue for line in lines)
    subject = (
        f"Weekly digest, week of {long_date(week_of)}: "
        f"{plural(total, 'open difference')}, {late} overdue"
    )
    if not lines:
        return subject, "No professional difference is open."
    body = [f"Open professional differences on {long_date(week_of)}, by stage:"]
    for line in lines:
        body.append(
            f"Stage {line.level} ({line.name}): {line.open} open, {line.overdue} overdue, "
            f"{line.urgent} urgent, {line.awaiting_raiser} waiting for the raising side."
        )
    body.append(
        f"In all: {plural(total, 'open difference')}, {late} overdue. The unresolved list and "
        "the dashboard in escalate show each of them."
    )
    return subject, "\n\n".join(body)


# --- The deadline sweep ---


def automatic_escalation_reason(deadline) -> str:
    """The reason the system records when a missed deadline moves a difference on."""
    return (
        f"The response was due by {when(deadline)} and none was recorded, so the difference "
        "moved to the next stage automatically."
    )


def _reminder(*, reference, stage, raising_agency, deadline, time_left="", urgent=False, **_):
    return f"reminder: a response is due by {when(deadline)}", [
        f"The professional difference raised by {raising_agency} is waiting for your response "
        f"at {_the_stage(stage)}.",
        f"Your response is due by {when(deadline)}." + (f" {time_left}." if time_left else ""),
        "It is urgent: the child may be at immediate risk, and its deadline cannot be extended."
        if urgent
        else "If you need more time, you can ask the raising side to agree a later deadline, "
        "saying why.",
        "If it cannot be resolved at your level, you can escalate it to the next stage.",
    ]


def _overdue(
    *, reference, stage, to, deadline, next_stage=None, escalating=False, is_final=False, **_
):
    missed = (
        f"The response at {_the_stage(stage)} was due by {when(deadline)} and none was recorded."
    )
    if to == "responder":
        if escalating:
            follow = (
                f"The difference has moved to {_the_stage(next_stage)} automatically, and no "
                "longer waits for your response."
            )
        elif is_final:
            follow = "Please record the partnership's decision as soon as you can."
        else:
            follow = (
                "Please respond as soon as you can. The raising side can now escalate it to "
                f"{_the_stage(next_stage)}."
            )
        return f"the response was due by {when(deadline)} and is overdue", [missed, follow]
    if to == "partnership":
        if escalating:
            follow = f"It has moved to {_the_stage(next_stage)} automatically."
        elif is_final:
            follow = "The partnership's decision is now overdue."
        else:
            follow = f"The raising side can now escalate it to {_the_stage(next_stage)}."
        return f"overdue at {_the_stage(stage)}", [
            missed,
            follow,
            "The partnership is alerted whenever a deadline is missed at the senior or final "
            "stage.",
        ]
    if to == "next_responder":
        return f"a difference may be escalated to you ({next_stage})", [
            missed,
            f"If the raising side escalates it, it will come to you at {_the_stage(next_stage)}. "
            "You do not need to do anything yet.",
        ]
    if escalating:
        follow = f"The difference has moved to {_the_stage(next_stage)} automatically."
    elif is_final:
        follow = "The partnership has been told that its decision is overdue."
    else:
        follow = (
            f"You can now escalate it to {_the_stage(next_stage)}, or keep waiting for the "
            "response."
        )
    return "the response is overdue", [missed, follow]


def _raiser_reminder(
    *,
    reference,
    stage,
    receiving_agency,
    responded_at,
    outcome,
    reply_by=None,
    manager_told_at=None,
    **_,
):
    local = to_local(responded_at)
    on = day_and_date(local)
    decided = _what_was_decided(outcome)
    return "a response is waiting for your answer", [
        f"{receiving_agency} responded on {on} at {_the_stage(stage)}, and {decided}.",
        "The difference is waiting for you: accept the response, or escalate the difference to "
        "the next stage if you still disagree."
        + (f" It was due by {when(reply_by)}." if reply_by else ""),
        (
            f"If there is no answer by {when(manager_told_at)}, your line manager or lead will "
            "be told."
            if manager_told_at
            else ""
        ),
    ]


def _raising_side_silent(*, reference, stage, raiser, reply_by, closes_at, **_):
    return f"{raiser} has not answered a response", [
        f"A response at {_the_stage(stage)} has waited for {raiser} to accept it or escalate the "
        f"difference since {when(reply_by)}, and they were reminded.",
        "You are told as their line manager, or as a lead for the raising side. Please make sure "
        "that the response is accepted, or the difference escalated.",
        f"If nobody answers by {when(closes_at)}, the difference will close as \u201cno reply "
        "from the raising side\u201d.",
    ]


def no_reply_reason(reply_by) -> str:
    """The reason the system records when it closes a difference the raising side never
    answered."""
    return (
        f"The raising side was asked to accept the response or escalate the difference by "
        f"{when(reply_by)}. They were reminded, then their line manager or lead was told, and "
        "after a third reply window there was still no answer, so the difference closed: no "
        "reply from the raising side."
    )


def _closed_no_reply(*, reference, stage, reason, **_):
    return "closed: no reply from the raising side", [
        f"The difference closed at {_the_stage(stage)} because nobody on the raising side accepted "
        "the response or escalated it.",
        f"Reason: {reason}",
    ]


# --- Administration: a recomputed deadline ---


def _deadline_recomputed(*, reference, stage, to, previous_deadline, deadline, overdue, **_):
    lines = [
        f"The partnership's administrator applied the current stage policy and working calendar "
        f"to this difference, so the deadline at {_the_stage(stage)} has been recomputed.",
        f"The response was due by {when(previous_deadline)}. It is now due by {when(deadline)}.",
    ]
    if overdue:
        lines.append("That deadline has already passed, so the response is now overdue.")
    if to == "responder":
        lines.append("It is still assigned to you.")
    return f"the deadline is now {when(deadline)}", lines


_WRITERS = {
    "raising_side_silent": _raising_side_silent,
    "closed_no_reply": _closed_no_reply,
    "proposed": _proposed,
    "proposal_objected": _proposal_objected,
    "advice": _advice,
    "urgent_raised": _urgent_raised,
    "senior_stage": _senior_stage,
    "deadline_recomputed": _deadline_recomputed,
    "reminder": _reminder,
    "overdue": _overdue,
    "raiser_reminder": _raiser_reminder,
    "raised": _raised,
    "responded": _responded,
    "accepted": _accepted,
    "escalated": _escalated,
    "decided": _decided,
    "withdrawn": _withdrawn,
    "extension_requested": _extension_requested,
    "extension_agreed": _extension_agreed,
    "extension_refused": _extension_refused,
    "extension_lapsed": _extension_lapsed,
    "reassigned": _reassigned,
    "conversation": _conversation,
}


# What follows an outcome has words of its own (escalate.messages_follow_through).
from escalate.messages_follow_through import WRITERS as _FOLLOW_THROUGH  # noqa: E402

_WRITERS.update(_FOLLOW_THROUGH)
