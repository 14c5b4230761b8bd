"""users' explicit opt-in to contribute uploads to shared libraries

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("contribute", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("contribute_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("contribute_since")
        batch.drop_column("contribute")
