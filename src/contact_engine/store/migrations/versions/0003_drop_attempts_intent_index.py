"""drop ix_attempts_intent_id: an attempt's id is its intent's id, the index only cost writes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:30:00
"""

from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attempts') as batch:
        batch.drop_index('ix_attempts_intent_id')


def downgrade() -> None:
    with op.batch_alter_table('attempts') as batch:
        batch.create_index('ix_attempts_intent_id', ['intent_id'], unique=False)
