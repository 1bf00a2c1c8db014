"""Support from the first step (product.md §4): the raiser's supporter adds advice to the
difference's record. Supporters take no other action. One transaction per public function.
"""

from datetime import datetime

from escalate import workflow
from escalate.models import Difference, EventKind, Side, User
from escalate.services._records import (
    commit_or_stale,
    message_facts,
    notify_people,
    record_event,
    stale_on_conflict,
)
from escalate.services.differences import _begin
from escalate.workflow import Action


@stale_on_conflict
def add_advice(user: User, difference_id, version, *, advice, now: datetime) -> Difference:
    """A supporter's advice, on the record for the parties to read; the raiser is told."""
    difference, stage = _begin(user, difference_id, version, Action.ADD_ADVICE, now)
    advice = workflow.require_rationale(advice, field="advice", what="your advice")
    supporter = next(s for s in difference.supporters if s.user_id == user.id)
    data = {"advice": advice, "basis": supporter.basis.value}
    event = record_event(difference, EventKind.ADVICE, user, now, data)
    facts_ = message_facts(difference, stage, user) | data
    notify_people(difference, event, now, [difference.raiser], "advice", "raiser", facts_)
    if stage is not None:
        notify_people(difference, event, now, stage.people(Side.LEAD), "advice", "lead", facts_)
    commit_or_stale()
    return difference
