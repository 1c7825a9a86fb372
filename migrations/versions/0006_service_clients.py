"""service clients: accounts of role `service`, with OAuth2 scopes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

PEOPLE = "'seeker','advisor','employer','auditor','admin'"


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.Text(), nullable=True))
        batch_op.drop_constraint(op.f('ck_accounts_role'), type_='check')
        batch_op.create_check_constraint(op.f('ck_accounts_role'), f"role IN ({PEOPLE},'service')")


def downgrade() -> None:
    op.execute("DELETE FROM accounts WHERE role = 'service'")
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_accounts_role'), type_='check')
        batch_op.create_check_constraint(op.f('ck_accounts_role'), f"role IN ({PEOPLE})")
        batch_op.drop_column('scopes')
