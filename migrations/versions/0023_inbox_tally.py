"""each person's inbox counted as it changes (messages, unread), from the messages sent before

Revision ID: 0023
Revises: 0022
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'inbox_tally',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('messages', sa.Integer(), server_default='0', nullable=False),
        sa.Column('unread', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_inbox_tally_user_id_user_account')),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_inbox_tally')),
    )
    # The inbox holds every message but the emails with a set-password link.
    op.execute(
        "INSERT INTO inbox_tally (user_id, messages, unread) "
        "SELECT recipient_id, count(*), sum(CASE WHEN read_at IS NULL THEN 1 ELSE 0 END) "
        "FROM notification WHERE invitation_id IS NULL GROUP BY recipient_id"
    )


def downgrade():
    op.drop_table('inbox_tally')
