"""lti login state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lti_login_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("browser_binding", sa.String(length=64), nullable=True),
        sa.Column("target_link_uri", sa.String(length=2048), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platform.id"], name=op.f("fk_lti_login_state_platform_id_platform"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_login_state")),
        sa.UniqueConstraint("nonce", name=op.f("uq_lti_login_state_nonce")),
        sa.UniqueConstraint("state", name=op.f("uq_lti_login_state_state")),
    )
    with op.batch_alter_table("lti_login_state", schema=None) as batch_op:
        batch_op.create_index("ix_lti_login_state_expires_at", ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_lti_login_state_platform_id"), ["platform_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lti_login_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_login_state_platform_id"))
        batch_op.drop_index("ix_lti_login_state_expires_at")

    op.drop_table("lti_login_state")
