"""extensions by agreement: a responder asks for a later deadline, the raising side agrees or
refuses, an unanswered request lapses at the deadline it would move

Revision ID: 0014
Revises: 0013

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_KINDS = (
    "'raised', 'responded', 'accepted', 'escalated', 'decided', 'withdrawn', 'extended', "
    "'reassigned', 'conversation', 'overdue', 'learning_note', 'deadline_recomputed', "
    "'proposed', 'proposal_objected', 'advice', 'closed_no_reply'"
)
_EXTENSION_KINDS = (
    "'extension_requested', 'extension_agreed', 'extension_refused', 'extension_lapsed'"
)


def upgrade():
    op.create_table('extension_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stage_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('current_deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('proposed_deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('working_days', sa.Integer(), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'agreed', 'refused', 'lapsed', 'overtaken', name='extension_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['answered_by_id'], ['user_account.id'], name=op.f('fk_extension_request_answered_by_id_user_account')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_extension_request_requested_by_id_user_account')),
    sa.ForeignKeyConstraint(['stage_id'], ['stage.id'], name=op.f('fk_extension_request_stage_id_stage')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extension_request'))
    )
    with op.batch_alter_table('extension_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extension_request_stage_id'), ['stage_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_extension_request_status'), ['status'], unique=False)

    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_event_event_kind'), type_='check')
        batch_op.create_check_constraint('event_kind', f"kind IN ({_KINDS}, {_EXTENSION_KINDS})")


def downgrade():
    # The event kinds stay allowed: events are sealed history, never removed or renamed, so a
    # database taken back keeps the requests, agreements and refusals already on record.
    with op.batch_alter_table('extension_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extension_request_status'))
        batch_op.drop_index(batch_op.f('ix_extension_request_stage_id'))

    op.drop_table('extension_request')
