"""audit log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_checkpoints',
    sa.Column('tree_size', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.Column('kid', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('tree_size', name=op.f('pk_audit_checkpoints'))
    )
    op.create_table('audit_leaves',
    sa.Column('leaf_index', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('canonical', sa.LargeBinary(), nullable=False),
    sa.Column('subject_ref', sa.String(length=36), nullable=True),
    sa.Column('actor_id', sa.String(length=36), nullable=True),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('leaf_index', name=op.f('pk_audit_leaves'))
    )
    with op.batch_alter_table('audit_leaves', schema=None) as batch_op:
        batch_op.create_index('ix_audit_leaves_actor', ['actor_id', 'leaf_index'], unique=False)
        batch_op.create_index('ix_audit_leaves_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_leaves_subject', ['subject_ref', 'leaf_index'], unique=False)

    op.create_table('audit_nodes',
    sa.Column('level', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('index', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'index', name=op.f('pk_audit_nodes'))
    )
    op.create_table('audit_queue',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('canonical', sa.LargeBinary(), nullable=False),
    sa.Column('subject_ref', sa.String(length=36), nullable=True),
    sa.Column('actor_id', sa.String(length=36), nullable=True),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_queue'))
    )
    op.create_table('audit_tree',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('size', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_tree'))
    )
    # The sequencer's single row: the tree starts empty.
    tree = sa.table("audit_tree", sa.column("id", sa.Integer), sa.column("size", sa.BigInteger))
    op.bulk_insert(tree, [{"id": 1, "size": 0}])


def downgrade() -> None:
    op.drop_table('audit_tree')
    op.drop_table('audit_queue')
    op.drop_table('audit_nodes')
    with op.batch_alter_table('audit_leaves', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_leaves_subject')
        batch_op.drop_index('ix_audit_leaves_at')
        batch_op.drop_index('ix_audit_leaves_actor')

    op.drop_table('audit_leaves')
    op.drop_table('audit_checkpoints')
