"""indexes for every list's filter and order

Revision ID: 0007
Revises: 0006

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_recipient_unread')
        batch_op.create_index(
            'ix_notification_recipient_unread', ['recipient_id', 'read_at', 'created_at'],
            unique=False,
        )
        batch_op.create_index(
            'ix_notification_recipient_created', ['recipient_id', 'created_at'], unique=False
        )
    with op.batch_alter_table('difference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_difference_closed_at'), ['closed_at'], unique=False)
    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stage_closed_at'), ['closed_at'], unique=False)
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index('ix_assignment_stage_id')
        batch_op.create_index('ix_assignment_stage_user', ['stage_id', 'user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index('ix_assignment_stage_user')
        batch_op.create_index('ix_assignment_stage_id', ['stage_id'], unique=False)
    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_closed_at'))
    with op.batch_alter_table('difference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_difference_closed_at'))
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_recipient_created')
        batch_op.drop_index('ix_notification_recipient_unread')
        batch_op.create_index(
            'ix_notification_recipient_unread', ['recipient_id', 'read_at'], unique=False
        )
