"""Erasing what people typed, while the history still verifies: the retention policy, applied by
the sweep, and the partnership's correction of a mistaken entry.

A text is erased by putting the words of ``history.REMOVED`` in its place and noting in the
difference's ``erasures`` which text it was, why and by which event; that event (``anonymised``
or ``corrected``) then vouches for the row as it stands. The events stay sealed over their
commitments to the texts, so the history still verifies (escalate.history).
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from escalate import history, policy, workflow
from escalate.extensions import db
from escalate.models import (
    AgreedAction,
    ChronologyEntry,
    Difference,
    Event,
    EventKind,
    ExtensionRequest,
    LearningNote,
    Notification,
    ProfessionalsMeeting,
    Proposal,
    Stage,
    User,
)
from escalate.queries.conditions import visible_to
from escalate.queries.differences import actor_for, situation
from escalate.services._records import (
    commit_or_stale,
    lock_difference,
    record_event,
    stale_on_conflict,
)
from escalate.wording import (
    EVENT_TEXT_LABELS,
    MAX_CHILD_INITIALS_CHARACTERS,
    MAX_CHILD_REFERENCE_CHARACTERS,
    MAX_TEXT_CHARACTERS,
    ROW_TEXT_LABELS,
)
from escalate.workflow import FieldError, NotFound, StaleDifference

RETAINED = history.REMOVED[history.RETENTION]
CORRECTED = history.REMOVED[history.CORRECTION]


# --- The retention policy ----------------------------------------------------------------------


def due_for_anonymising(now: datetime, years: int) -> list[tuple[int, str]]:
    """(id, reference) of every difference closed ``years`` or more before ``now`` and not yet
    anonymised, the longest closed first (an indexed range on ``closed_at``)."""
    cutoff = policy.retention_cutoff(now, years)
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(Difference.id, Difference.reference)
            .where(Difference.closed_at <= cutoff, Difference.anonymised_at.is_(None))
            .order_by(Difference.closed_at, Difference.id)
        )
    ]


def anonymise_due(now: datetime, years: int, *, dry_run: bool = False) -> tuple[list[str], int]:
    """Anonymise every difference the retention policy says is due at ``now``, one transaction
    each; return their references and how many another sweep reached first. With ``dry_run``,
    the references only, and nothing changed."""
    due = due_for_anonymising(now, years)
    db.session.rollback()  # end the read: each difference below is its own transaction
    if dry_run:
        return [reference for _, reference in due], 0
    done, skipped = [], 0
    for difference_id, reference in due:
        try:
            if anonymise(difference_id, now, years):
                db.session.commit()
                done.append(reference)
            else:
                db.session.rollback()
                skipped += 1
        except (IntegrityError, StaleDataError):
            db.session.rollback()
            skipped += 1
    return done, skipped


def anonymise(difference_id: int, now: datetime, years: int) -> bool:
    """Replace the child's identifiers and every free text of a closed difference (its row, its
    events, its notifications, its learning notes) with the words of the retention policy, keep
    its figures and dates, and record it in its history. False if it is not due (another sweep
    got there first). The caller commits."""
    difference = lock_difference(
        Difference.id == difference_id,
        Difference.anonymised_at.is_(None),
        Difference.closed_at.is_not(None),
    )
    if difference is None:
        return False
    by = _next_sequence(difference.id)
    erasures = dict(difference.erasures or {})
    removed = 0
    for name in history.DIFFERENCE_TEXTS:
        if (getattr(difference, name) or "") not in ("", RETAINED):
            setattr(difference, name, RETAINED)
            erasures[f"row:{name}"] = {"why": history.RETENTION, "by": by}
            removed += 1
    if difference.child_date_of_birth is not None:
        difference.child_date_of_birth = None
        erasures["row:child_date_of_birth"] = {"why": history.RETENTION, "by": by}
        removed += 1
    already = history.erased_in(erasures)
    table = Event.__table__
    for event in db.session.execute(
        sa.select(table.c.id, table.c.sequence, table.c.texts).where(
            table.c.difference_id == difference.id
        )
    ):
        texts = dict(event.texts or {})
        for name, text in texts.items():
            erased_as = already.get(event.sequence, {}).get(name)
            if not text or (erased_as and text == history.REMOVED.get(erased_as)):
                continue  # nothing there, or erased already (as a correction)
            texts[name] = RETAINED
            erasures[f"{event.sequence}:{name}"] = {"why": history.RETENTION, "by": by}
            removed += 1
        if texts != (event.texts or {}):
            db.session.execute(sa.update(table).where(table.c.id == event.id).values(texts=texts))
    # What was sent and noted carries the same texts.
    db.session.execute(
        sa.update(Notification)
        .where(Notification.difference_id == difference.id, Notification.body != RETAINED)
        .values(body=RETAINED)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.update(LearningNote)
        .where(
            LearningNote.difference_id == difference.id,
            sa.or_(LearningNote.text != RETAINED, LearningNote.recommendation != RETAINED),
        )
        .values(
            text=RETAINED,
            recommendation=sa.case((LearningNote.recommendation == "", ""), else_=RETAINED),
        )
        .execution_options(synchronize_session=False)
    )
    # So do the requests for more time and the leads' proposals.
    stage_ids = sa.select(Stage.id).where(Stage.difference_id == difference.id)
    db.session.execute(
        sa.update(ExtensionRequest)
        .where(ExtensionRequest.stage_id.in_(stage_ids))
        .values(
            rationale=RETAINED, answer=sa.case((ExtensionRequest.answer == "", ""), else_=RETAINED)
        )
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.update(Proposal)
        .where(Proposal.difference_id == difference.id)
        .values(rationale=RETAINED)
        .execution_options(synchronize_session=False)
    )
    # And the professionals' meetings: who was invited, chaired, came, and what was agreed.
    db.session.execute(
        sa.update(ProfessionalsMeeting)
        .where(ProfessionalsMeeting.difference_id == difference.id)
        .values(
            invited=RETAINED,
            chair=RETAINED,
            attendees=sa.case((ProfessionalsMeeting.attendees == "", ""), else_=RETAINED),
            agreed=sa.case((ProfessionalsMeeting.agreed == "", ""), else_=RETAINED),
        )
        .execution_options(synchronize_session=False)
    )
    # And the actions agreed in its responses: what each was, and what was done.
    db.session.execute(
        sa.update(AgreedAction)
        .where(AgreedAction.difference_id == difference.id)
        .values(
            what=RETAINED,
            done_note=sa.case((AgreedAction.done_note == "", ""), else_=RETAINED),
        )
        .execution_options(synchronize_session=False)
    )
    # Nothing more is written on the agencies' records of an anonymised difference: nobody is
    # asked to any longer (its entries still to confirm leave their owners' lists).
    db.session.execute(
        sa.update(ChronologyEntry)
        .where(
            ChronologyEntry.difference_id == difference.id,
            ChronologyEntry.confirmed_at.is_(None),
        )
        .values(owner_id=None)
        .execution_options(synchronize_session=False)
    )
    difference.erasures = erasures
    difference.anonymised_at = now
    record_event(
        difference,
        EventKind.ANONYMISED,
        None,
        now,
        {"retention_years": years, "texts_removed": removed},
        deadline=None,
    )
    return True


def _next_sequence(difference_id: int) -> int:
    last = db.session.scalar(
        sa.select(sa.func.max(Event.sequence)).where(Event.difference_id == difference_id)
    )
    return (last or 0) + 1


# --- Correcting a mistaken entry ---------------------------------------------------------------


def entry_place(entry: str) -> tuple[int | None, str] | None:
    """``"row:reasons"`` -> (None, "reasons"); ``"3:rationale"`` -> (3, "rationale"); else None."""
    where, _, name = (entry or "").strip().partition(":")
    if where == "row" and name in history.DIFFERENCE_TEXTS:
        return None, name
    if where.isascii() and where.isdigit() and 0 < len(where) < 10 and name in history.EVENT_TEXTS:
        return int(where), name
    return None


LIMITS = {
    "child_initials": MAX_CHILD_INITIALS_CHARACTERS,
    "child_reference": MAX_CHILD_REFERENCE_CHARACTERS,
}


@stale_on_conflict
def correct_entry(
    user: User,
    difference_id: int,
    version,
    *,
    entry: str,
    corrected_text: str | None,
    rationale: str,
    now: datetime,
) -> Event:
    """A partnership member erases a mistaken entry (a text of the difference or of one of its
    events), says why, and may give the text it should have been. The correction is an event;
    the wrong text is gone from the database, its place says it was removed and why."""
    difference = lock_difference(Difference.id == difference_id, visible_to(user))
    if difference is None:
        raise NotFound("Difference not found.")
    try:
        shown = int(version) if version is not None else None
    except (TypeError, ValueError):
        raise StaleDifference() from None
    if shown is not None and shown != difference.version:
        raise StaleDifference()
    workflow.check_correction(
        actor_for(user), situation(difference, now), anonymised=difference.anonymised_at is not None
    )
    place = entry_place(entry)
    if place is None:
        raise FieldError("entry", "Choose the entry to correct")
    sequence, name = place
    erasures = dict(difference.erasures or {})
    key = f"{'row' if sequence is None else sequence}:{name}"
    if sequence is None:
        current = getattr(difference, name) or ""
        label = ROW_TEXT_LABELS[name]
    else:
        event = db.session.execute(
            sa.select(Event.id, Event.texts).where(
                Event.difference_id == difference.id, Event.sequence == sequence
            )
        ).first()
        current = (event.texts or {}).get(name, "") if event is not None else ""
        label = f"Event {sequence}: {EVENT_TEXT_LABELS.get(name, name)}"
    if not current or (key in erasures and current in history.REMOVED.values()):
        raise FieldError("entry", "That entry has nothing left to correct: choose another")
    rationale = workflow.require_rationale(
        rationale, what="why the entry is wrong and is being removed"
    )
    corrected = (corrected_text or "").strip()
    limit = LIMITS.get(name, MAX_TEXT_CHARACTERS)
    if len(corrected) > limit:
        raise FieldError(
            "corrected_text", f"The corrected text must be {limit:,} characters or fewer"
        )
    if corrected == current:
        raise FieldError("corrected_text", "The corrected text is the same as the entry")
    by = _next_sequence(difference.id)
    erasures[key] = {"why": history.CORRECTION, "by": by}
    if sequence is None:
        setattr(difference, name, corrected or CORRECTED)
    else:
        texts = dict(event.texts) | {name: CORRECTED}
        db.session.execute(
            sa.update(Event.__table__).where(Event.__table__.c.id == event.id).values(texts=texts)
        )
    difference.erasures = erasures
    recorded = record_event(
        difference,
        EventKind.CORRECTED,
        user,
        now,
        {"entry": key, "entry_label": label, "rationale": rationale, "corrected_text": corrected},
        deadline=None,
    )
    commit_or_stale()
    return recorded
