"""evidence documents: the register of attestations of active job search issued

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'evidence_documents',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('code', sa.String(length=20), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('media_type', sa.String(length=40), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('period_from', sa.Date(), nullable=False),
        sa.Column('period_to', sa.Date(), nullable=False),
        sa.Column('entry_count', sa.Integer(), nullable=False),
        sa.Column('kid', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_documents')),
        sa.UniqueConstraint('sha256', name=op.f('uq_evidence_documents_sha256')),
    )
    op.create_index(op.f('ix_evidence_documents_code'), 'evidence_documents', ['code'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_evidence_documents_code'), table_name='evidence_documents')
    op.drop_table('evidence_documents')
