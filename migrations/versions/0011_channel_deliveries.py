"""channel integrations: the idempotency keys of inbound messages, and each channel client's
webhook-secret generation

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_generation', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('webhook_previous_until', sa.DateTime(timezone=True), nullable=True))
    # Clients registered before this revision get their first secret (they had none).
    op.execute("UPDATE accounts SET webhook_generation = 1 WHERE role = 'service'")
    op.create_table(
        'channel_deliveries',
        sa.Column('client_id', sa.String(length=36), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('message_id', sa.String(length=200), nullable=False),
        sa.Column('plugin', sa.String(length=63), nullable=False),
        sa.Column('path', sa.String(length=255), nullable=False),
        sa.Column('request_mac', sa.String(length=64), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('status', sa.Integer(), nullable=True),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['client_id'], ['accounts.id'], name=op.f('fk_channel_deliveries_client_id_accounts')),
        sa.PrimaryKeyConstraint('client_id', 'key', name=op.f('pk_channel_deliveries')),
        sa.UniqueConstraint('client_id', 'message_id', name='uq_channel_deliveries_message'),
    )
    op.create_index(op.f('ix_channel_deliveries_claimed_at'), 'channel_deliveries', ['claimed_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_channel_deliveries_claimed_at'), table_name='channel_deliveries')
    op.drop_table('channel_deliveries')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('webhook_previous_until')
        batch_op.drop_column('webhook_generation')
