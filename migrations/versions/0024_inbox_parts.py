"""the inbox's unread and read messages each an index of their own, newest first

Revision ID: 0024
Revises: 0023
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

INBOX_WHERE = sa.text('invitation_id IS NULL')
UNREAD_WHERE = sa.text('invitation_id IS NULL AND read_at IS NULL')
READ_WHERE = sa.text('invitation_id IS NULL AND read_at IS NOT NULL')


def upgrade():
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_inbox_unread', ['recipient_id', 'created_at', 'id'], unique=False, sqlite_where=UNREAD_WHERE, postgresql_where=UNREAD_WHERE)
        batch_op.create_index('ix_notification_inbox_read', ['recipient_id', 'created_at', 'id'], unique=False, sqlite_where=READ_WHERE, postgresql_where=READ_WHERE)
        batch_op.drop_index('ix_notification_inbox', sqlite_where=INBOX_WHERE, postgresql_where=INBOX_WHERE)


def downgrade():
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_inbox', ['recipient_id', 'created_at', 'id'], unique=False, sqlite_where=INBOX_WHERE, postgresql_where=INBOX_WHERE)
        batch_op.drop_index('ix_notification_inbox_read', sqlite_where=READ_WHERE, postgresql_where=READ_WHERE)
        batch_op.drop_index('ix_notification_inbox_unread', sqlite_where=UNREAD_WHERE, postgresql_where=UNREAD_WHERE)
