"""drop ix_intents_account_id: nothing looks intents up by account, the index only cost writes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 17:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('intents') as batch:
        batch.drop_index('ix_intents_account_id')


def downgrade() -> None:
    with op.batch_alter_table('intents') as batch:
        batch.create_index('ix_intents_account_id', ['account_id'], unique=False)
