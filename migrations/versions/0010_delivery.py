"""the delivery service: advisors' alerts, the outbox and its attempts, webhook endpoints; advisors'
work e-mail addresses and alert preferences

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('email_alerts', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('alert_digest', sa.String(length=10), server_default='daily', nullable=False))
        batch_op.create_check_constraint(op.f('ck_accounts_alert_digest'), "alert_digest IN ('none','daily','weekly')")
    op.create_table(
        'alerts',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('advisor_id', sa.String(length=36), nullable=False),
        sa.Column('plugin', sa.String(length=63), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('employer_id', sa.String(length=36), nullable=True),
        sa.Column('search_id', sa.String(length=36), nullable=True),
        sa.Column('match_count', sa.Integer(), nullable=True),
        sa.Column('no_match', sa.Boolean(), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('group_key', sa.String(length=200), nullable=True),
        sa.Column('group_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('occurrences', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['advisor_id'], ['accounts.id'], name=op.f('fk_alerts_advisor_id_accounts')),
        sa.ForeignKeyConstraint(['employer_id'], ['employers.id'], name=op.f('fk_alerts_employer_id_employers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    )
    op.create_index('ix_alerts_advisor', 'alerts', ['advisor_id', 'last_at'])
    op.create_index('ix_alerts_group', 'alerts', ['advisor_id', 'plugin', 'group_key'])
    op.create_table(
        'alert_keys',
        sa.Column('plugin', sa.String(length=63), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('alert_id', sa.String(length=36), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_keys_alert_id_alerts'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('plugin', 'key', name=op.f('pk_alert_keys')),
    )
    op.create_table(
        'deliveries',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('alert_id', sa.String(length=36), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('target', sa.String(length=36), nullable=False),
        sa.Column('event_type', sa.String(length=60), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('leased_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_outcome', sa.String(length=120), nullable=True),
        sa.CheckConstraint("channel IN ('email','webhook')", name=op.f('ck_deliveries_channel')),
        sa.CheckConstraint("state IN ('pending','delivered','failed')", name=op.f('ck_deliveries_state')),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_deliveries_alert_id_alerts'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    )
    op.create_index('ix_deliveries_due', 'deliveries', ['state', 'next_attempt_at'])
    op.create_index('ix_deliveries_alert', 'deliveries', ['alert_id'])
    op.create_table(
        'delivery_attempts',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('delivery_id', sa.String(length=36), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.Column('succeeded', sa.Boolean(), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_delivery_attempts_delivery_id_deliveries'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_attempts')),
    )
    op.create_index('ix_delivery_attempts_delivery', 'delivery_attempts', ['delivery_id', 'number'])
    op.create_table(
        'webhook_endpoints',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('signing', sa.String(length=10), nullable=False),
        sa.Column('secret_generation', sa.Integer(), nullable=False),
        sa.Column('previous_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('description', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('disabled_reason', sa.String(length=120), nullable=True),
        sa.CheckConstraint("signing IN ('ed25519','hmac')", name=op.f('ck_webhook_endpoints_signing')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints')),
    )


def downgrade() -> None:
    op.drop_table('webhook_endpoints')
    op.drop_index('ix_delivery_attempts_delivery', table_name='delivery_attempts')
    op.drop_table('delivery_attempts')
    op.drop_index('ix_deliveries_alert', table_name='deliveries')
    op.drop_index('ix_deliveries_due', table_name='deliveries')
    op.drop_table('deliveries')
    op.drop_table('alert_keys')
    op.drop_index('ix_alerts_group', table_name='alerts')
    op.drop_index('ix_alerts_advisor', table_name='alerts')
    op.drop_table('alerts')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_accounts_alert_digest'), type_='check')
        batch_op.drop_column('alert_digest')
        batch_op.drop_column('email_alerts')
        batch_op.drop_column('email')
