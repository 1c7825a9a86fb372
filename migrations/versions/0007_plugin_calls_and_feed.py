"""plugins: calls in flight (a purge waits for them), the store's change feed, the causing request

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'plugin_calls',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('plugin', sa.String(length=63), nullable=False),
        sa.Column('subject_id', sa.String(length=36), nullable=False),
        sa.Column('purpose', sa.String(length=64), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_plugin_calls_subject_id_subjects')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_plugin_calls')),
    )
    op.create_index('ix_plugin_calls_holder', 'plugin_calls', ['plugin', 'subject_id', 'purpose'])
    op.create_table(
        'plugin_store_changes',
        sa.Column('plugin', sa.String(length=63), nullable=False),
        sa.Column('purpose', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('subject_id', sa.String(length=36), nullable=False),
        sa.Column('pseudonym', sa.String(length=64), nullable=False),
        sa.Column('seq', BIG, nullable=False),
        sa.Column('deleted', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_plugin_store_changes_subject_id_subjects')),
        sa.PrimaryKeyConstraint('plugin', 'purpose', 'name', 'subject_id', name=op.f('pk_plugin_store_changes')),
    )
    op.create_index('ix_plugin_store_changes_feed', 'plugin_store_changes', ['plugin', 'purpose', 'name', 'seq'])
    op.create_table(
        'plugin_store_sequences',
        sa.Column('plugin', sa.String(length=63), nullable=False),
        sa.Column('last_seq', BIG, nullable=False),
        sa.PrimaryKeyConstraint('plugin', name=op.f('pk_plugin_store_sequences')),
    )
    # Entries kept before the feed existed are its first changes (one number per plugin).
    op.execute(
        "INSERT INTO plugin_store_sequences (plugin, last_seq) SELECT DISTINCT plugin, 1 FROM plugin_subject_data"
    )
    op.execute(
        "INSERT INTO plugin_store_changes (plugin, purpose, name, subject_id, pseudonym, seq, deleted) "
        "SELECT d.plugin, d.purpose, d.name, d.subject_id, h.pseudonym, 1, false FROM plugin_subject_data d "
        "JOIN plugin_holdings h ON h.plugin = d.plugin AND h.subject_id = d.subject_id AND h.purpose = d.purpose"
    )
    with op.batch_alter_table('plugin_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))
    with op.batch_alter_table('plugin_purges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('plugin_purges', schema=None) as batch_op:
        batch_op.drop_column('request_id')
    with op.batch_alter_table('plugin_events', schema=None) as batch_op:
        batch_op.drop_column('request_id')
    op.drop_table('plugin_store_sequences')
    op.drop_index('ix_plugin_store_changes_feed', table_name='plugin_store_changes')
    op.drop_table('plugin_store_changes')
    op.drop_index('ix_plugin_calls_holder', table_name='plugin_calls')
    op.drop_table('plugin_calls')
