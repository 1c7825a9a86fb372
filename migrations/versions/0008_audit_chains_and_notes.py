"""audit: each subject's chain, checkpoints trusted only for what they sign, signed notes, cosignatures

The queue keeps only the entry's bytes (the sequencer derives the leaf's columns from them); a
checkpoint keeps only its JWS and its signed note (size, root and time are read from the signed
payload). Leaves that no checkpoint covers were never signed: they go back to the queue, so that
the sequencer integrates them again and signs what it integrates.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import base64
import json
from datetime import datetime

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

leaves = sa.table('audit_leaves', sa.column('leaf_index', BIG), sa.column('canonical', sa.LargeBinary),
                  sa.column('subject_ref', sa.String), sa.column('actor_id', sa.String), sa.column('decision', sa.String))
nodes = sa.table('audit_nodes', sa.column('level', sa.Integer), sa.column('index', BIG))
queue = sa.table('audit_queue', sa.column('id', BIG), sa.column('canonical', sa.LargeBinary),
                 sa.column('subject_ref', sa.String), sa.column('actor_id', sa.String), sa.column('decision', sa.String),
                 sa.column('at', sa.DateTime(timezone=True)))
tree = sa.table('audit_tree', sa.column('id', sa.Integer), sa.column('size', BIG))
checkpoints = sa.table('audit_checkpoints', sa.column('tree_size', BIG), sa.column('root_hash', sa.LargeBinary),
                       sa.column('timestamp', sa.DateTime(timezone=True)), sa.column('jws', sa.Text), sa.column('kid', sa.String))
chains = sa.table('audit_subject_chains', sa.column('subject_ref', sa.String), sa.column('entries', BIG),
                  sa.column('last_index', BIG))


def upgrade() -> None:
    bind = op.get_bind()
    signed = bind.execute(sa.select(sa.func.max(checkpoints.c.tree_size))).scalar() or 0
    # Back to the queue, in order, what no checkpoint covers.
    tail = bind.execute(sa.select(leaves.c.canonical).where(leaves.c.leaf_index >= signed).order_by(leaves.c.leaf_index)).scalars().all()
    for canonical in tail:
        document = json.loads(canonical)
        bind.execute(sa.insert(queue).values(canonical=canonical, subject_ref=document['subject'], actor_id=document['actor']['id'],
                                             decision=document['decision'], at=datetime.fromisoformat(document['at'])))
    bind.execute(sa.delete(leaves).where(leaves.c.leaf_index >= signed))
    bind.execute(sa.delete(nodes).where((nodes.c.index + 1).op('<<')(nodes.c.level) > signed))
    bind.execute(sa.update(tree).where(tree.c.id == 1).values(size=signed))

    with op.batch_alter_table('audit_leaves', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_n', BIG, nullable=True))
        batch_op.add_column(sa.Column('chain_prev', BIG, nullable=True))
        # Actor and decision are read from the hashed bytes: no column to keep in step with them.
        batch_op.drop_index('ix_audit_leaves_actor')
        batch_op.drop_column('actor_id')
        batch_op.drop_column('decision')
        batch_op.drop_index('ix_audit_leaves_subject')
        batch_op.create_index('ix_audit_leaves_subject', ['subject_ref', 'leaf_index', 'chain_n', 'chain_prev'], unique=False)

    op.create_table('audit_subject_chains',
    sa.Column('subject_ref', sa.String(length=36), nullable=False),
    sa.Column('entries', BIG, nullable=False),
    sa.Column('last_index', BIG, nullable=False),
    sa.PrimaryKeyConstraint('subject_ref', name=op.f('pk_audit_subject_chains'))
    )
    bind.execute(sa.insert(chains).from_select(
        ['subject_ref', 'entries', 'last_index'],
        sa.select(leaves.c.subject_ref, sa.func.count(), sa.func.max(leaves.c.leaf_index))
        .where(leaves.c.subject_ref.is_not(None)).group_by(leaves.c.subject_ref),
    ))
    op.create_table('audit_cosignatures',
    sa.Column('tree_size', BIG, autoincrement=False, nullable=False),
    sa.Column('witness', sa.String(length=200), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tree_size', 'witness', name=op.f('pk_audit_cosignatures'))
    )
    with op.batch_alter_table('audit_queue', schema=None) as batch_op:
        for name in ('subject_ref', 'actor_id', 'decision', 'at'):
            batch_op.drop_column(name)
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))
        for name in ('root_hash', 'timestamp', 'kid'):
            batch_op.drop_column(name)


def _payload(token: str) -> tuple[dict, str]:
    header, payload = (json.loads(base64.urlsafe_b64decode(part + '=' * (-len(part) % 4))) for part in token.split('.')[:2])
    return payload, header.get('kid', '')


def downgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('root_hash', sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column('timestamp', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('kid', sa.String(length=100), nullable=True))
        batch_op.drop_column('note')
    for size, token in bind.execute(sa.select(checkpoints.c.tree_size, checkpoints.c.jws)).all():
        payload, kid = _payload(token)
        bind.execute(sa.update(checkpoints).where(checkpoints.c.tree_size == size).values(
            root_hash=bytes.fromhex(payload['root_hash']), timestamp=datetime.fromisoformat(payload['timestamp']), kid=kid))
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        for name in ('root_hash', 'timestamp', 'kid'):
            batch_op.alter_column(name, nullable=False)
    with op.batch_alter_table('audit_queue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_ref', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('actor_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('decision', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('at', sa.DateTime(timezone=True), nullable=True))
    for queued_id, canonical in bind.execute(sa.select(queue.c.id, queue.c.canonical)).all():
        document = json.loads(canonical)
        bind.execute(sa.update(queue).where(queue.c.id == queued_id).values(
            subject_ref=document['subject'], actor_id=document['actor']['id'], decision=document['decision'],
            at=datetime.fromisoformat(document['at'])))
    with op.batch_alter_table('audit_queue', schema=None) as batch_op:
        batch_op.alter_column('decision', nullable=False)
        batch_op.alter_column('at', nullable=False)
    op.drop_table('audit_cosignatures')
    op.drop_table('audit_subject_chains')
    with op.batch_alter_table('audit_leaves', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_leaves_subject')
        batch_op.create_index('ix_audit_leaves_subject', ['subject_ref', 'leaf_index'], unique=False)
        batch_op.drop_column('chain_prev')
        batch_op.drop_column('chain_n')
        batch_op.add_column(sa.Column('actor_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('decision', sa.String(length=10), nullable=True))
    for index, canonical in bind.execute(sa.select(leaves.c.leaf_index, leaves.c.canonical)).all():
        document = json.loads(canonical)
        bind.execute(sa.update(leaves).where(leaves.c.leaf_index == index).values(
            actor_id=document['actor']['id'], decision=document['decision']))
    with op.batch_alter_table('audit_leaves', schema=None) as batch_op:
        batch_op.alter_column('decision', nullable=False)
        batch_op.create_index('ix_audit_leaves_actor', ['actor_id', 'leaf_index'], unique=False)
