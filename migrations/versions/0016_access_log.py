"""the access log: who viewed which difference, report or spreadsheet, and when, sealed

Revision ID: 0016
Revises: 0015

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade():
    op.create_table('access_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('seal', sa.String(length=64), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_access_head_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_head'))
    )
    op.create_table('access_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('viewed_difference', 'viewed_report', 'downloaded_csv', name='access_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('difference_id', sa.Integer(), nullable=True),
    sa.Column('what', sa.String(length=300), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('previous_seal', sa.String(length=64), nullable=False),
    sa.Column('seal', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['difference_id'], ['difference.id'], name=op.f('fk_access_entry_difference_id_difference')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_access_entry_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_entry')),
    sa.UniqueConstraint('position', name=op.f('uq_access_entry_position'))
    )
    with op.batch_alter_table('access_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_entry_at'), ['at'], unique=False)
        batch_op.create_index('ix_access_entry_difference_position', ['difference_id', 'position'], unique=False)
        batch_op.create_index('ix_access_entry_user_position', ['user_id', 'position'], unique=False)
    op.execute(
        sa.table("access_head", sa.column("id"), sa.column("position"), sa.column("seal"))
        .insert()
        .values(id=1, position=0, seal=GENESIS)
    )


def downgrade():
    with op.batch_alter_table('access_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_access_entry_user_position')
        batch_op.drop_index('ix_access_entry_difference_position')
        batch_op.drop_index(batch_op.f('ix_access_entry_at'))
    op.drop_table('access_entry')
    op.drop_table('access_head')
