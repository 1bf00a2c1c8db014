"""The words of the follow-through's notifications: professionals' meetings, agreed actions,
outcomes to write on an agency's own record, and a learning recommendation's owner. Part of
``escalate.messages``, whose ``compose`` writes them."""

from datetime import date

from escalate.messages import _the_stage
from escalate.model_followthrough import MeetingKind
from escalate.wording import day_and_date, long_date

# --- Professionals' meetings ---


def _meeting_kind(kind) -> str:
    try:
        return MeetingKind(kind).in_a_sentence
    except ValueError:
        return "a meeting"


def _meeting_arranged(*, reference, stage, actor, meeting_kind, meets_on, chair, invited, **_):
    what = _meeting_kind(meeting_kind)
    return f"{what[0].upper()}{what[1:]} is arranged for {meets_on}", [
        f"{actor} arranged {what} about this difference, at {_the_stage(stage)}.",
        f"Date: {meets_on}.",
        f"Chair: {chair}",
        f"Invited: {invited}",
    ]


def _meeting_held(*, reference, stage, actor, meeting_kind, meets_on, attendees, agreed, **_):
    what = _meeting_kind(meeting_kind)
    return "the outcome of the meeting was recorded", [
        f"{actor} recorded the outcome of {what} held on {meets_on}.",
        f"Who attended: {attendees}",
        f"What was agreed: {agreed}",
    ]


def _meeting_outcome_reminder(*, reference, stage, meeting_kind, meets_on, **_):
    what = _meeting_kind(meeting_kind)
    return "record the outcome of the meeting", [
        f"You arranged {what} about this difference on {meets_on}. Its outcome has not been "
        "recorded yet.",
        "Record who attended and what was agreed, so the people involved can see it.",
    ]


def _meeting_minutes_reminder(*, reference, stage, meeting_kind, meets_on, minutes_due_on, **_):
    what = _meeting_kind(meeting_kind)
    return f"the meeting's minutes are due {minutes_due_on}", [
        f"You arranged {what} about this difference on {meets_on}. Its minutes are due to be "
        f"recorded by {minutes_due_on}, and have not been recorded yet.",
        "Record the day the minutes were recorded once they are.",
    ]


# --- Agreed actions ---


def _due_on(due_on) -> str:
    return long_date(date.fromisoformat(due_on)) if isinstance(due_on, str) else long_date(due_on)


def _action_due(*, reference, to, number, action, agency, due_on, owner, **_):
    """The sweep, on an agreed action's due date: its owner is asked, the raiser told."""
    if to == "owner":
        return f"is agreed action {number} done?", [
            f"Action {number} agreed on {reference} is due today ({_due_on(due_on)}): {action}",
            f"Agency: {agency}.",
            "Is it done? If it is, mark it as done on the difference's page, and say what was "
            "done. If it is not done by the end of today, it will show as overdue.",
        ]
    return f"agreed action {number} is due today", [
        f"Action {number} agreed on {reference} is due today ({_due_on(due_on)}): {action}",
        f"Agency: {agency}. {owner} has been asked whether it is done.",
        "If it is not done by the end of today, you can raise a follow-up difference from it.",
    ]


def _action_done(*, reference, actor, number, action, agency, what_was_done, **_):
    return f"agreed action {number} is done", [
        f"{actor} ({agency}) marked action {number} agreed on {reference} as done: {action}",
        f"What was done: {what_was_done}",
    ]


# --- Follow-through: the outcome on the child's own record ---


def _record_reminder(*, reference, agency, outcome_words, outcome_at, **_):
    return "record the outcome on your agency's record of the child", [
        f"The outcome of this professional difference ({outcome_words[:1].lower()}"
        f"{outcome_words[1:]}, on {day_and_date(outcome_at)}) is not yet confirmed as recorded "
        f"in {agency}'s own system.",
        "Please write it on the child's record in your agency's system (its case file in "
        "Liquidlogic, Mosaic, EMIS, SystmOne or the like). The entry, ready to copy, is on the "
        "difference's page under \u201cFor your agency's records\u201d.",
        "Then confirm there the date it was recorded, so that nobody is reminded again.",
    ]


def _learning_owner(
    *, reference, to, actor, recommendation, owner_agency, due_on, status, reason="", **_
):
    """A partnership member named someone as the owner of a learning note's recommendation."""
    # Someone who may not see the difference is not told which one it was.
    learned_from = f"the learning on difference {reference}" if reference else "its learning"
    lines = [
        f"{actor} of the safeguarding partnership has named you as the owner of a "
        f"recommendation from {learned_from}, for {owner_agency}.",
        f"The recommendation: {recommendation}",
        f"It is due by {due_on}. Its status: {status}." if due_on else f"Its status: {status}.",
    ]
    if to == "handed" and reason:
        lines.append(f"Why it was handed to you: {reason}")
    lines.append("Tell the partnership when it is in progress and when it is done.")
    return "you own a recommendation from the partnership's learning", lines


WRITERS = {
    "meeting_arranged": _meeting_arranged,
    "meeting_held": _meeting_held,
    "meeting_outcome_reminder": _meeting_outcome_reminder,
    "meeting_minutes_reminder": _meeting_minutes_reminder,
    "action_due": _action_due,
    "action_done": _action_done,
    "record_reminder": _record_reminder,
    "learning_owner": _learning_owner,
}
