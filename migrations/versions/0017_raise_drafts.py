"""drafts of differences being raised: what was typed before "Check your answers"

Revision ID: 0017
Revises: 0016

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('raise_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_raise_draft_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_raise_draft')),
    sa.UniqueConstraint('user_id', name=op.f('uq_raise_draft_user_id'))
    )
    with op.batch_alter_table('raise_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_raise_draft_saved_at'), ['saved_at'], unique=False)


def downgrade():
    with op.batch_alter_table('raise_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_raise_draft_saved_at'))
    op.drop_table('raise_draft')
