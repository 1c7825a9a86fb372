"""employer searches, the seekers each one showed, and contact requests

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'employer_searches',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('employer_id', sa.String(length=36), nullable=False),
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('criteria', sa.Text(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('shown', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['employer_id'], ['employers.id'], name=op.f('fk_employer_searches_employer_id_employers')),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_employer_searches_account_id_accounts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_employer_searches')),
    )
    op.create_index('ix_employer_searches_employer', 'employer_searches', ['employer_id', 'created_at'])
    op.create_table(
        'search_appearances',
        sa.Column('search_id', sa.String(length=36), nullable=False),
        sa.Column('candidate_ref', sa.String(length=32), nullable=False),
        sa.Column('employer_id', sa.String(length=36), nullable=False),
        sa.Column('subject_id', sa.String(length=36), nullable=False),
        sa.Column('rank', sa.Integer(), nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('explanation', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['search_id'], ['employer_searches.id'], name=op.f('fk_search_appearances_search_id_employer_searches')),
        sa.ForeignKeyConstraint(['employer_id'], ['employers.id'], name=op.f('fk_search_appearances_employer_id_employers')),
        sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_search_appearances_subject_id_subjects')),
        sa.PrimaryKeyConstraint('search_id', 'candidate_ref', name=op.f('pk_search_appearances')),
    )
    op.create_index('ix_search_appearances_subject', 'search_appearances', ['subject_id'])
    op.create_index('ix_search_appearances_ref', 'search_appearances', ['employer_id', 'candidate_ref'])
    op.create_table(
        'contact_requests',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('employer_id', sa.String(length=36), nullable=False),
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('subject_id', sa.String(length=36), nullable=False),
        sa.Column('candidate_ref', sa.String(length=32), nullable=False),
        sa.Column('message', sa.LargeBinary(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('receipt_id', sa.String(length=36), nullable=True),
        sa.CheckConstraint("state IN ('pending','accepted','refused','withdrawn')", name=op.f('ck_contact_requests_state')),
        sa.ForeignKeyConstraint(['employer_id'], ['employers.id'], name=op.f('fk_contact_requests_employer_id_employers')),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_contact_requests_account_id_accounts')),
        sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_contact_requests_subject_id_subjects')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_requests')),
    )
    op.create_index('ix_contact_requests_employer', 'contact_requests', ['employer_id', 'created_at'])
    op.create_index('ix_contact_requests_subject', 'contact_requests', ['subject_id', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_contact_requests_subject', table_name='contact_requests')
    op.drop_index('ix_contact_requests_employer', table_name='contact_requests')
    op.drop_table('contact_requests')
    op.drop_index('ix_search_appearances_ref', table_name='search_appearances')
    op.drop_index('ix_search_appearances_subject', table_name='search_appearances')
    op.drop_table('search_appearances')
    op.drop_index('ix_employer_searches_employer', table_name='employer_searches')
    op.drop_table('employer_searches')
