"""Support from the first step (product.md §4): the raiser's supporter adds advice to the
difference's record. Supporters take no other action. One transaction per public function.
"""

from datetime import datetime

from escalate import workflow
from escalate.extensions import db
from escalate.models import AgencySafeguardingLead, Difference, EventKind, Side, User
from escalate.queries.differences import person_for
from escalate.queries.setup import get_agency
from escalate.services._records import (
    commit_or_stale,
    message_facts,
    notify_people,
    record_admin_change,
    record_event,
    require_admin,
    stale_on_conflict,
)
from escalate.services.differences import _begin
from escalate.workflow import Action, FieldError, NotFound


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


# --- The agencies' designated safeguarding leads (set by the administrator) --------------------


def add_safeguarding_lead(actor: User | None, agency_id: int, *, user_id, now: datetime) -> str:
    """Name a professional of the agency its designated safeguarding lead: they support its
    raisers who have no line manager. Returns their name."""
    require_admin(actor)
    agency = get_agency(agency_id)
    user = db.session.get(User, user_id) if user_id else None
    if not workflow.is_professional_of(person_for(user), agency.id):
        raise FieldError(
            "user", f"Select an active practitioner, manager or senior manager of {agency.name}"
        )
    if any(lead.agency_id == agency.id for lead in _leads_of(user)):
        raise FieldError("user", f"{user.name} is already a designated safeguarding lead")
    lead = AgencySafeguardingLead(agency_id=agency.id, user=user)
    db.session.add(lead)
    db.session.flush()
    record_admin_change(
        actor,
        now,
        entity="safeguarding lead",
        entity_id=lead.id,
        action="added",
        summary=f"{user.name} is a designated safeguarding lead for {agency.name}",
        after={"agency": agency.name, "user": user.email},
    )
    db.session.commit()
    return user.name


def remove_safeguarding_lead(actor: User | None, agency_id: int, lead_id: int, now) -> str:
    """Stop someone being the agency's designated safeguarding lead; returns their name. The
    differences they already support keep them as supporter."""
    require_admin(actor)
    lead = db.session.get(AgencySafeguardingLead, lead_id)
    if lead is None or lead.agency_id != agency_id:
        raise NotFound("Designated safeguarding lead not found.")
    agency, name = get_agency(agency_id), lead.user.name
    record_admin_change(
        actor,
        now,
        entity="safeguarding lead",
        entity_id=lead.id,
        action="removed",
        summary=f"{name} is no longer a designated safeguarding lead for {agency.name}",
        before={"agency": agency.name, "user": lead.user.email},
    )
    db.session.delete(lead)
    db.session.commit()
    return name


def _leads_of(user: User) -> list[AgencySafeguardingLead]:
    return list(
        db.session.scalars(
            db.select(AgencySafeguardingLead).where(AgencySafeguardingLead.user_id == user.id)
        )
    )
