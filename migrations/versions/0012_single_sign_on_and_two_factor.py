"""single sign-on per agency, two-factor sign-in with recovery codes

Revision ID: 0012
Revises: 0011

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('passwords_allowed', sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('partnership_settings', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'two_factor_for_everyone', sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    op.create_table(
        'recovery_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['user_id'], ['user_account.id'], name=op.f('fk_recovery_code_user_id_user_account')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_code')),
    )
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_code_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_code_user_id'))
    op.drop_table('recovery_code')
    with op.batch_alter_table('partnership_settings', schema=None) as batch_op:
        batch_op.drop_column('two_factor_for_everyone')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_secret')
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.drop_column('passwords_allowed')
