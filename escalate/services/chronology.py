"""The outcome on the child's own record (issue: follow-through): at every outcome, an entry for
each agency to write in its own system; an agency's confirmation that it did; and the sweep's one
reminder to the entry's owner. Each public function is one transaction, but ``add_entries``,
which is written in the outcome's own transaction.
"""

from datetime import datetime

import sqlalchemy as sa

from escalate import chronology, deadlines, workflow
from escalate.extensions import db
from escalate.models import (
    ChronologyEntry,
    Difference,
    Event,
    EventKind,
    Side,
    User,
)
from escalate.queries.conditions import visible_to
from escalate.queries.differences import actor_for, situation
from escalate.queries.setup import working_calendar
from escalate.services._records import (
    commit_or_stale,
    lock_difference,
    message_facts,
    notify_without_event,
    record_event,
    stale_on_conflict,
)
from escalate.workflow import NotFound


def add_entries(difference: Difference, event: Event, actor: User | None, now: datetime) -> None:
    """An outcome was recorded: one entry for the raising agency and one for the receiving
    agency, in the outcome's transaction (``record_event`` calls this for every outcome)."""
    stage = next((s for s in difference.stages if s.level == event.stage_level), None)
    receiving = difference.receiving_agency_id
    responders = [
        u.id for u in (stage.people(Side.RESPONDER) if stage else []) if u.agency_id == receiving
    ]
    remind_at = working_calendar().deadline(now, deadlines.RECORD_REMINDER_WORKING_DAYS)
    for side, agency_id in (
        (chronology.RAISING, difference.raising_agency_id),
        (chronology.RECEIVING, receiving),
    ):
        owner = chronology.owner_id(
            side,
            raiser_id=difference.raiser_id,
            agency_id=agency_id,
            actor_id=actor.id if actor else None,
            actor_agency_id=actor.agency_id if actor else None,
            responder_ids_of_agency=responders,
            named_professional_id=difference.named_professional_id,
        )
        db.session.add(
            ChronologyEntry(
                difference_id=difference.id,
                event_id=event.id,
                agency_id=agency_id,
                owner_id=owner,
                created_at=now,
                remind_at=remind_at,
            )
        )
    db.session.flush()


@stale_on_conflict
def confirm_recorded(user: User, entry_id: int, recorded_on, now: datetime) -> ChronologyEntry:
    """An agency confirms it has written the outcome on the child's own record, on
    ``recorded_on``: the entry is done, and its history says so."""
    difference_id = db.session.scalar(
        sa.select(ChronologyEntry.difference_id).where(ChronologyEntry.id == entry_id)
    )
    difference = (
        lock_difference(Difference.id == difference_id, visible_to(user))
        if difference_id is not None
        else None
    )
    if difference is None:
        raise NotFound("Difference not found.")
    entry = db.session.get(ChronologyEntry, entry_id, populate_existing=True)
    workflow.check_not_anonymised(difference.anonymised_at is not None)
    agency = entry.agency.name
    chronology.check_confirm(
        user.role,
        user.agency_id,
        entry.agency_id,
        agency,
        takes_part=workflow.takes_part(actor_for(user), situation(difference, now)),
    )
    if entry.confirmed_at is not None:
        by = entry.confirmed_by.name if entry.confirmed_by else ""
        raise chronology.already_confirmed(agency, entry.recorded_on, by)
    outcome = entry.event
    chronology.check_recorded_on(recorded_on, outcome_at=outcome.at, now=now)
    entry.confirmed_at, entry.confirmed_by_id, entry.recorded_on = now, user.id, recorded_on
    record_event(
        difference,
        EventKind.CHRONOLOGY_RECORDED,
        user,
        now,
        {
            "agency": agency,
            "recorded_on": recorded_on.isoformat(),
            "outcome": str(outcome.kind),
            "outcome_sequence": outcome.sequence,
        },
        deadline=None,
    )
    commit_or_stale()
    return entry


# --- The sweep's reminder ----------------------------------------------------------------------


def due_reminders(now: datetime) -> list[tuple[int, bool]]:
    """Entries still to confirm whose reminder is due (a range on the partial index), each with
    whether it has someone to remind (an owner whose account is active)."""
    return [
        (entry_id, bool(active))
        for entry_id, active in db.session.execute(
            sa.select(ChronologyEntry.id, User.active)
            .outerjoin(User, User.id == ChronologyEntry.owner_id)
            .where(
                ChronologyEntry.confirmed_at.is_(None),
                ChronologyEntry.reminded_at.is_(None),
                ChronologyEntry.remind_at <= now,
            )
            .order_by(ChronologyEntry.remind_at, ChronologyEntry.id)
        )
    ]


def remind(entry_id: int, now: datetime) -> bool | None:
    """Remind one due entry's owner, once: claimed by a conditional UPDATE of ``reminded_at``
    (a second sweep, or one on another machine, claims nothing: None). An entry with nobody to
    remind is claimed all the same, so that it is not read again (False). The caller commits."""
    claimed = db.session.execute(
        sa.update(ChronologyEntry)
        .where(
            ChronologyEntry.id == entry_id,
            ChronologyEntry.confirmed_at.is_(None),
            ChronologyEntry.reminded_at.is_(None),
        )
        .values(reminded_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        return None
    entry = db.session.get(ChronologyEntry, entry_id)
    if entry.owner is None or not entry.owner.active:
        return False
    _remind(entry, now)
    return True


def _remind(entry: ChronologyEntry, now: datetime) -> None:
    difference, outcome = entry.difference, entry.event
    facts_ = message_facts(difference, None, None) | {
        "agency": entry.agency.name,
        "outcome_words": chronology.outcome_words(
            outcome.kind, outcome.details, outcome.stage_level
        ),
        "outcome_at": outcome.at,
    }
    notify_without_event(difference, now, [entry.owner], "record_reminder", "owner", facts_)
