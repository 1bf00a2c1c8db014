"""each person's part in a difference, for their own lists; the inbox read from one index

Revision ID: 0020
Revises: 0019
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

INBOX_WHERE = sa.text('invitation_id IS NULL')


def upgrade():
    op.create_table('involvement',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('difference_id', sa.Integer(), nullable=False),
    sa.Column('raised', sa.Boolean(), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['difference_id'], ['difference.id'], name=op.f('fk_involvement_difference_id_difference')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_involvement_user_id_user_account')),
    sa.PrimaryKeyConstraint('user_id', 'difference_id', name=op.f('pk_involvement'))
    )
    with op.batch_alter_table('involvement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_involvement_difference_id'), ['difference_id'], unique=False)
        batch_op.create_index('ix_involvement_lists', ['user_id', 'raised', 'is_open', 'raised_at', 'difference_id'], unique=False)
    # Everyone's part so far: the raisers, then the named and assigned who did not raise it.
    op.execute(
        "INSERT INTO involvement (user_id, difference_id, raised, is_open, raised_at) "
        "SELECT raiser_id, id, TRUE, closed_at IS NULL, raised_at FROM difference"
    )
    op.execute(
        "INSERT INTO involvement (user_id, difference_id, raised, is_open, raised_at) "
        "SELECT part.user_id, difference.id, FALSE, difference.closed_at IS NULL, "
        "difference.raised_at FROM ("
        "SELECT named_professional_id AS user_id, id AS difference_id FROM difference "
        "WHERE named_professional_id IS NOT NULL "
        "UNION SELECT assignment.user_id, stage.difference_id FROM assignment "
        "JOIN stage ON stage.id = assignment.stage_id"
        ") AS part JOIN difference ON difference.id = part.difference_id "
        "WHERE part.user_id != difference.raiser_id"
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_recipient_created')
        batch_op.create_index('ix_notification_inbox', ['recipient_id', 'created_at', 'id'], unique=False, sqlite_where=INBOX_WHERE, postgresql_where=INBOX_WHERE)


def downgrade():
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_inbox', sqlite_where=INBOX_WHERE, postgresql_where=INBOX_WHERE)
        batch_op.create_index('ix_notification_recipient_created', ['recipient_id', 'created_at'], unique=False)
    with op.batch_alter_table('involvement', schema=None) as batch_op:
        batch_op.drop_index('ix_involvement_lists')
        batch_op.drop_index(batch_op.f('ix_involvement_difference_id'))
    op.drop_table('involvement')
