"""What every use case writes beside its change: history events, outbox rows and the
administrators' record of changes, in the caller's transaction; and the one commit that turns a
lost race into StaleDifference.
"""

import functools
import logging
from datetime import UTC, date, datetime, time
from enum import Enum

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from escalate import chronology, history, messages, queries
from escalate.extensions import db
from escalate.models import (
    AdminChange,
    Agency,
    Difference,
    Event,
    HistoryHead,
    Invitation,
    Notification,
    PartnershipSettings,
    Role,
    User,
)
from escalate.services import _tally
from escalate.workflow import (
    NotAllowed,
    StaleDifference,
)


def commit_or_stale() -> None:
    """Commit an action; if another one reached the same difference first, say so."""
    try:
        db.session.commit()
    except (StaleDataError, IntegrityError):
        db.session.rollback()
        raise StaleDifference() from None


def stale_on_conflict(change):
    """Decorate a use case so that losing a race to another change ends in StaleDifference (a
    409, "this difference changed"), wherever the database says so: at the commit, at a flush
    or at an automatic flush before a query."""

    @functools.wraps(change)
    def guarded(*args, **kwargs):
        try:
            return change(*args, **kwargs)
        except (StaleDataError, IntegrityError) as error:
            db.session.rollback()
            logging.getLogger("escalate").info("%s lost a race: %s", change.__name__, error)
            raise StaleDifference() from None

    return guarded


def lock_difference(*conditions) -> Difference | None:
    """The difference matching ``conditions``, read afresh and held until the transaction ends.

    A second change to the same difference waits here until the first is committed, then sees
    its result and its version: it is refused as stale, or (a learning note) goes after it.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks (SQLAlchemy leaves FOR UPDATE out). Its one write lock, taken
        # by a first write, queues changes here instead: this write changes nothing.
        db.session.execute(
            sa.update(Difference.__table__)
            .where(*conditions)
            .values(version=Difference.__table__.c.version)
        )
    return db.session.scalar(
        sa.select(Difference)
        .where(*conditions)
        .with_for_update(of=Difference)
        # The view may have loaded this difference before waiting: read it again.
        .execution_options(populate_existing=True)
    )


def record_event(difference, kind, actor: User | None, now, data: dict, *, deadline=...) -> Event:
    """Append an event to the difference's history and to the partnership's whole record,
    sealed after the difference's previous event and the record's last one.

    Call it once the difference's row says what the event did: the event vouches for it.
    """
    keys = history.KeyRing.from_config(current_app.config)
    seal_row_texts(difference, keys)
    db.session.flush()  # the difference's row as it now stands
    previous = db.session.execute(
        sa.select(Event.sequence, Event.seal)
        .where(Event.difference_id == difference.id)
        .order_by(Event.sequence.desc())
        .limit(1)
    ).first()
    position, preceding_seal = _take_next_position()
    stage = difference.open_stage
    facts, texts = history.split_texts(data)
    event = Event(
        difference_id=difference.id,
        sequence=(previous.sequence + 1) if previous else 1,
        position=position,
        kind=kind,
        actor_id=actor.id if actor else None,
        at=now.astimezone(UTC),  # as the database gives it back, so the seal still verifies
        stage_level=difference.stage_level,
        deadline=(stage.deadline if stage else None) if deadline is ... else deadline,
        data=facts,
        texts=texts,
        text_seals=history.commit_texts(texts, keys),
        difference_digest=queries.histories.row_digest(difference.id),
    )
    history.seal(
        event,
        keys,
        previous_seal=previous.seal if previous else history.GENESIS,
        preceding_seal=preceding_seal,
    )
    db.session.execute(
        sa.update(HistoryHead)
        .where(HistoryHead.id == 1)
        .values(seal=event.seal)
        .execution_options(synchronize_session=False)
    )
    # Every action moves the version on, so a form shown before any of them is refused as stale.
    flag_modified(difference, "stage_level")
    db.session.add(event)
    db.session.flush()
    if chronology.is_outcome(kind):
        # Every outcome, whichever path reached it, leaves each agency an entry for its own
        # record of the child, in the outcome's transaction.
        from escalate.services.chronology import add_entries  # it writes through this module

        add_entries(difference, event, actor, now)
    return event


def commit_row_texts(row, keys: history.KeyRing) -> dict:
    """Commitments to a difference row's texts (``row``: a mapping of its columns)."""
    return {
        name: history.commit(name, row.get(name) or "", keys) for name in history.DIFFERENCE_TEXTS
    }


