"""Mandarin slot tables: amounts, digits, accounts, yes/no and card choice read with config/words/zh.yaml through
the same parsers as English (ivr/slots.py)."""
from decimal import Decimal

import pytest

from ivr.slots import (
    answer,
    clear_yes,
    parse_accounts,
    parse_digits,
    parse_transfer_accounts,
    pick_card,
    read_amount,
    strip_fillers,
)
from ivr.words import join, load_words, tokens

ZH = load_words("zh")


@pytest.mark.parametrize("text, value", [
    ("一百二十块五", "120.50"), ("两千元", "2000.00"), ("¥300", "300.00"), ("￥300", "300.00"),
    ("两千四百五十元七角五分", "2450.75"), ("三块五毛六", "3.56"), ("五毛", "0.50"), ("一万五", "15000.00"),
    ("一万二千", "12000.00"), ("一百零五块", "105.00"), ("五十块钱", "50.00"), ("十五块", "15.00"),
    ("120.5元", "120.50"), ("3千块", "3000.00"), ("一百五", "150.00"), ("两百五十元", "250.00"),
    ("转五百，不对，三百", "300.00"), ("五百块，我是说五十块", "50.00"), ("转给储蓄两百块", "200.00"),
    ("一点五元", "1.50"), ("零点五元", "0.50"), ("五毛五", "0.55"), ("1,000元", "1000.00"), ("转1,000块", "1000.00"),
    ("一百块钱五毛", "100.50"), ("２００元", "200.00"),
])
def test_amounts(text, value):
    assert read_amount(text, ZH).value == Decimal(value)


@pytest.mark.parametrize("text, status", [("全部", "everything"), ("所有的钱都转过去", "everything"),
                                          ("负五十", "negative"), ("我不知道", None), ("二四", "ambiguous"),
                                          ("转一下", None), ("转一半", None), ("转一些", None), ("一点点", None)])
def test_amount_statuses(text, status):
    assert read_amount(text, ZH).status == status


@pytest.mark.parametrize("text, digits", [
    ("二四六八", "2468"), ("幺三五七", "1357"), ("三个八", "888"), ("8080", "8080"), ("八零八零", "8080"),
    ("零八一五", "0815"), ("两个二四", "224"), ("我的密码是一三五七", "1357"), ("2 4 6 8", "2468"),
    ("两千四百六十八", "2468"), ("一百二十三", "123"), ("十五", "15"), ("２４６８", "2468"),   # a PIN said as a number
])
def test_digits(text, digits):
    assert parse_digits(text, ZH) == digits


@pytest.mark.parametrize("text, accounts, transfer", [
    ("从储蓄转到活期", ["savings", "checking"], ("savings", "checking")),
    ("转到储蓄账户", ["savings"], ("checking", "savings")),
    ("把钱转进活期", ["checking"], ("savings", "checking")),
    ("支票账户的余额", ["checking"], ("checking", "savings")),
    ("从活期转一千块到我自己的储蓄账户", ["checking", "savings"], ("checking", "savings")),   # 自己 is not 自 (from)
    ("转五百到我自己的活期", ["checking"], ("savings", "checking")),
])
def test_accounts(text, accounts, transfer):
    assert parse_accounts(text, ZH) == accounts
    assert parse_transfer_accounts(text, ZH) == transfer


@pytest.mark.parametrize("text, said, acts", [
    ("是的", "yes", True), ("对", "yes", True), ("好的，谢谢", "yes", True), ("嗯，是的", "yes", True),
    ("没问题", "yes", True), ("确认", "yes", True), ("不是", "no", False), ("不对", "no", False),
    ("不用了", "no", False), ("不要转", "no", False), ("算了", "no", False), ("不好", "no", False),
    ("我不确定", "unsure", False), ("可能吧", "unsure", False), ("让我想想", "unsure", False),
    ("是，不过改成三百", None, False),   # a yes and a 不 together: asked again
    ("对，转吧", "yes", False),   # 吧 may ask back ("是吧": right?): asked again, never acted on
    ("对不起，什么", None, False),   # 对不起 (sorry) holds a 不: not a yes
    ("对吧？", "yes", False), ("是吧", "yes", False), ("可以吗?", "yes", False), ("对——", "yes", False),  # asked back
    ("是的，另外", "yes", False),          # words after the yes that may hide a change of mind: asked again
])
def test_yes_no(text, said, acts):
    assert answer(text, ZH) == said
    assert clear_yes(text, ZH) is acts


@pytest.mark.parametrize("text, key", [("信用卡", "2"), ("借记卡", "1"), ("储蓄卡丢了", "1"), ("第二张", "2"),
                                       ("最后一张", "2"), ("不是借记卡", "2"), ("尾号三三三三", "2"), ("二", "2"),
                                       ("信用卡，第一张", None)])
def test_card_choice(text, key):
    assert pick_card(text, [("debit", "2222"), ("credit", "3333")], ZH) == key


def test_chinese_is_read_a_character_at_a_time_and_joined_without_spaces():
    assert tokens("从储蓄转500元") == ["从", "储", "蓄", "转", "500", "元"]
    assert join(tokens("转 人工 agent please")) == "转人工 agent please"
    assert strip_fillers("嗯，请转人工吧", ZH) == "转人工"
