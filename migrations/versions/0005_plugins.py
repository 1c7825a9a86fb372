"""plugins: holdings, stores, the event outbox, purges and incidents

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('plugin_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event', sa.String(length=63), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=True),
    sa.Column('record_id', sa.String(length=36), nullable=True),
    sa.Column('payload', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plugin_events'))
    )
    op.create_table('plugin_incidents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('plugin', sa.String(length=63), nullable=False),
    sa.Column('hook', sa.String(length=63), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('error', sa.String(length=200), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plugin_incidents'))
    )
    with op.batch_alter_table('plugin_incidents', schema=None) as batch_op:
        batch_op.create_index('ix_plugin_incidents_plugin', ['plugin', 'at'], unique=False)

    op.create_table('plugin_shared_data',
    sa.Column('plugin', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('plugin', 'name', 'key', name=op.f('pk_plugin_shared_data'))
    )
    op.create_table('plugin_holdings',
    sa.Column('plugin', sa.String(length=63), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('pseudonym', sa.String(length=64), nullable=False),
    sa.Column('first_released_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_released_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_plugin_holdings_subject_id_subjects')),
    sa.PrimaryKeyConstraint('plugin', 'subject_id', 'purpose', name=op.f('pk_plugin_holdings'))
    )
    with op.batch_alter_table('plugin_holdings', schema=None) as batch_op:
        batch_op.create_index('ix_plugin_holdings_pseudonym', ['plugin', 'pseudonym'], unique=False)
        batch_op.create_index('ix_plugin_holdings_subject', ['subject_id'], unique=False)

    op.create_table('plugin_purges',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('plugin', sa.String(length=63), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=True),
    sa.Column('cause', sa.String(length=32), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('items', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_plugin_purges_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plugin_purges'))
    )
    with op.batch_alter_table('plugin_purges', schema=None) as batch_op:
        batch_op.create_index('ix_plugin_purges_due', ['confirmed_at', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_plugin_purges_subject', ['subject_id'], unique=False)

    op.create_table('plugin_subject_data',
    sa.Column('plugin', sa.String(length=63), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_plugin_subject_data_subject_id_subjects')),
    sa.PrimaryKeyConstraint('plugin', 'subject_id', 'purpose', 'name', name=op.f('pk_plugin_subject_data'))
    )
    with op.batch_alter_table('plugin_subject_data', schema=None) as batch_op:
        batch_op.create_index('ix_plugin_subject_data_scan', ['plugin', 'purpose', 'name'], unique=False)
        batch_op.create_index('ix_plugin_subject_data_subject', ['subject_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('plugin_subject_data', schema=None) as batch_op:
        batch_op.drop_index('ix_plugin_subject_data_subject')
        batch_op.drop_index('ix_plugin_subject_data_scan')

    op.drop_table('plugin_subject_data')
    with op.batch_alter_table('plugin_purges', schema=None) as batch_op:
        batch_op.drop_index('ix_plugin_purges_subject')
        batch_op.drop_index('ix_plugin_purges_due')

    op.drop_table('plugin_purges')
    with op.batch_alter_table('plugin_holdings', schema=None) as batch_op:
        batch_op.drop_index('ix_plugin_holdings_subject')
        batch_op.drop_index('ix_plugin_holdings_pseudonym')

    op.drop_table('plugin_holdings')
    op.drop_table('plugin_shared_data')
    with op.batch_alter_table('plugin_incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_plugin_incidents_plugin')

    op.drop_table('plugin_incidents')
    op.drop_table('plugin_events')
