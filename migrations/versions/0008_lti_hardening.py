"""LTI hardening (issue 9): exactly one active and one next tool key; platforms get a uid that
widget and picker tokens name them by (ids are reused on SQLite, uids never); used deep linking
picker tokens (each form may be submitted once).

Databases that raced before this revision may hold several active and next keys. The newest
active key (the one that signed) stays active and the lowest next key (the one a rotation would
have promoted) stays next; the others are retired now, so they stay published for the grace
period and then drop out of the key set.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

tool_key = sa.table(
    'tool_key',
    sa.column('id', sa.Integer()),
    sa.column('status', sa.String()),
    sa.column('retired_at', sa.DateTime(timezone=True)),
)


def _retire_all_but(status: str, keep: sa.ColumnElement) -> None:
    keep_id = sa.select(keep).where(tool_key.c.status == status).scalar_subquery()
    op.execute(
        tool_key.update()
        .where(tool_key.c.status == status, tool_key.c.id != keep_id)
        .values(status='retired', retired_at=datetime.now(UTC))
    )


platform = sa.table('platform', sa.column('id', sa.Integer()), sa.column('uid', sa.String()))


def _add_platform_uid() -> None:
    with op.batch_alter_table('platform', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uid', sa.String(length=32), nullable=True))
    connection = op.get_bind()
    for (platform_id,) in connection.execute(sa.select(platform.c.id)).all():
        connection.execute(platform.update().where(platform.c.id == platform_id).values(uid=secrets.token_hex(16)))
    with op.batch_alter_table('platform', schema=None) as batch_op:
        batch_op.alter_column('uid', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_platform_uid'), ['uid'])


def upgrade() -> None:
    op.create_table('used_form_token',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_used_form_token'))
    )
    with op.batch_alter_table('used_form_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_form_token_expires_at'), ['expires_at'], unique=False)
    _add_platform_uid()
    _retire_all_but('active', sa.func.max(tool_key.c.id))
    _retire_all_but('next', sa.func.min(tool_key.c.id))
    with op.batch_alter_table('tool_key', schema=None) as batch_op:
        batch_op.create_index('uq_tool_key_one_active', ['status'], unique=True, postgresql_where=sa.text("status = 'active'"), sqlite_where=sa.text("status = 'active'"))
        batch_op.create_index('uq_tool_key_one_next', ['status'], unique=True, postgresql_where=sa.text("status = 'next'"), sqlite_where=sa.text("status = 'next'"))


def downgrade() -> None:
    with op.batch_alter_table('tool_key', schema=None) as batch_op:
        batch_op.drop_index('uq_tool_key_one_next', postgresql_where=sa.text("status = 'next'"), sqlite_where=sa.text("status = 'next'"))
        batch_op.drop_index('uq_tool_key_one_active', postgresql_where=sa.text("status = 'active'"), sqlite_where=sa.text("status = 'active'"))
    with op.batch_alter_table('platform', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_platform_uid'), type_='unique')
        batch_op.drop_column('uid')
    with op.batch_alter_table('used_form_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_form_token_expires_at'))
    op.drop_table('used_form_token')
