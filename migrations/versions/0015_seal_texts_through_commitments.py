"""seal the texts people typed through commitments, so that they can be erased

Revision ID: 0015
Revises: 0014

Every event's free texts move out of its data into `texts`, and the event is sealed again over a
commitment to each (a keyed MAC with a nonce of its own, in `text_seals`) rather than over the
texts themselves; each difference row's texts are committed to the same way (its `text_seals`),
and its digest covers those commitments instead of the texts. A text can then be erased (under
the retention policy, or as a correction: `erasures` says which and why) and the history still
verifies. Each difference's latest event vouches for its row as it now stands; the digests
earlier events kept of rows with their texts in them are dropped, so nothing of an erased text
can be guessed from them. The re-sealing is recorded in the checkpoint log as a "resealed"
checkpoint naming any difference whose history did not verify beforehand, so earlier tampering
is not laundered.

This migration uses escalate's own sealing (escalate.history, services.checkpoints.reseal): the
seals must be the ones the application verifies.
"""
import hashlib
import hmac
import json
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa
from flask import current_app

from escalate.models import Difference


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
KINDS = (
    "'raised', 'responded', 'accepted', 'escalated', 'decided', 'withdrawn', 'extended', "
    "'reassigned', 'conversation', 'overdue', 'learning_note', 'deadline_recomputed', "
    "'proposed', 'proposal_objected', 'advice', 'closed_no_reply', "
    "'extension_requested', 'extension_agreed', 'extension_refused', 'extension_lapsed'"
)
# The row's fields the digests of 0009-0014 covered, texts and all.
_FIELDS_BEFORE = (
    "reference", "raiser_id", "raising_agency_id", "receiving_agency_id",
    "named_professional_id", "child_reference", "child_initials", "child_date_of_birth",
    "category", "decision", "reasons", "desired_outcome", "discussed_informally",
    "informal_discussion", "immediate_risk", "protective_action", "urgent", "state",
    "stage_level", "outcome", "raised_at", "closed_at", "resolution_working_days",
)
_EVENT = sa.table(
    "event",
    *(sa.column(name) for name in (
        "id", "difference_id", "sequence", "position", "kind", "actor_id", "stage_level",
        "difference_digest", "key_id", "previous_seal", "preceding_seal", "seal",
    )),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("deadline", sa.DateTime(timezone=True)),
    sa.column("data", sa.JSON),
)


def _utc(moment):
    if moment is None:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat()


