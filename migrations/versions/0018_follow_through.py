"""follow-through: chronology entries, agreed actions, professionals' meetings, structured learning, report impact

Revision ID: 0018
Revises: 0017
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

KINDS = (
    "'raised', 'responded', 'accepted', 'escalated', 'decided', 'withdrawn', 'extended', "
    "'reassigned', 'conversation', 'overdue', 'learning_note', 'deadline_recomputed', "
    "'proposed', 'proposal_objected', 'advice', 'closed_no_reply', "
    "'extension_requested', 'extension_agreed', 'extension_refused', 'extension_lapsed', "
    "'corrected', 'anonymised'"
)
FOLLOW_THROUGH_KINDS = (
    "'chronology_recorded', 'action_due', 'action_done', 'follow_up_raised', "
    "'meeting_arranged', 'meeting_held', 'minutes_recorded', 'learning_updated'"
)


def upgrade():
    op.create_table('report_impact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('written_by_id', sa.Integer(), nullable=False),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['written_by_id'], ['user_account.id'], name=op.f('fk_report_impact_written_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_impact')),
    sa.UniqueConstraint('period_start', 'period_end', name=op.f('uq_report_impact_period_start_period_end'))
    )
    op.create_table('professionals_meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('difference_id', sa.Integer(), nullable=False),
    sa.Column('stage_level', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('professionals_meeting', 'mediation', name='meeting_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('arranged_by_id', sa.Integer(), nullable=False),
    sa.Column('arranged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('meets_on', sa.Date(), nullable=False),
    sa.Column('invited', sa.Text(), nullable=False),
    sa.Column('chair', sa.String(length=200), nullable=False),
    sa.Column('outcome_recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome_by_id', sa.Integer(), nullable=True),
    sa.Column('attendees', sa.Text(), server_default='', nullable=False),
    sa.Column('agreed', sa.Text(), server_default='', nullable=False),
    sa.Column('outcome_reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('minutes_due_on', sa.Date(), nullable=False),
    sa.Column('minutes_recorded_on', sa.Date(), nullable=True),
    sa.Column('minutes_reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['arranged_by_id'], ['user_account.id'], name=op.f('fk_professionals_meeting_arranged_by_id_user_account')),
    sa.ForeignKeyConstraint(['difference_id'], ['difference.id'], name=op.f('fk_professionals_meeting_difference_id_difference')),
    sa.ForeignKeyConstraint(['outcome_by_id'], ['user_account.id'], name=op.f('fk_professionals_meeting_outcome_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_professionals_meeting'))
    )
    with op.batch_alter_table('professionals_meeting', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_professionals_meeting_difference_id'), ['difference_id'], unique=False)
        batch_op.create_index('ix_professionals_meeting_minutes_due', ['minutes_due_on'], unique=False, sqlite_where=sa.text('minutes_recorded_on IS NULL AND minutes_reminded_at IS NULL'), postgresql_where=sa.text('minutes_recorded_on IS NULL AND minutes_reminded_at IS NULL'))
        batch_op.create_index('ix_professionals_meeting_outcome_due', ['meets_on'], unique=False, sqlite_where=sa.text('outcome_recorded_at IS NULL AND outcome_reminded_at IS NULL'), postgresql_where=sa.text('outcome_recorded_at IS NULL AND outcome_reminded_at IS NULL'))
        batch_op.create_index('ix_professionals_meeting_follow_up', ['arranged_by_id'], unique=False, sqlite_where=sa.text('outcome_recorded_at IS NULL OR minutes_recorded_on IS NULL'), postgresql_where=sa.text('outcome_recorded_at IS NULL OR minutes_recorded_on IS NULL'))

    op.create_table('agreed_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('difference_id', sa.Integer(), nullable=False),
    sa.Column('stage_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('what', sa.Text(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('ask_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.Column('done_note', sa.Text(), server_default='', nullable=False),
    sa.Column('follow_up_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_agreed_action_agency_id_agency')),
    sa.ForeignKeyConstraint(['difference_id'], ['difference.id'], name=op.f('fk_agreed_action_difference_id_difference')),
    sa.ForeignKeyConstraint(['done_by_id'], ['user_account.id'], name=op.f('fk_agreed_action_done_by_id_user_account')),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_agreed_action_event_id_event')),
    sa.ForeignKeyConstraint(['follow_up_id'], ['difference.id'], name=op.f('fk_agreed_action_follow_up_id_difference')),
    sa.ForeignKeyConstraint(['owner_id'], ['user_account.id'], name=op.f('fk_agreed_action_owner_id_user_account')),
    sa.ForeignKeyConstraint(['stage_id'], ['stage.id'], name=op.f('fk_agreed_action_stage_id_stage')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agreed_action')),
    sa.UniqueConstraint('event_id', 'number', name=op.f('uq_agreed_action_event_id_number'))
    )
    with op.batch_alter_table('agreed_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agreed_action_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index('ix_agreed_action_ask_at', ['ask_at'], unique=False, sqlite_where=sa.text('done_at IS NULL AND asked_at IS NULL'), postgresql_where=sa.text('done_at IS NULL AND asked_at IS NULL'))
        batch_op.create_index(batch_op.f('ix_agreed_action_difference_id'), ['difference_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_agreed_action_follow_up_id'), ['follow_up_id'], unique=False)
        batch_op.create_index('ix_agreed_action_open_due_on', ['due_on'], unique=False, sqlite_where=sa.text('done_at IS NULL'), postgresql_where=sa.text('done_at IS NULL'))
        batch_op.create_index(batch_op.f('ix_agreed_action_owner_id'), ['owner_id'], unique=False)

    op.create_table('chronology_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('difference_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('remind_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_chronology_entry_agency_id_agency')),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['user_account.id'], name=op.f('fk_chronology_entry_confirmed_by_id_user_account')),
    sa.ForeignKeyConstraint(['difference_id'], ['difference.id'], name=op.f('fk_chronology_entry_difference_id_difference')),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_chronology_entry_event_id_event')),
    sa.ForeignKeyConstraint(['owner_id'], ['user_account.id'], name=op.f('fk_chronology_entry_owner_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chronology_entry')),
    sa.UniqueConstraint('event_id', 'agency_id', name=op.f('uq_chronology_entry_event_id_agency_id'))
    )
    with op.batch_alter_table('chronology_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chronology_entry_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chronology_entry_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_chronology_entry_difference_id'), ['difference_id'], unique=False)
        batch_op.create_index('ix_chronology_entry_remind_at', ['remind_at'], unique=False, sqlite_where=sa.text('confirmed_at IS NULL AND reminded_at IS NULL'), postgresql_where=sa.text('confirmed_at IS NULL AND reminded_at IS NULL'))
        batch_op.create_index('ix_chronology_entry_unconfirmed_owner', ['owner_id'], unique=False, sqlite_where=sa.text('confirmed_at IS NULL'), postgresql_where=sa.text('confirmed_at IS NULL'))

    with op.batch_alter_table('learning_note', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recommendation', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('owner_agency_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('due_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=32), server_default='open', nullable=False))
        batch_op.add_column(sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_learning_note_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_learning_note_owner_agency_id'), ['owner_agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_learning_note_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_learning_note_status'), ['status'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_learning_note_owner_agency_id_agency'), 'agency', ['owner_agency_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_learning_note_owner_id_user_account'), 'user_account', ['owner_id'], ['id'])

    # Added apart from its column: SQLite's copy of the table needs the column before the check.
    with op.batch_alter_table('learning_note', schema=None) as batch_op:
        batch_op.create_check_constraint('learning_status', "status IN ('open', 'in_progress', 'done')")

    with op.batch_alter_table('partnership_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('minutes_working_days', sa.Integer(), server_default='15', nullable=False))
        batch_op.create_check_constraint('minutes_working_days_positive', 'minutes_working_days >= 1')

    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_event_event_kind'), type_='check')
        batch_op.create_check_constraint('event_kind', f"kind IN ({KINDS}, {FOLLOW_THROUGH_KINDS})")


def downgrade():
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_event_event_kind'), type_='check')
        batch_op.create_check_constraint('event_kind', f"kind IN ({KINDS})")

    with op.batch_alter_table('partnership_settings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_partnership_settings_minutes_working_days_positive'), type_='check')
        batch_op.drop_column('minutes_working_days')

    with op.batch_alter_table('learning_note', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_learning_note_learning_status'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_learning_note_owner_id_user_account'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_learning_note_owner_agency_id_agency'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_learning_note_status'))
        batch_op.drop_index(batch_op.f('ix_learning_note_owner_id'))
        batch_op.drop_index(batch_op.f('ix_learning_note_owner_agency_id'))
        batch_op.drop_index(batch_op.f('ix_learning_note_due_on'))
        batch_op.drop_column('status_changed_at')
        batch_op.drop_column('status')
        batch_op.drop_column('due_on')
        batch_op.drop_column('owner_id')
        batch_op.drop_column('owner_agency_id')
        batch_op.drop_column('recommendation')

    with op.batch_alter_table('chronology_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_chronology_entry_unconfirmed_owner', sqlite_where=sa.text('confirmed_at IS NULL'), postgresql_where=sa.text('confirmed_at IS NULL'))
        batch_op.drop_index('ix_chronology_entry_remind_at', sqlite_where=sa.text('confirmed_at IS NULL AND reminded_at IS NULL'), postgresql_where=sa.text('confirmed_at IS NULL AND reminded_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_chronology_entry_difference_id'))
        batch_op.drop_index(batch_op.f('ix_chronology_entry_created_at'))
        batch_op.drop_index(batch_op.f('ix_chronology_entry_agency_id'))

    op.drop_table('chronology_entry')
    with op.batch_alter_table('agreed_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agreed_action_owner_id'))
        batch_op.drop_index('ix_agreed_action_open_due_on', sqlite_where=sa.text('done_at IS NULL'), postgresql_where=sa.text('done_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_agreed_action_follow_up_id'))
        batch_op.drop_index(batch_op.f('ix_agreed_action_difference_id'))
        batch_op.drop_index('ix_agreed_action_ask_at', sqlite_where=sa.text('done_at IS NULL AND asked_at IS NULL'), postgresql_where=sa.text('done_at IS NULL AND asked_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_agreed_action_agency_id'))

    op.drop_table('agreed_action')
    with op.batch_alter_table('professionals_meeting', schema=None) as batch_op:
        batch_op.drop_index('ix_professionals_meeting_follow_up', sqlite_where=sa.text('outcome_recorded_at IS NULL OR minutes_recorded_on IS NULL'), postgresql_where=sa.text('outcome_recorded_at IS NULL OR minutes_recorded_on IS NULL'))
        batch_op.drop_index('ix_professionals_meeting_outcome_due', sqlite_where=sa.text('outcome_recorded_at IS NULL AND outcome_reminded_at IS NULL'), postgresql_where=sa.text('outcome_recorded_at IS NULL AND outcome_reminded_at IS NULL'))
        batch_op.drop_index('ix_professionals_meeting_minutes_due', sqlite_where=sa.text('minutes_recorded_on IS NULL AND minutes_reminded_at IS NULL'), postgresql_where=sa.text('minutes_recorded_on IS NULL AND minutes_reminded_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_professionals_meeting_difference_id'))

    op.drop_table('professionals_meeting')
    op.drop_table('report_impact')
