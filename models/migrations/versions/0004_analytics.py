"""post-call analytics: analyses (job queue with lease), transcript segments, redactions, sentiments, metric
values, score items, call topics; calls get the endpoint node that took them

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _call_fk() -> list:
    return [sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('call_id', sa.Integer(), sa.ForeignKey('calls.id'), nullable=False)]


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('node', sa.String(length=120), nullable=True))
        batch_op.create_index('ix_calls_node', ['node'], unique=False)
    op.create_table(
        'analyses', *_call_fk(),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('worker', sa.String(length=120), nullable=True),
        sa.Column('lease_until', sa.DateTime(), nullable=True),
        sa.Column('retry_at', sa.DateTime(), nullable=True),
        sa.Column('queued_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('transcribed', sa.Boolean(), nullable=False),
        sa.Column('audio_s', sa.Float(), nullable=True),
        sa.Column('transcribe_s', sa.Float(), nullable=True),
        sa.Column('redacted_recording_path', sa.String(length=400), nullable=True),
        sa.Column('scorecard', sa.String(length=64), nullable=True),
        sa.Column('score', sa.Float(), nullable=True),
        sa.Column('auto_failed', sa.Boolean(), nullable=False),
        sa.Column('complaint', sa.Boolean(), nullable=False),
        sa.Column('complaint_subject', sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint('id'), sa.UniqueConstraint('call_id'),
    )
    op.create_index('ix_analyses_status', 'analyses', ['status'])
    op.create_table(
        'transcript_segments', *_call_fk(),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('speaker', sa.String(length=8), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('start_ms', sa.Float(), nullable=False),
        sa.Column('end_ms', sa.Float(), nullable=False),
        sa.Column('words', sa.JSON(), nullable=True),
        sa.Column('intent', sa.String(length=32), nullable=True),
        sa.Column('sentiment', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('id'), sa.UniqueConstraint('call_id', 'seq', name='uq_segments_call_seq'),
    )
    op.create_table(
        'redactions', *_call_fk(),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('speaker', sa.String(length=8), nullable=False),
        sa.Column('start_ms', sa.Float(), nullable=True),
        sa.Column('end_ms', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'sentiments', *_call_fk(),
        sa.Column('speaker', sa.String(length=8), nullable=False),
        sa.Column('overall', sa.Float(), nullable=True),
        sa.Column('quarters', sa.JSON(), nullable=True),
        sa.Column('change', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('id'), sa.UniqueConstraint('call_id', 'speaker', name='uq_sentiments_call_speaker'),
    )
    op.create_table(
        'metric_values', *_call_fk(),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id'), sa.UniqueConstraint('call_id', 'name', name='uq_metric_values_call_name'),
    )
    op.create_index('ix_metric_values_name', 'metric_values', ['name'])
    op.create_table(
        'score_items', *_call_fk(),
        sa.Column('scorecard', sa.String(length=64), nullable=False),
        sa.Column('item', sa.String(length=64), nullable=False),
        sa.Column('section', sa.String(length=64), nullable=True),
        sa.Column('question', sa.Text(), nullable=False),
        sa.Column('answer', sa.String(length=4), nullable=False),
        sa.Column('earned', sa.Float(), nullable=False),
        sa.Column('possible', sa.Float(), nullable=False),
        sa.Column('auto_fail', sa.Boolean(), nullable=False),
        sa.Column('evidence', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'call_topics', *_call_fk(),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('text', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    for table in ('transcript_segments', 'redactions', 'sentiments', 'metric_values', 'score_items', 'call_topics'):
        op.create_index(f'ix_{table}_call_id', table, ['call_id'])


def downgrade() -> None:
    for table in ('call_topics', 'score_items', 'metric_values', 'sentiments', 'redactions', 'transcript_segments',
                  'analyses'):
        op.drop_table(table)
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_node')
        batch_op.drop_column('node')
