"""The partnership's learning (product.md §7): a learning note on a closed difference, with its
recommendation, owner, due date and status; updates to it; and the impact the partnership
writes for a report's period. Each public function is one transaction."""

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from escalate import calendar, learning, wording, workflow
from escalate.calendar import Period
from escalate.extensions import db
from escalate.models import (
    Agency,
    Difference,
    EventKind,
    LearningNote,
    LearningStatus,
    ReportImpact,
    User,
)
from escalate.queries.conditions import visible_to
from escalate.queries.differences import actor_for, situation
from escalate.services._records import (
    commit_or_stale,
    lock_difference,
    message_facts,
    notify_apart_from_differences,
    notify_people,
    record_admin_change,
    record_event,
    stale_on_conflict,
)
from escalate.workflow import FieldError, FieldProblems, NotFound


@dataclass
class Owner:
    """Who owns a recommendation, and by when: as chosen on a form (ids not yet checked)."""

    agency_id: int | None
    person_id: int | None = None  # 0 or None: nobody named
    due_on: date | None = None


def _check_owner(owner: Owner) -> tuple[Agency | None, User | None]:
    agency = db.session.get(Agency, owner.agency_id) if owner.agency_id else None
    person = db.session.get(User, owner.person_id) if owner.person_id else None
    if owner.person_id and (
        person is None or not person.active or person.role not in learning.OWNER_ROLES
    ):
        raise FieldError("owner", "Select someone who works for the owning agency, or nobody")
    learning.check_owner(
        owner.agency_id,
        person.agency_id if person else None,
        agency_exists=agency is not None,
    )
    return agency, person


def _owner_facts(agency: Agency | None, person: User | None, due_on: date | None) -> dict:
    return {
        "owner_agency_id": agency.id if agency else None,
        "owner_agency": agency.name if agency else None,
        "owner_id": person.id if person else None,
        "owner": person.name if person else None,
        "due_on": due_on.isoformat() if due_on else None,
    }


def _tell_owner(difference, event, now, person: User | None, facts_: dict, role: str) -> None:
    """The owner is told; one who may not see the difference (the recommendation's agency may
    be neither of its two) is not told which difference it came from."""
    if person is None:
        return
    if workflow.can_see(actor_for(person), situation(difference, now)):
        notify_people(difference, event, now, [person], "learning_owner", role, facts_)
    else:
        notify_apart_from_differences(now, [person], "learning_owner", role, facts_)


@stale_on_conflict
def add_learning_note(
    user: User,
    reference: str,
    text: str,
    now: datetime,
    *,
    recommendation: str = "",
    owner: Owner | None = None,
) -> LearningNote:
    """The partnership records what it learned from a closed difference and what should be done
    about it, by whom and by when; on its history too. The owner, if a person, is told."""
    # Locked like any action, so two notes at once take the next two places in the history.
    difference = lock_difference(
        Difference.reference == (reference or "").strip().upper(), visible_to(user)
    )
    if difference is None:
        raise NotFound("Difference not found.")
    workflow.check_learning_note(actor_for(user), situation(difference, now))
    owner = owner or Owner(None)
    today = calendar.to_local(now).date()
    problems = FieldProblems()
    with problems.check():
        text = workflow.require_rationale(text, field="text", what="what the partnership learned")
    with problems.check():
        recommendation = workflow.require_rationale(
            recommendation, field="recommendation", what="what the partnership recommends"
        )
    with problems.check():
        agency, person = _check_owner(owner)
    with problems.check():
        learning.check_due_date(owner.due_on, today)
    problems.raise_any()
    note = LearningNote(
        difference_id=difference.id,
        author_id=user.id,
        text=text,
        created_at=now,
        recommendation=recommendation,
        owner_agency_id=agency.id,
        owner_id=person.id if person else None,
        due_on=owner.due_on,
        status=LearningStatus.OPEN,
        status_changed_at=now,
    )
    db.session.add(note)
    data = {
        "text": text,
        "recommendation": recommendation,
        **_owner_facts(agency, person, owner.due_on),
        "status": LearningStatus.OPEN.value,
    }
    event = record_event(difference, EventKind.LEARNING_NOTE, user, now, data, deadline=None)
    facts_ = message_facts(difference, None, user) | {
        "recommendation": recommendation,
        "owner_agency": agency.name,
        "due_on": wording.long_date(owner.due_on),
        "status": LearningStatus.OPEN.label,
    }
    _tell_owner(difference, event, now, person, facts_, "new")
    commit_or_stale()
    return note


