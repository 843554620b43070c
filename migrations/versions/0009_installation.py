"""Installation (issue 10): launch failures kept for the operator console (bounded by
WOM_LAUNCH_FAILURES_KEPT), one-time registration tokens for LTI Dynamic Registration, and per
platform: enabled, auto-accept of new deployment ids, and how it was registered.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('launch_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('endpoint', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('hint', sa.Text(), nullable=False),
    sa.Column('issuer', sa.String(length=2048), nullable=True),
    sa.Column('client_id', sa.String(length=255), nullable=True),
    sa.Column('deployment_id', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_launch_failure'))
    )
    with op.batch_alter_table('launch_failure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_launch_failure_occurred_at'), ['occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_launch_failure_request_id'), ['request_id'], unique=False)

    op.create_table('registration_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=255), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['platform_id'], ['platform.id'], name=op.f('fk_registration_token_platform_id_platform'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_token')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_registration_token_token_sha256'))
    )
    with op.batch_alter_table('registration_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registration_token_platform_id'), ['platform_id'], unique=False)

    with op.batch_alter_table('platform', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False))
        batch_op.add_column(sa.Column('auto_accept_deployments', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('registered_via', sa.String(length=16), server_default='manual', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('platform', schema=None) as batch_op:
        batch_op.drop_column('registered_via')
        batch_op.drop_column('auto_accept_deployments')
        batch_op.drop_column('enabled')

    with op.batch_alter_table('registration_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registration_token_platform_id'))

    op.drop_table('registration_token')
    with op.batch_alter_table('launch_failure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_launch_failure_request_id'))
        batch_op.drop_index(batch_op.f('ix_launch_failure_occurred_at'))

    op.drop_table('launch_failure')
