"""console: users, web sessions, recording access log, QA score reviews; the reviewed score on analyses;
indexes the console's filters use

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'users',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=12), nullable=False),
        sa.Column('password_hash', sa.String(length=200), nullable=False),
        sa.Column('failed_logins', sa.Integer(), nullable=False),
        sa.Column('locked_until', sa.DateTime(), nullable=True),
        sa.Column('disabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
        sa.Column('last_login_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'), sa.UniqueConstraint('name'),
    )
    op.create_table(
        'web_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=False),
        sa.Column('csrf_token', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'), sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_web_sessions_user_id', 'web_sessions', ['user_id'])
    op.create_table(
        'recording_access',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.Integer(), sa.ForeignKey('calls.id'), nullable=False),
        sa.Column('user_name', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=12), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_recording_access_call_id', 'recording_access', ['call_id'])
    op.create_table(
        'score_reviews',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.Integer(), sa.ForeignKey('calls.id'), nullable=False),
        sa.Column('item', sa.String(length=64), nullable=False),
        sa.Column('answer', sa.String(length=4), nullable=False),
        sa.Column('previous_answer', sa.String(length=4), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('user_name', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_score_reviews_call_id', 'score_reviews', ['call_id'])
    with op.batch_alter_table('analyses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qa_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('qa_auto_failed', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('reviewed', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index('ix_analyses_qa_score', ['qa_score'], unique=False)
    op.execute("UPDATE analyses SET qa_score = score, qa_auto_failed = auto_failed")
    op.create_index('ix_call_topics_kind_text', 'call_topics', ['kind', 'text'])
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index('ix_calls_started_at', ['started_at'], unique=False)
        batch_op.create_index('ix_calls_customer_id', ['customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_customer_id')
        batch_op.drop_index('ix_calls_started_at')
    op.drop_index('ix_call_topics_kind_text', 'call_topics')
    with op.batch_alter_table('analyses', schema=None) as batch_op:
        batch_op.drop_index('ix_analyses_qa_score')
        batch_op.drop_column('reviewed')
        batch_op.drop_column('qa_auto_failed')
        batch_op.drop_column('qa_score')
    for table in ('score_reviews', 'recording_access', 'web_sessions', 'users'):
        op.drop_table(table)