@stale_on_conflict
def update_learning_note(
    user: User, note_id: int, *, status, owner: Owner, reason: str, now: datetime
) -> LearningNote:
    """Change a learning note's status, owner or due date, saying why: an event on the
    difference's history; a newly named owner is told."""
    learning.check_may_write(user.role)
    found = db.session.get(LearningNote, note_id)
    if found is None:
        raise NotFound("Learning note not found.")
    difference = lock_difference(Difference.id == found.difference_id, visible_to(user))
    if difference is None:
        raise NotFound("Learning note not found.")
    db.session.refresh(found)
    today = calendar.to_local(now).date()
    problems = FieldProblems()
    with problems.check():
        status = learning.check_status(status)
    with problems.check():
        agency, person = _check_owner(owner)
    with problems.check():
        reason = workflow.require_rationale(reason, field="reason", what="why it changed")
    problems.raise_any()
    before = learning.Standing(found.status, found.owner_agency_id, found.owner_id, found.due_on)
    after = learning.Standing(status, agency.id, person.id if person else None, owner.due_on)
    changed = learning.changes(before, after, today)
    data: dict = {"note_id": found.id, "reason": reason}
    if "status" in changed:
        data["status_from"], data["status_to"] = before.status.value, status.value
        found.status, found.status_changed_at = status, now
    if "owner_agency_id" in changed or "owner_id" in changed:
        data["owner_from"] = _owner_name(found.owner_agency, found.owner)
        data["owner_to"] = _owner_name(agency, person)
    if "due_on" in changed:
        data["due_from"] = before.due_on.isoformat() if before.due_on else None
        data["due_to"] = owner.due_on.isoformat()
    found.owner_agency_id, found.owner_id, found.due_on = (
        after.owner_agency_id,
        after.owner_id,
        (after.due_on),
    )
    event = record_event(difference, EventKind.LEARNING_UPDATED, user, now, data, deadline=None)
    if "owner_id" in changed and person is not None:
        facts_ = message_facts(difference, None, user) | {
            "recommendation": found.recommendation,
            "owner_agency": agency.name,
            "due_on": wording.long_date(after.due_on) if after.due_on else "",
            "status": status.label,
            "reason": reason,
        }
        _tell_owner(difference, event, now, person, facts_, "handed")
    commit_or_stale()
    return found


def _owner_name(agency: Agency | None, person: User | None) -> str:
    if agency is None:
        return "Not set"
    return f"{person.name}, {agency.name}" if person else agency.name


def save_report_impact(user: User, period: Period, text: str, now: datetime) -> ReportImpact:
    """What the partnership writes about the difference its work made in a period: one text a
    period, replaced by the latest, which keeps who wrote it and when; each change is on the
    record of changes."""
    learning.check_may_write(user.role)
    text = workflow.require_rationale(
        text, field="text", what="the impact of the partnership's work"
    )
    impact = db.session.scalar(
        sa.select(ReportImpact)
        .where(ReportImpact.period_start == period.first, ReportImpact.period_end == period.last)
        .with_for_update()
    )
    before = {"text": impact.text} if impact else None
    if impact is None:
        impact = ReportImpact(period_start=period.first, period_end=period.last)
        db.session.add(impact)
    elif impact.text == text:
        raise FieldError("text", "Nothing has changed: edit the impact, then save it")
    impact.text, impact.written_by_id, impact.written_at = text, user.id, now
    db.session.flush()
    record_admin_change(
        user,
        now,
        entity="report impact",
        entity_id=impact.id,
        action="changed" if before else "created",
        summary=f"The impact for {period.label}",
        before=before,
        after={"text": text},
    )
    commit_or_stale()
    return impact
