"""seal the history with a key across the whole record

Revision ID: 0009
Revises: 0008

Every event is sealed again, once, with HISTORY_KEY (HMAC-SHA256) and takes its place in the
partnership's whole record (its position, in the order the events were written); each
difference's latest event vouches for its row as it now stands. The re-sealing is recorded in the
checkpoint log (HISTORY_CHECKPOINT_LOG) as a "resealed" checkpoint, which names any difference
whose unkeyed history did not verify beforehand, so earlier tampering is not laundered.

This migration uses escalate's own sealing (escalate.history, services.checkpoints.reseal): the
seals must be the ones the application verifies.
"""
import hashlib
import json
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa
from flask import current_app


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

GENESIS = "0" * 64

_COLUMNS = (
    sa.column("id", sa.Integer),
    sa.column("difference_id", sa.Integer),
    sa.column("sequence", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("actor_id", sa.Integer),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("stage_level", sa.Integer),
    sa.column("deadline", sa.DateTime(timezone=True)),
    sa.column("data", sa.JSON),
    sa.column("previous_seal", sa.String),
    sa.column("seal", sa.String),
)
# The event columns the unkeyed chain of 0001-0005 covered, its two hash columns renamed.
_LEGACY = sa.table("event", *_COLUMNS)


def _utc(moment):
    if moment is None:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat()


def _legacy_hash(previous: str, row) -> str:
    content = {
        "difference_id": row.difference_id,
        "sequence": row.sequence,
        "kind": row.kind,
        "actor_id": row.actor_id,
        "at": _utc(row.at),
        "stage_level": row.stage_level,
        "deadline": _utc(row.deadline),
        "data": row.data,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{previous}\n{canonical}".encode()).hexdigest()


def _legacy_rows(connection, previous="previous_seal", sealed="seal"):
    """Every event in the order of each difference's chain; before this migration has renamed
    them, the hash columns are called previous_hash and hash."""
    table = sa.table(
        "event", *(sa.column(c.name, c.type) for c in _COLUMNS[:-2]),
        sa.column(previous, sa.String), sa.column(sealed, sa.String),
    )
    return connection.execute(
        sa.select(
            *(table.c[c.name] for c in _COLUMNS[:-2]),
            table.c[previous].label("previous_seal"),
            table.c[sealed].label("seal"),
        ).order_by(table.c.difference_id, table.c.sequence)
    )


def _unverified(connection, **columns) -> list[str]:
    """The differences whose unkeyed history did not verify (as 0005's verify-audit said)."""
    broken, difference_id, previous, sequence = set(), None, GENESIS, 0
    for row in _legacy_rows(connection, **columns):
        if row.difference_id != difference_id:
            difference_id, previous, sequence = row.difference_id, GENESIS, 0
        if (
            row.sequence != sequence + 1
            or row.previous_seal != previous
            or _legacy_hash(previous, row) != row.seal
        ):
            broken.add(row.difference_id)
        previous, sequence = row.seal, row.sequence
    differences = sa.table("difference", sa.column("id"), sa.column("reference"))
    without_events = connection.execute(
        sa.select(differences.c.id).where(
            ~sa.exists().where(_LEGACY.c.difference_id == differences.c.id)
        )
    ).scalars()
    broken.update(without_events)
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

    op.create_table('history_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('seal', sa.String(length=64), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_history_head_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_history_head'))
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.alter_column('hash', new_column_name='seal',
                              existing_type=sa.String(length=64), existing_nullable=False)
        batch_op.alter_column('previous_hash', new_column_name='previous_seal',
                              existing_type=sa.String(length=64), existing_nullable=False)
        batch_op.add_column(sa.Column('position', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('difference_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('key_id', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('preceding_seal', sa.String(length=64), nullable=True))

    connection = op.get_bind()
    keys = history.KeyRing.from_config(current_app.config)
    line = checkpoints.reseal(
        connection,
        keys,
        datetime.now(UTC),
        reason="migration 0006: histories sealed with the history key across the whole record",
        order="id",
        latest_digests_only=True,
        unverified=_unverified(connection),
    )

    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.alter_column('position', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('key_id', existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column('preceding_seal', existing_type=sa.String(length=64),
                              nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_event_position'), ['position'])
    if line["position"]:
        checkpoints.append(current_app.config["HISTORY_CHECKPOINT_LOG"], keys, line)


def downgrade():
    # Back to each difference's unkeyed chain, which 0005 verifies.
    connection = op.get_bind()
    updates, difference_id, previous = [], None, GENESIS
    for row in _legacy_rows(connection):
        if row.difference_id != difference_id:
            difference_id, previous = row.difference_id, GENESIS
        sealed = _legacy_hash(previous, row)
        updates.append({"event_id": row.id, "previous": previous, "sealed": sealed})
        previous = sealed
    if updates:
        connection.execute(
            sa.update(_LEGACY)
            .where(_LEGACY.c.id == sa.bindparam("event_id"))
            .values(previous_seal=sa.bindparam("previous"), seal=sa.bindparam("sealed")),
            updates,
        )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_event_position'), type_='unique')
        batch_op.drop_column('preceding_seal')
        batch_op.drop_column('key_id')
        batch_op.drop_column('difference_digest')
        batch_op.drop_column('position')
        batch_op.alter_column('seal', new_column_name='hash',
                              existing_type=sa.String(length=64), existing_nullable=False)
        batch_op.alter_column('previous_seal', new_column_name='previous_hash',
                              existing_type=sa.String(length=64), existing_nullable=False)

    op.drop_table('history_head')
