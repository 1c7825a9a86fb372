"""consent

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('purposes',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('legal_basis', sa.String(length=20), nullable=False),
    sa.Column('categories', sa.Text(), nullable=False),
    sa.Column('recipients', sa.Text(), nullable=False),
    sa.Column('retention_days', sa.Integer(), nullable=False),
    sa.Column('current_notice_version', sa.Integer(), nullable=False),
    sa.Column('min_notice_version', sa.Integer(), nullable=False),
    sa.Column('per_request', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.CheckConstraint("legal_basis IN ('consent','legal_obligation','public_task')", name=op.f('ck_purposes_legal_basis')),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_purposes'))
    )
    op.create_table('consent_events',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('notice_version', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('recorded_by', sa.String(length=36), nullable=False),
    sa.Column('recorded_by_role', sa.String(length=20), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('receipt_jws', sa.Text(), nullable=False),
    sa.CheckConstraint("channel IN ('web','in_person','call_centre')", name=op.f('ck_consent_events_channel')),
    sa.CheckConstraint("state IN ('granted','withdrawn')", name=op.f('ck_consent_events_state')),
    sa.ForeignKeyConstraint(['purpose'], ['purposes.name'], name=op.f('fk_consent_events_purpose_purposes')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_consent_events_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_events'))
    )
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.create_index('ix_consent_events_subject', ['subject_id', 'occurred_at'], unique=False)

    op.create_table('purpose_notices',
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('material', sa.Boolean(), nullable=False),
    sa.Column('text_fr', sa.Text(), nullable=False),
    sa.Column('text_en', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['purpose'], ['purposes.name'], name=op.f('fk_purpose_notices_purpose_purposes')),
    sa.PrimaryKeyConstraint('purpose', 'version', name=op.f('pk_purpose_notices'))
    )
    op.create_table('consent_states',
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('notice_version', sa.Integer(), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.CheckConstraint("state IN ('granted','withdrawn')", name=op.f('ck_consent_states_state')),
    sa.ForeignKeyConstraint(['event_id'], ['consent_events.id'], name=op.f('fk_consent_states_event_id_consent_events')),
    sa.ForeignKeyConstraint(['purpose'], ['purposes.name'], name=op.f('fk_consent_states_purpose_purposes')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_consent_states_subject_id_subjects')),
    sa.PrimaryKeyConstraint('subject_id', 'purpose', name=op.f('pk_consent_states'))
    )


def downgrade() -> None:
    op.drop_table('consent_states')
    op.drop_table('purpose_notices')
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_events_subject')

    op.drop_table('consent_events')
    op.drop_table('purposes')
