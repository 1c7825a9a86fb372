"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('employers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employers'))
    )
    op.create_table('subjects',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('wrapped_dek', sa.LargeBinary(), nullable=True),
    sa.Column('kek_version', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subjects'))
    )
    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.create_index('ix_subjects_kek_version', ['kek_version'], unique=False)

    op.create_table('taxonomy_concepts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('scheme', sa.String(length=20), nullable=False),
    sa.Column('isco_group', sa.String(length=10), nullable=True),
    sa.Column('esco_code', sa.String(length=40), nullable=True),
    sa.CheckConstraint("kind IN ('occupation','skill')", name=op.f('ck_taxonomy_concepts_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_taxonomy_concepts')),
    sa.UniqueConstraint('code', name=op.f('uq_taxonomy_concepts_code'))
    )
    with op.batch_alter_table('taxonomy_concepts', schema=None) as batch_op:
        batch_op.create_index('ix_taxonomy_concepts_kind', ['kind'], unique=False)

    op.create_table('accounts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('username', sa.String(length=150), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('subject_id', sa.String(length=36), nullable=True),
    sa.Column('employer_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(role = 'employer') = (employer_id IS NOT NULL)", name=op.f('ck_accounts_employer_link')),
    sa.CheckConstraint("(role = 'seeker') = (subject_id IS NOT NULL)", name=op.f('ck_accounts_seeker_subject')),
    sa.CheckConstraint("role IN ('seeker','advisor','employer','auditor','admin')", name=op.f('ck_accounts_role')),
    sa.ForeignKeyConstraint(['employer_id'], ['employers.id'], name=op.f('fk_accounts_employer_id_employers')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_accounts_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('subject_id', name=op.f('uq_accounts_subject_id')),
    sa.UniqueConstraint('username', name=op.f('uq_accounts_username'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_employer_id'), ['employer_id'], unique=False)

    op.create_table('blind_indexes',
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('digest', sa.LargeBinary(length=32), nullable=False),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_blind_indexes_subject_id_subjects')),
    sa.PrimaryKeyConstraint('subject_id', 'kind', name=op.f('pk_blind_indexes'))
    )
    with op.batch_alter_table('blind_indexes', schema=None) as batch_op:
        batch_op.create_index('ix_blind_indexes_lookup', ['kind', 'digest'], unique=False)
        batch_op.create_index('uq_blind_indexes_national_id', ['digest'], unique=True, sqlite_where=sa.text("kind = 'national_id'"), postgresql_where=sa.text("kind = 'national_id'"))

    op.create_table('records',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('recorded_by', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('identity','profile','contact','activity')", name=op.f('ck_records_kind')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_records_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records'))
    )
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index('ix_records_subject_kind', ['subject_id', 'kind'], unique=False)

    op.create_table('taxonomy_labels',
    sa.Column('concept_id', sa.Integer(), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['concept_id'], ['taxonomy_concepts.id'], name=op.f('fk_taxonomy_labels_concept_id_taxonomy_concepts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('concept_id', 'lang', name=op.f('pk_taxonomy_labels'))
    )
    op.create_table('taxonomy_relations',
    sa.Column('occupation_id', sa.Integer(), nullable=False),
    sa.Column('skill_id', sa.Integer(), nullable=False),
    sa.Column('relation', sa.String(length=20), nullable=False),
    sa.CheckConstraint("relation IN ('essential','optional')", name=op.f('ck_taxonomy_relations_relation')),
    sa.ForeignKeyConstraint(['occupation_id'], ['taxonomy_concepts.id'], name=op.f('fk_taxonomy_relations_occupation_id_taxonomy_concepts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['skill_id'], ['taxonomy_concepts.id'], name=op.f('fk_taxonomy_relations_skill_id_taxonomy_concepts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('occupation_id', 'skill_id', name=op.f('pk_taxonomy_relations'))
    )
    with op.batch_alter_table('taxonomy_relations', schema=None) as batch_op:
        batch_op.create_index('ix_taxonomy_relations_skill', ['skill_id'], unique=False)

    op.create_table('employer_assignments',
    sa.Column('advisor_id', sa.String(length=36), nullable=False),
    sa.Column('employer_id', sa.String(length=36), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['advisor_id'], ['accounts.id'], name=op.f('fk_employer_assignments_advisor_id_accounts')),
    sa.ForeignKeyConstraint(['employer_id'], ['employers.id'], name=op.f('fk_employer_assignments_employer_id_employers')),
    sa.PrimaryKeyConstraint('advisor_id', 'employer_id', name=op.f('pk_employer_assignments'))
    )
    with op.batch_alter_table('employer_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employer_assignments_employer_id'), ['employer_id'], unique=False)

    op.create_table('sealed_fields',
    sa.Column('record_id', sa.String(length=36), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], name=op.f('fk_sealed_fields_record_id_records'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_sealed_fields_subject_id_subjects')),
    sa.PrimaryKeyConstraint('record_id', 'field', name=op.f('pk_sealed_fields'))
    )
    with op.batch_alter_table('sealed_fields', schema=None) as batch_op:
        batch_op.create_index('ix_sealed_fields_subject', ['subject_id', 'category'], unique=False)

    op.create_table('seeker_assignments',
    sa.Column('advisor_id', sa.String(length=36), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['advisor_id'], ['accounts.id'], name=op.f('fk_seeker_assignments_advisor_id_accounts')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_seeker_assignments_subject_id_subjects')),
    sa.PrimaryKeyConstraint('advisor_id', 'subject_id', name=op.f('pk_seeker_assignments'))
    )
    with op.batch_alter_table('seeker_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seeker_assignments_subject_id'), ['subject_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('seeker_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seeker_assignments_subject_id'))

    op.drop_table('seeker_assignments')
    with op.batch_alter_table('sealed_fields', schema=None) as batch_op:
        batch_op.drop_index('ix_sealed_fields_subject')

    op.drop_table('sealed_fields')
    with op.batch_alter_table('employer_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_employer_assignments_employer_id'))

    op.drop_table('employer_assignments')
    with op.batch_alter_table('taxonomy_relations', schema=None) as batch_op:
        batch_op.drop_index('ix_taxonomy_relations_skill')

    op.drop_table('taxonomy_relations')
    op.drop_table('taxonomy_labels')
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_subject_kind')

    op.drop_table('records')
    with op.batch_alter_table('blind_indexes', schema=None) as batch_op:
        batch_op.drop_index('uq_blind_indexes_national_id', sqlite_where=sa.text("kind = 'national_id'"), postgresql_where=sa.text("kind = 'national_id'"))
        batch_op.drop_index('ix_blind_indexes_lookup')

    op.drop_table('blind_indexes')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_employer_id'))

    op.drop_table('accounts')
    with op.batch_alter_table('taxonomy_concepts', schema=None) as batch_op:
        batch_op.drop_index('ix_taxonomy_concepts_kind')

    op.drop_table('taxonomy_concepts')
    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.drop_index('ix_subjects_kek_version')

    op.drop_table('subjects')
    op.drop_table('employers')
