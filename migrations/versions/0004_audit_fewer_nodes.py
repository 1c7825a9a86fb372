"""audit log: subtrees of fewer than 16 leaves are no longer stored

The sequencer stores the hash of complete subtrees from level 4 (16 leaves) up and hashes smaller
ones again from their leaves when a proof needs them; the rows of levels 0 to 3 go. A downgrade
hashes them again from the leaves.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import hashlib

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

STORED_LEVEL = 4  # audit.log.STORED_LEVEL when this revision was written
_nodes = sa.table('audit_nodes', sa.column('level', sa.Integer), sa.column('index', sa.BigInteger),
                  sa.column('hash', sa.LargeBinary))
_leaves = sa.table('audit_leaves', sa.column('leaf_index', sa.BigInteger), sa.column('leaf_hash', sa.LargeBinary))


def upgrade() -> None:
    op.execute(_nodes.delete().where(_nodes.c.level < STORED_LEVEL))


def downgrade() -> None:
    # The frontier of the tree so far, as RFC 9162 builds it; each merge is a complete subtree.
    conn = op.get_bind()
    roots: list[bytes] = []
    rows: list[dict[str, object]] = []
    leaves = sa.select(_leaves.c.leaf_index, _leaves.c.leaf_hash).order_by(_leaves.c.leaf_index).execution_options(yield_per=10_000)
    for leaf_index, leaf_hash in conn.execute(leaves):
        rows.append({'level': 0, 'index': leaf_index, 'hash': leaf_hash})
        roots.append(leaf_hash)
        level = 0
        while (leaf_index + 1) % (2 << level) == 0:
            right, left = roots.pop(), roots.pop()
            roots.append(hashlib.sha256(b'\x01' + left + right).digest())
            level += 1
            if level < STORED_LEVEL:
                rows.append({'level': level, 'index': leaf_index >> level, 'hash': roots[-1]})
        if len(rows) >= 10_000:
            conn.execute(_nodes.insert(), rows)
            rows = []
    if rows:
        conn.execute(_nodes.insert(), rows)
