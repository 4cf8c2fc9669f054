"""accounts are found by (status, due_date): planning and hand-offs ask for open accounts only

The index holds the id too (covering): both read nothing else of the row.

ix_accounts_due_date led every hand-off query through each account due before its cutoff,
those handed off days ago included, and each shard through the other shards' accounts too.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 21:30:00
"""

from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts') as batch:
        batch.create_index('ix_accounts_status_due_date', ['status', 'due_date', 'id'], unique=False)
        batch.drop_index('ix_accounts_due_date')


def downgrade() -> None:
    with op.batch_alter_table('accounts') as batch:
        batch.create_index('ix_accounts_due_date', ['due_date'], unique=False)
        batch.drop_index('ix_accounts_status_due_date')
