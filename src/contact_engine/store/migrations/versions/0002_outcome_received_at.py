"""attempt_outcomes.received_at: when the engine learned an outcome

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attempt_outcomes') as batch:
        batch.add_column(sa.Column('received_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('attempt_outcomes') as batch:
        batch.drop_column('received_at')
