"""rating tally: per-item, per-star counts for O(1) rating summaries

Filled from the existing ratings, then kept in step by plugin/services/ratings.py.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rating_tally",
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint("count >= 0", name=op.f("ck_rating_tally_count_not_negative")),
        sa.CheckConstraint("stars BETWEEN 1 AND 5", name=op.f("ck_rating_tally_stars_1_to_5")),
        sa.ForeignKeyConstraint(
            ["platform_id", "item_id"],
            ["item.platform_id", "item.id"],
            name=op.f("fk_rating_tally_platform_id_item_id_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", "stars", name=op.f("pk_rating_tally")),
    )
    op.execute(
        "INSERT INTO rating_tally (platform_id, item_id, stars, count) "
        "SELECT platform_id, item_id, stars, COUNT(*) FROM rating GROUP BY platform_id, item_id, stars"
    )


def downgrade() -> None:
    op.drop_table("rating_tally")
