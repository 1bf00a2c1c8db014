"""a person's outcomes to record, oldest first, from one index; nobody is asked to record an
anonymised difference's outcome; the agencies' shares counted from an index

Revision ID: 0022
Revises: 0021
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

UNCONFIRMED = sa.text('confirmed_at IS NULL')


def upgrade():
    op.execute(
        "UPDATE chronology_entry SET owner_id = NULL WHERE confirmed_at IS NULL AND difference_id "
        "IN (SELECT id FROM difference WHERE anonymised_at IS NOT NULL)"
    )
    with op.batch_alter_table('chronology_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_chronology_entry_unconfirmed_owner', sqlite_where=UNCONFIRMED, postgresql_where=UNCONFIRMED)
        batch_op.create_index('ix_chronology_entry_unconfirmed_owner', ['owner_id', 'created_at', 'id'], unique=False, sqlite_where=UNCONFIRMED, postgresql_where=UNCONFIRMED)
        batch_op.drop_index('ix_chronology_entry_created_at')
        batch_op.create_index('ix_chronology_entry_shares', ['created_at', 'agency_id', 'confirmed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('chronology_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_chronology_entry_shares')
        batch_op.create_index('ix_chronology_entry_created_at', ['created_at'], unique=False)
        batch_op.drop_index('ix_chronology_entry_unconfirmed_owner', sqlite_where=UNCONFIRMED, postgresql_where=UNCONFIRMED)
        batch_op.create_index('ix_chronology_entry_unconfirmed_owner', ['owner_id'], unique=False, sqlite_where=UNCONFIRMED, postgresql_where=UNCONFIRMED)
