"""urgent differences are timed in working hours; the working day's start; the highest stage an
urgent difference may start at; the partnership's telephone numbers

Revision ID: 0011
Revises: 0010

A stage's urgent timescale becomes working hours. A stage still on the old default (1 working
day at stages 1-3, 2 at the final stage) takes the new default (4 working hours at stages 1 and
2, one working day at stage 3, two at the final stage); any other value keeps its length, at
8 working hours a day.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# (level, old default in working days) -> new default in working hours
_NEW_DEFAULTS = {(1, 1): 4, (2, 1): 4, (3, 1): 8, (4, 2): 16}
HOURS_A_DAY = 8


def upgrade():
    with op.batch_alter_table('partnership_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'start_of_working_day', sa.Time(), server_default='09:00:00', nullable=False
        ))
        batch_op.add_column(sa.Column(
            'highest_urgent_start', sa.Integer(), server_default='3', nullable=False
        ))
        batch_op.add_column(sa.Column(
            'mash_phone', sa.String(length=40), server_default='', nullable=False
        ))
        batch_op.add_column(sa.Column(
            'out_of_hours_phone', sa.String(length=40), server_default='', nullable=False
        ))
        batch_op.add_column(sa.Column(
            'police_phone', sa.String(length=40), server_default='101', nullable=False
        ))
        batch_op.create_check_constraint(
            'highest_urgent_start_positive', 'highest_urgent_start >= 1'
        )

    with op.batch_alter_table('policy_stage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('urgent_working_hours', sa.Integer(), nullable=True))
    stages = sa.table(
        'policy_stage',
        sa.column('id', sa.Integer),
        sa.column('level', sa.Integer),
        sa.column('urgent_working_days', sa.Integer),
        sa.column('urgent_working_hours', sa.Integer),
    )
    connection = op.get_bind()
    for row in connection.execute(sa.select(stages.c.id, stages.c.level, stages.c.urgent_working_days)):
        hours = _NEW_DEFAULTS.get((row.level, row.urgent_working_days), row.urgent_working_days * HOURS_A_DAY)
        connection.execute(
            stages.update().where(stages.c.id == row.id).values(urgent_working_hours=hours)
        )
    with op.batch_alter_table('policy_stage', schema=None) as batch_op:
        batch_op.alter_column('urgent_working_hours', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(op.f('ck_policy_stage_urgent_working_days_positive'), type_='check')
        batch_op.drop_column('urgent_working_days')
        batch_op.create_check_constraint('urgent_working_hours_positive', 'urgent_working_hours >= 1')

    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('working_hours', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('stage', schema=None) as batch_op:
        batch_op.drop_column('working_hours')

    with op.batch_alter_table('policy_stage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('urgent_working_days', sa.Integer(), nullable=True))
    stages = sa.table(
        'policy_stage',
        sa.column('id', sa.Integer),
        sa.column('urgent_working_days', sa.Integer),
        sa.column('urgent_working_hours', sa.Integer),
    )
    connection = op.get_bind()
    for row in connection.execute(sa.select(stages.c.id, stages.c.urgent_working_hours)):
        days = max(1, -(-row.urgent_working_hours // HOURS_A_DAY))
        connection.execute(
            stages.update().where(stages.c.id == row.id).values(urgent_working_days=days)
        )
    with op.batch_alter_table('policy_stage', schema=None) as batch_op:
        batch_op.alter_column('urgent_working_days', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(op.f('ck_policy_stage_urgent_working_hours_positive'), type_='check')
        batch_op.drop_column('urgent_working_hours')
        batch_op.create_check_constraint('urgent_working_days_positive', 'urgent_working_days >= 1')

    with op.batch_alter_table('partnership_settings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_partnership_settings_highest_urgent_start_positive'), type_='check')
        batch_op.drop_column('police_phone')
        batch_op.drop_column('out_of_hours_phone')
        batch_op.drop_column('mash_phone')
        batch_op.drop_column('highest_urgent_start')
        batch_op.drop_column('start_of_working_day')
