"""library samples indexed for sample identification

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "library_samples",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("library", sa.String(length=200), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("pack", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("licence", sa.String(length=200), nullable=False),
        sa.Column("shard", sa.String(length=300), nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("library", "path"),
    )
    with op.batch_alter_table("library_samples", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_library_samples_library"), ["library"], unique=False)
        batch_op.create_index(batch_op.f("ix_library_samples_content_hash"), ["content_hash"], unique=False)


def downgrade() -> None:
    op.drop_table("library_samples")