def _seal_before(row, key: bytes) -> str:
    """The seal of 0009-0014 (escalate-history-2): over the texts themselves."""
    content = {
        "difference_id": row.difference_id,
        "sequence": row.sequence,
        "position": row.position,
        "kind": row.kind,
        "actor_id": row.actor_id,
        "at": _utc(row.at),
        "stage_level": row.stage_level,
        "deadline": _utc(row.deadline),
        "data": row.data,
        "difference_digest": row.difference_digest,
        "key_id": row.key_id,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    message = "\n".join(("escalate-history-2", row.previous_seal, row.preceding_seal, canonical))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _sealed_by_0009_today(row, keys) -> bool:
    """Whether the event carries the seal 0009 gives it when run by an escalate that already
    seals through commitments (a database upgraded from before 0009 in one go): its data as it
    was, no commitments."""
    from types import SimpleNamespace

    from escalate import history

    return history.seal_of(SimpleNamespace(**row._asdict(), text_seals={}), keys) == row.seal


def _unverified(connection, keys) -> list[str]:
    """The differences whose history did not verify as 0014's verify-audit checked it: each
    event's seal and link, and each row against its latest event."""
    from escalate import history
    from escalate.queries.histories import as_stored

    broken, last = set(), {}
    for row in connection.execute(sa.select(_EVENT).order_by(_EVENT.c.position)):
        sequence, previous = last.get(row.difference_id, (0, GENESIS, None))[:2]
        key = keys.keys.get(row.key_id)
        if (
            key is None
            or (_seal_before(row, key) != row.seal and not _sealed_by_0009_today(row, keys))
            or row.sequence != sequence + 1
            or row.previous_seal != previous
        ):
            broken.add(row.difference_id)
        last[row.difference_id] = (row.sequence, row.seal, row.difference_digest)
    # The row's digest as 0009-0014 made it, or as 0009 makes it today (the fields that exist
    # before this migration adds its own).
    today = [n for n in history.DIFFERENCE_FIELDS if n in _FIELDS_BEFORE]
    # The model's columns (each exists before this migration), typed as the digests read them.
    differences = Difference.__table__
    dialect = connection.dialect.name
    stored = as_stored([differences.c[n] for n in _FIELDS_BEFORE], dialect)
    stored_today = as_stored([differences.c[n] for n in today], dialect)
    for identifier, text, text_today in connection.execute(
        sa.select(differences.c.id, stored, stored_today)
    ):
        latest = last.get(identifier)
        if latest is None or latest[2] not in (
            hashlib.sha256(text.encode()).hexdigest(),
            hashlib.sha256(text_today.encode()).hexdigest(),
        ):
            broken.add(identifier)
    if not broken:
        return []
    return sorted(
        reference or f"#{identifier}"
        for identifier, reference in connection.execute(
            sa.select(differences.c.id, differences.c.reference).where(
                differences.c.id.in_(sorted(broken))
            )
        )
    )


def upgrade():
    from escalate import history
    from escalate.services import checkpoints

    connection = op.get_bind()
    keys = history.KeyRing.from_config(current_app.config)
    unverified = _unverified(connection, keys)

    with op.batch_alter_table('difference', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('text_seals', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('erasures', sa.JSON(), nullable=True))
        batch_op.alter_column('child_initials', existing_type=sa.String(length=10),
                              type_=sa.String(length=60), existing_nullable=False)
        batch_op.create_index(batch_op.f('ix_difference_anonymised_at'), ['anonymised_at'],
                              unique=False)
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('texts', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('text_seals', sa.JSON(), nullable=True))
        batch_op.drop_constraint(op.f('ck_event_event_kind'), type_='check')
        batch_op.create_check_constraint(
            'event_kind', f"kind IN ({KINDS}, 'corrected', 'anonymised')"
        )

    line = checkpoints.reseal(
        connection,
        keys,
        datetime.now(UTC),
        reason="migration 0015: the texts people typed sealed through commitments",
        latest_digests_only=True,
        unverified=unverified,
    )
    # A database with no differences yet: the rows the reseal wrote are none.
    connection.execute(sa.text("UPDATE difference SET text_seals = '{}' WHERE text_seals IS NULL"))
    connection.execute(sa.text("UPDATE event SET texts = '{}' WHERE texts IS NULL"))
    connection.execute(sa.text("UPDATE event SET text_seals = '{}' WHERE text_seals IS NULL"))

    with op.batch_alter_table('difference', schema=None) as batch_op:
        batch_op.alter_column('text_seals', existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.alter_column('texts', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('text_seals', existing_type=sa.JSON(), nullable=False)
    if line["position"]:
        checkpoints.append(current_app.config["HISTORY_CHECKPOINT_LOG"], keys, line)


def downgrade():
    # The texts go back into each event's data; the histories are sealed again as 0014 sealed
    # them (escalate-history-2), each latest event vouching for its row with its texts.
    from types import SimpleNamespace

    from escalate import history
    from escalate.queries.histories import as_stored

    connection = op.get_bind()
    erased = connection.execute(
        sa.text("SELECT count(*) FROM event WHERE kind IN ('corrected', 'anonymised')")
    ).scalar()
    if erased:
        raise RuntimeError(
            "Texts have been erased from this database's histories: going back before 0015 "
            "would leave histories that no longer verify. Restore a backup instead."
        )
    keys = history.KeyRing.from_config(current_app.config)
    event = sa.table(
        "event", *(sa.column(c.name, c.type) for c in _EVENT.columns), sa.column("texts", sa.JSON)
    )
    rows = connection.execute(sa.select(event).order_by(event.c.position)).all()
    differences = Difference.__table__
    stored = as_stored([differences.c[n] for n in _FIELDS_BEFORE], connection.dialect.name)
    digests = {
        identifier: hashlib.sha256(text.encode()).hexdigest()
        for identifier, text in connection.execute(sa.select(differences.c.id, stored))
    }
    latest = {row.difference_id: row.id for row in rows}
    previous, preceding, updates = {}, GENESIS, []
    for row in rows:
        values = SimpleNamespace(**row._asdict())
        values.data = {**(row.data or {}), **(row.texts or {})}
        values.difference_digest = (
            digests.get(row.difference_id) if latest[row.difference_id] == row.id else None
        )
        values.key_id = keys.current
        values.previous_seal = previous.get(row.difference_id, GENESIS)
        values.preceding_seal = preceding
        values.seal = _seal_before(values, keys.keys[keys.current])
        previous[row.difference_id] = preceding = values.seal
        updates.append(
            {
                "event_id": row.id,
                "new_data": values.data,
                "new_digest": values.difference_digest,
                "new_key": values.key_id,
                "new_previous": values.previous_seal,
                "new_preceding": values.preceding_seal,
                "new_seal": values.seal,
            }
        )
    if updates:
        connection.execute(
            sa.update(event)
            .where(event.c.id == sa.bindparam("event_id"))
            .values(
                data=sa.bindparam("new_data"),
                difference_digest=sa.bindparam("new_digest"),
                key_id=sa.bindparam("new_key"),
                previous_seal=sa.bindparam("new_previous"),
                preceding_seal=sa.bindparam("new_preceding"),
                seal=sa.bindparam("new_seal"),
            ),
            updates,
        )
        connection.execute(sa.text("UPDATE history_head SET seal = :s"), {"s": preceding})

    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_event_event_kind'), type_='check')
        batch_op.create_check_constraint('event_kind', f"kind IN ({KINDS})")
        batch_op.drop_column('text_seals')
        batch_op.drop_column('texts')
    with op.batch_alter_table('difference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_difference_anonymised_at'))
        batch_op.alter_column('child_initials', existing_type=sa.String(length=60),
                              type_=sa.String(length=10), existing_nullable=False)
        batch_op.drop_column('erasures')
        batch_op.drop_column('text_seals')
        batch_op.drop_column('anonymised_at')
