"""proactive service: card declines, transfer orders to other banks, and each customer's opt-out of offers

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('customers') as batch:
        batch.add_column(sa.Column('proactive_offers', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        'card_declines',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('card_id', sa.Integer(), sa.ForeignKey('cards.id'), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('merchant', sa.String(length=120), nullable=False),
        sa.Column('amount', sa.Numeric(14, 2), nullable=False),
        sa.Column('reason', sa.String(length=24), nullable=False),
    )
    op.create_index('ix_card_declines_card_id', 'card_declines', ['card_id'])
    op.create_index('ix_card_declines_at', 'card_declines', ['at'])
    op.create_table(
        'transfer_orders',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('account_id', sa.Integer(), sa.ForeignKey('accounts.id'), nullable=False),
        sa.Column('payee', sa.String(length=120), nullable=False),
        sa.Column('amount', sa.Numeric(14, 2), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('reason', sa.String(length=24), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expected_on', sa.Date(), nullable=True),
    )
    op.create_index('ix_transfer_orders_account_id', 'transfer_orders', ['account_id'])
    op.create_index('ix_transfer_orders_created_at', 'transfer_orders', ['created_at'])


def downgrade() -> None:
    op.drop_table('transfer_orders')
    op.drop_table('card_declines')
    with op.batch_alter_table('customers') as batch:
        batch.drop_column('proactive_offers')
