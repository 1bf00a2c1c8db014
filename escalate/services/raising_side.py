"""No difference left hanging (product.md §4): after a response, the raising side has a reply
window to accept or escalate; then a reminder; after a second window their line manager or lead
is told; after a third the difference closes as "no reply from the raising side". The sweep
calls these with the difference's row held, in its transaction.
"""

from datetime import datetime

from escalate import messages
from escalate.models import Difference, EventKind, Side, Stage, State
from escalate.queries.setup import working_calendar
from escalate.services._records import (
    message_facts,
    notify_everyone,
    notify_people,
    notify_without_event,
    record_event,
)
from escalate.services._stages import close_difference, policy_stage_at

NO_REPLY = "no_reply"  # the difference's outcome when it closes for no reply


def schedule_next_window(stage: Stage) -> None:
    """The end of the next reply window: when the sweep's next step for the raising side is due."""
    stage.raiser_remind_at = working_calendar().deadline(
        stage.raiser_remind_at, policy_stage_at(stage.level).raiser_reply_days
    )


def _raising_managers(difference: Difference, stage: Stage) -> list:
    """The raiser's line manager and the raising side's leads at this stage (not the raiser)."""
    manager = difference.raiser.line_manager
    leads = [u for u in stage.people(Side.LEAD) if u.id != difference.raiser_id]
    return [u for u in [manager, *leads] if u is not None]


def tell_raisers_manager(difference: Difference, stage: Stage, now: datetime) -> None:
    """A second reply window has passed: the raiser's line manager or lead is told (their
    supporters too, when there is neither)."""
    reply_by = stage.reply_by
    schedule_next_window(stage)
    told = _raising_managers(difference, stage) or [s.user for s in difference.supporters]
    facts_ = message_facts(difference, stage, None) | {
        "raiser": difference.raiser.name,
        "reply_by": reply_by,
        "closes_at": stage.raiser_remind_at,
    }
    notify_without_event(difference, now, told, "raising_side_silent", "lead", facts_)


def close_for_no_reply(difference: Difference, stage: Stage, now: datetime) -> None:
    """A third window has passed: close as "no reply from the raising side", with the system's
    reason on the record, and tell everyone."""
    reason = messages.no_reply_reason(stage.reply_by)
    outcome = stage.outcome.value if stage.outcome else ""
    close_difference(difference, stage, State.CLOSED_NO_REPLY, NO_REPLY, now)
    data = {"reason": reason, "response_outcome": outcome}
    event = record_event(difference, EventKind.CLOSED_NO_REPLY, None, now, data, deadline=None)
    facts_ = message_facts(difference, stage, None) | data
    notify_everyone(difference, event, now, "closed_no_reply", facts_)
    told = [*_raising_managers(difference, stage), *(s.user for s in difference.supporters)]
    notify_people(difference, event, now, told, "closed_no_reply", "involved", facts_)
