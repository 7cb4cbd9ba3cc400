"""call events table; turns get slots, recording offsets, interruption; JSON timings; unique (call_id, seq)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

Turns that were stored with speaker "event" become call_events rows.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD_EVENT_KINDS = {"barge-in": "barge_in", "no input": "no_input", "caller hung up": "caller_hangup",
                   "transfer accepted": "transfer_accepted", "transfer refused": "transfer_refused"}


def upgrade() -> None:
    op.create_table(
        'call_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('state', sa.String(length=64), nullable=True),
        sa.Column('at_ms', sa.Float(), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=True),
        sa.Column('at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('call_id', 'seq', name='uq_call_events_call_seq'),
    )
    op.create_index('ix_call_events_call_id', 'call_events', ['call_id'], unique=False)

    conn = op.get_bind()
    events = sa.table('call_events', sa.column('call_id'), sa.column('seq'), sa.column('kind'),
                      sa.column('state'), sa.column('detail', sa.JSON))
    old = conn.execute(sa.text("SELECT id, call_id, seq, state, text FROM turns WHERE speaker = 'event'")).all()
    rows = []
    for _id, call_id, seq, state, text in old:
        kind = next((k for prefix, k in OLD_EVENT_KINDS.items() if text.startswith(prefix)), "no_match")
        rows.append({"call_id": call_id, "seq": seq, "kind": kind, "state": state, "detail": {"text": text}})
    if rows:
        op.bulk_insert(events, rows)
        conn.execute(sa.text("DELETE FROM turns WHERE speaker = 'event'"))

    with op.batch_alter_table('turns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slots', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('start_ms', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('end_ms', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('interrupted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.alter_column('timings', type_=sa.JSON(), existing_type=sa.Text(),
                              postgresql_using='timings::json')
        batch_op.create_unique_constraint('uq_turns_call_seq', ['call_id', 'seq'])


def downgrade() -> None:
    with op.batch_alter_table('turns', schema=None) as batch_op:
        batch_op.drop_constraint('uq_turns_call_seq', type_='unique')
        batch_op.alter_column('timings', type_=sa.Text(), existing_type=sa.JSON())
        batch_op.drop_column('interrupted')
        batch_op.drop_column('end_ms')
        batch_op.drop_column('start_ms')
        batch_op.drop_column('slots')
    op.drop_index('ix_call_events_call_id', table_name='call_events')
    op.drop_table('call_events')