def seal_row_texts(difference, keys: history.KeyRing) -> None:
    """Commit to each of the row's texts that has no commitment yet, or has changed since (the
    event about to be recorded vouches for the row as it now stands)."""
    seals = dict(difference.text_seals or {})
    for name in history.DIFFERENCE_TEXTS:
        text = getattr(difference, name) or ""
        if not history.commitment_holds(seals.get(name), name, text, keys):
            seals[name] = history.commit(name, text, keys)
    if seals != (difference.text_seals or {}):
        difference.text_seals = seals


def _take_next_position() -> tuple[int, str]:
    """The next place in the partnership's record and the seal of the event before it.

    The head row stays locked until the transaction ends (on PostgreSQL a row lock; on SQLite
    the database's write lock), so events take their places one at a time, in order.
    """
    taken = db.session.execute(
        sa.update(HistoryHead)
        .where(HistoryHead.id == 1)
        .values(position=HistoryHead.position + 1)
        .returning(HistoryHead.position, HistoryHead.seal)
        .execution_options(synchronize_session=False)
    ).first()
    if taken is not None:
        return taken.position, taken.seal
    # No head row (a database built without install_defaults): start it from the last event.
    last = db.session.execute(
        sa.select(Event.position, Event.seal).order_by(Event.position.desc()).limit(1)
    ).first()
    position, seal = (last.position, last.seal) if last else (0, history.GENESIS)
    db.session.add(HistoryHead(id=1, position=position + 1, seal=seal))
    db.session.flush()
    return position + 1, seal


def seal_written_in_bulk(events) -> None:
    """Seal events that are written in bulk rather than by record_event (the synthetic
    partnership of `flask escalate seed-bench`), in the order given, which must be each history's
    sequence order: each after its difference's previous event and the record's last one, its
    free texts sealed through commitments (``record_event``). The difference rows are written as
    they finally stand, so each event vouches for that row."""
    keys = history.KeyRing.from_config(current_app.config)
    position, preceding = _take_next_position()
    db.session.execute(
        sa.update(HistoryHead).where(HistoryHead.id == 1).values(position=position - 1)
    )
    previous: dict[int, str] = {}
    for event in events:
        event.position = position
        event.data, event.texts = history.split_texts(event.data)
        event.text_seals = history.commit_texts(event.texts, keys)
        history.seal(
            event,
            keys,
            previous_seal=previous.get(event.difference_id, history.GENESIS),
            preceding_seal=preceding,
        )
        previous[event.difference_id] = preceding = event.seal
        position += 1
    db.session.execute(
        sa.update(HistoryHead)
        .where(HistoryHead.id == 1)
        .values(position=position - 1, seal=preceding)
        .execution_options(synchronize_session=False)
    )


def message_facts(difference, stage, actor: User | None) -> dict:
    return {
        "reference": difference.reference,
        "stage": stage.name if stage else "",
        "actor": actor.name if actor else "escalate",
        "raising_agency": difference.raising_agency.name,
        "receiving_agency": difference.receiving_agency.name,
    }


SUBJECT_LENGTH = Notification.subject.type.length


def add_to_outbox(recipient_id: int, subject: str, body: str, now, **links) -> Notification:
    """One outbox row, in the caller's transaction: emailed by the deliverer and shown in the
    inbox. ``links``: the difference and event it is about, if any (and, for a notice that is
    not emailed, its email status and why)."""
    notification = Notification(
        recipient_id=recipient_id,
        subject=subject[:SUBJECT_LENGTH],
        body=body,
        created_at=now,
        **({"next_attempt_at": now} if "email_status" not in links else {}),
        **links,
    )
    db.session.add(notification)
    _tally.note(recipient_id, messages=1, unread=0 if links.get("read_at") else 1)
    return notification


def notify_people(difference, event, now, recipients, kind: str, role: str, facts_: dict) -> None:
    """Write one outbox row per recipient, in the caller's transaction."""
    # One message per person per event, however many parts they play in it.
    already = set(
        db.session.scalars(
            sa.select(Notification.recipient_id).where(Notification.event_id == event.id)
        )
    )
    for recipient in dict.fromkeys(recipients):
        if recipient is None or recipient.id in already or not recipient.active:
            continue
        already.add(recipient.id)
        subject, body = messages.compose(kind, for_recipient=role, **facts_)
        add_to_outbox(
            recipient.id, subject, body, now, difference_id=difference.id, event_id=event.id
        )


def notify_everyone(difference, event, now, kind: str, facts_: dict) -> None:
    """A final outcome: the raiser first, then everyone who answered or led at any stage."""
    notify_people(difference, event, now, [difference.raiser], kind, "raiser", facts_)
    involved = [a.user for s in difference.stages for a in s.assignments]
    notify_people(difference, event, now, involved, kind, "involved", facts_)


