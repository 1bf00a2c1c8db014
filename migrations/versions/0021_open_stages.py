"""the open stages in an index of their own, so no planner mistakes closed_at IS NULL for rare;
the unresolved list matched and sorted, and the figures counted, from indexes alone

Revision ID: 0021
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

OPEN = sa.text('closed_at IS NULL')


def upgrade():
    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_closed_at')
        batch_op.create_index('ix_stage_open', ['difference_id', 'level', 'deadline'], unique=False, sqlite_where=OPEN, postgresql_where=OPEN)
    with op.batch_alter_table('difference', schema=None) as batch_op:
        batch_op.drop_index('ix_difference_state')
        batch_op.create_index('ix_difference_unresolved', ['state', 'stage_level', 'raising_agency_id', 'receiving_agency_id', 'urgent', 'category', 'raised_at', 'closed_at', 'outcome', 'resolution_working_days', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('difference', schema=None) as batch_op:
        batch_op.drop_index('ix_difference_unresolved')
        batch_op.create_index('ix_difference_state', ['state'], unique=False)
    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_open', sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.create_index('ix_stage_closed_at', ['closed_at'], unique=False)
