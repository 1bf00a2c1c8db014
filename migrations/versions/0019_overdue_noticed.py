"""the sweep notes when it noticed a missed deadline, so that it does not read the stage again

Revision ID: 0019
Revises: 0018
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('overdue_noticed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_stage_overdue_unnoticed', ['deadline'], unique=False, sqlite_where=sa.text('closed_at IS NULL AND responded_at IS NULL AND overdue_noticed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL AND responded_at IS NULL AND overdue_noticed_at IS NULL'))
    # The deadlines the sweep has already noticed were missed: when it did (its overdue alert).
    op.execute(
        "UPDATE stage SET overdue_noticed_at = (SELECT stage_alert.at FROM stage_alert "
        "WHERE stage_alert.stage_id = stage.id AND stage_alert.kind = 'overdue') "
        "WHERE EXISTS (SELECT 1 FROM stage_alert "
        "WHERE stage_alert.stage_id = stage.id AND stage_alert.kind = 'overdue')"
    )


def downgrade():
    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_overdue_unnoticed', sqlite_where=sa.text('closed_at IS NULL AND responded_at IS NULL AND overdue_noticed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL AND responded_at IS NULL AND overdue_noticed_at IS NULL'))
        batch_op.drop_column('overdue_noticed_at')