def partnership_contacts() -> list[User]:
    """Who receives the partnership's alerts and digest: its active members."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.role == Role.PARTNERSHIP, User.active.is_(True))
            .order_by(User.name, User.id)
        )
    )


def alert_partnership(difference, event, now, kind: str, facts_: dict) -> None:
    """Tell the partnership's oversight contacts (product.md §6), through the outbox."""
    notify_people(difference, event, now, partnership_contacts(), kind, "partnership", facts_)


def notify_apart_from_differences(now, recipients, kind: str, role: str, facts_) -> None:
    """Outbox rows tied to no difference (like the weekly digest), for someone who may not see
    the difference the message comes from: its words name none."""
    for recipient in dict.fromkeys(recipients):
        if recipient is None or not recipient.active:
            continue
        subject, body = messages.compose(
            kind, for_recipient=role, **(facts_ | {"reference": "", "stage": ""})
        )
        add_to_outbox(recipient.id, subject, body, now)


def notify_without_event(difference, now, recipients, kind: str, role: str, facts_) -> None:
    """Outbox rows for a reminder: it changes nothing in the difference, so it has no event."""
    for recipient in dict.fromkeys(recipients):
        if recipient is None or not recipient.active:
            continue
        subject, body = messages.compose(kind, for_recipient=role, **facts_)
        add_to_outbox(recipient.id, subject, body, now, difference_id=difference.id)


def notify_invited(invitation: Invitation, now) -> Notification:
    """The outbox row that emails a set-password link to its owner, in the caller's transaction.

    It names the invitation and holds no link: the deliverer makes the link again when it
    writes the email (``validation.invitation_token``).
    """
    subject, body = messages.invitation(expires_at=invitation.expires_at)
    notification = Notification(
        recipient=invitation.user,
        invitation=invitation,
        subject=subject,
        body=body,
        created_at=now,
        next_attempt_at=now,
    )
    db.session.add(notification)
    return notification


def require_admin(actor: User | None) -> None:
    if actor is not None and (actor.role != Role.ADMIN or not actor.active):
        raise NotAllowed("Only an administrator can change how the partnership is set up.")


def record_admin_change(
    actor: User | None,
    now: datetime,
    *,
    entity: str,
    entity_id: int | None,
    action: str,
    summary: str,
    before: dict | None = None,
    after: dict | None = None,
) -> AdminChange:
    def as_json(record):
        if record is None:
            return None
        return {key: as_record(value) for key, value in record.items()}

    change = AdminChange(
        actor_id=actor.id if actor else None,
        at=now,
        entity=entity,
        entity_id=entity_id,
        action=action,
        summary=summary[:300],
        before=as_json(before),
        after=as_json(after),
    )
    db.session.add(change)
    return change


def record_admin_edit(actor, now, *, entity, entity_id, summary, before: dict, after: dict) -> bool:
    """Record the fields that changed; False (and nothing recorded) when none did."""
    old, new = differences_between(before, after)
    if not new:
        return False
    record_admin_change(
        actor,
        now,
        entity=entity,
        entity_id=entity_id,
        action="changed",
        summary=summary,
        before=old,
        after=new,
    )
    return True


def agency_record(agency: Agency) -> dict:
    return {
        "name": agency.name,
        "kind": agency.kind.value,
        "passwords": "allowed" if agency.passwords_allowed is not False else "single sign-on only",
    }


def user_record(user: User) -> dict:
    return {
        "email": user.email,
        "name": user.name,
        "job_title": user.job_title,
        "role": user.role.value,
        "agency": user.agency.name if user.agency else None,
        "line_manager": user.line_manager.email if user.line_manager else None,
        "active": user.active,
    }


def settings_record(settings: PartnershipSettings) -> dict:
    return {
        "nation": settings.nation.value,
        "start_of_working_day": settings.start_of_working_day.strftime("%H:%M"),
        "end_of_working_day": settings.end_of_working_day.strftime("%H:%M"),
        "highest_urgent_start": settings.highest_urgent_start,
        "act_now_text": settings.act_now_text,
        "mash_phone": settings.mash_phone,
        "out_of_hours_phone": settings.out_of_hours_phone,
        "police_phone": settings.police_phone,
    }


def as_record(value):
    """A value as it is kept in the record of changes (JSON): enums by value, times as text."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value


def differences_between(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that changed, before and after (JSON-ready)."""
    before = {key: as_record(value) for key, value in before.items()}
    after = {key: as_record(value) for key, value in after.items()}
    changed = [key for key in after if before.get(key) != after[key]]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}
