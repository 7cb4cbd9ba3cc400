"""Whole Mandarin conversations through the real dialog engine, as `ivr chat --language zh` runs them: the same
flow as English with config/{prompts,intents,words}/zh.yaml; the language chosen by the call, taken from the
customer's stored language, or asked for by the caller."""
import io
from decimal import Decimal

import pytest
from sqlalchemy import select

from ivr.chat import run_chat
from models import Account, Call, CallEvent, Card

from .conftest import demo_app, run_ivr

ALEX, PRIYA, LI, STRANGER = "+15550100", "+15550101", "+15550103", "+15559999"


@pytest.fixture
def app(tmp_path):
    return demo_app(tmp_path)


def chat(app, *lines, ani=ALEX, language="zh"):
    out, err = io.StringIO(), io.StringIO()
    outcome = run_chat(app, ani, io.StringIO("".join(f"{line}\n" for line in lines)), out, err, language)
    said = [line.removeprefix("IVR: ") for line in out.getvalue().splitlines() if line.startswith("IVR: ")]
    return said, outcome


def stored(app, model, *where):
    with app.sessions() as s:
        return s.scalars(select(model).where(*where)).all()


def test_balance_in_mandarin(app):
    said, outcome = chat(app, "二四六八", "我想查一下活期余额", "没有了")
    assert said[0].startswith("欢迎致电演示银行") and outcome == "completed"
    assert "您尾号4 3 2 1的活期账户余额为两千四百五十元七角五分。" in said
    assert not any("储蓄账户余额" in s for s in said)
    assert said[-1] == "感谢您致电演示银行，再见。"
    call = stored(app, Call)[-1]
    assert call.language == "zh" and call.outcome == "completed"


def test_transactions_in_mandarin(app):
    said, outcome = chat(app, "dtmf:2468", "最近的交易记录", "不用了")
    assert any(s.startswith("以下是您尾号4 3 2 1的活期账户最近的5笔交易") for s in said)
    assert any("Grocery Mart，支出八十四元一角二分" in s for s in said)
    assert any("Payroll deposit，存入一千八百五十元" in s for s in said)


def test_lost_card_choice_and_confirmation_in_mandarin(app):
    said, outcome = chat(app, "dtmf:1357", "我的卡丢了", "信用卡", "是的", "没有了", ani=PRIYA)
    assert any("尾号2 2 2 2的借记卡，请说借记卡或按1" in s for s in said)
    assert "请确认，您要冻结尾号3 3 3 3的信用卡，对吗？" in said
    assert any(s.startswith("您尾号3 3 3 3的信用卡已经冻结") for s in said)
    assert [c.status for c in stored(app, Card, Card.last4.in_(["2222", "3333"]))] == ["active", "blocked"]


def test_transfer_read_back_correction_then_yes(app):
    said, outcome = chat(app, "dtmf:2468", "从储蓄转一百二十块五到活期", "不对，改成五十块", "是的", "没有了")
    assert "您要从储蓄账户转一百二十元五角到活期账户，对吗？" in said
    assert "您要从储蓄账户转五十元到活期账户，对吗？" in said
    assert any(s.startswith("已完成。已从您的储蓄账户转五十元到活期账户") for s in said)
    assert stored(app, Account.balance, Account.number == "50008765") == [Decimal("10150.00")]


@pytest.mark.parametrize("no", ["不是", "不对，不要转", "算了", "取消吧"])
def test_no_money_moves_on_a_mandarin_no(app, no):
    said, outcome = chat(app, "dtmf:2468", "转两百块到储蓄", no, "没有了")
    assert "好的，这笔转账已取消，没有转出任何款项。" in said
    assert stored(app, Account.balance, Account.number == "50008765") == [Decimal("10200.00")]


@pytest.mark.parametrize("unclear", ["我不确定", "可能吧", "让我想想", "对不起"])
def test_an_unclear_answer_at_the_read_back_is_asked_again(app, unclear):
    said, outcome = chat(app, "dtmf:2468", "转两百块到储蓄", unclear, "不是", "没有了")
    k = said.index("您要从活期账户转两百元到储蓄账户，对吗？")
    assert said[k + 1:k + 3] == ["对不起，请说是或者不是。", "好的，这笔转账已取消，没有转出任何款项。"]
    assert stored(app, Account.balance, Account.number == "50008765") == [Decimal("10200.00")]


def test_hours_and_agent_in_mandarin(app):
    said, outcome = chat(app, "dtmf:2468", "你们周六几点开门", "转人工")
    assert any(s.startswith("我们的网点营业时间为周一至周五上午9点到下午5点") for s in said)
    assert said[-1] == "请稍候，正在为您转接人工客服。" and outcome == "transferred"


def test_lockout_in_mandarin(app):
    said, outcome = chat(app, "一一一一", "二二二二", "三三三三")
    assert said.count("密码不正确，请重新输入。") == 2
    assert "为了您的安全，这个账户的电话银行现已锁定。我为您转接人工客服。" in said and outcome == "transferred"


def test_the_customers_stored_language_is_used_once_identified(app):
    said, outcome = chat(app, "dtmf:3690#", "查余额", "没有了", ani=LI, language=None)
    assert said[0].startswith("Welcome to Demo Bank")            # before we know who is calling
    assert said[1] == "为了您的账户安全，请说出或按键输入您的电话银行密码。"
    assert "您尾号6 2 6 2的活期账户余额为一千八百八十八元。" in said
    call = stored(app, Call)[-1]
    assert call.language == "zh"
    event = stored(app, CallEvent, CallEvent.kind == "language_changed")[0]
    assert event.detail == {"language": "zh", "previous": "en", "reason": "customer"}


def test_an_english_caller_switches_to_mandarin_and_back(app):
    said, outcome = chat(app, "dtmf:2468", "mandarin please", "查余额", "English please", "no", language=None)
    assert said[2].startswith("How can I help you today?")
    assert said[3] == "请问有什么可以帮您？您可以说：查余额、交易记录、挂失银行卡、转账，或者营业时间。"
    assert any(s.startswith("您尾号4 3 2 1的活期账户余额为") for s in said)
    assert said[-2] == "Is there anything else I can help you with?" and outcome == "completed"
    assert [e.detail["language"] for e in stored(app, CallEvent, CallEvent.kind == "language_changed")] == ["zh", "en"]


def test_an_unknown_caller_keys_9_for_mandarin(app):
    said, outcome = chat(app, "dtmf:9", "五零零零四三二一", "dtmf:2468#", "再见", ani=STRANGER, language=None)
    assert said[1] == "普通话服务，请按九。"
    assert said[3] == "无法识别您的来电号码。请说出或按键输入您的八位账号。"
    assert "为了您的账户安全，请说出或按键输入您的电话银行密码。" in said
    assert said[-1] == "感谢您致电演示银行，再见。" and outcome == "completed"


def test_a_mandarin_call_offers_english_to_an_unknown_caller(app):
    said, outcome = chat(app, ani=STRANGER)
    assert said[1] == "For English, press nine, or say English."
    assert said[2] == "无法识别您的来电号码。请说出或按键输入您的八位账号。"


def test_chat_language_from_the_shell(tmp_path):
    env = {"IVR_DATA_DIR": str(tmp_path)}
    assert run_ivr("db", "init", "--demo", env=env).returncode == 0
    r = run_ivr("chat", "--ani", ALEX, "--language", "zh", env=env, stdin="dtmf:2468\n查余额\n没有了\n")
    assert r.returncode == 0 and "两千四百五十元七角五分" in r.stdout and r.stdout.endswith("END: completed\n")
    bad = run_ivr("chat", "--language", "fr", env=env, stdin="")
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and "unknown language 'fr'" in bad.stderr


def test_nlu_language_from_the_shell():
    r = run_ivr("nlu", "我要转两百块到储蓄", "--language", "zh", "--json")
    assert r.returncode == 0, r.stderr
    assert '"intent": "transfer_funds"' in r.stdout and '"amount": "200.00"' in r.stdout and "储" not in r.stderr


def test_a_mandarin_call_is_scored_by_the_mandarin_scorecard(tmp_path):
    env = {"IVR_DATA_DIR": str(tmp_path)}
    assert run_ivr("db", "init", "--demo", env=env).returncode == 0
    run_ivr("chat", "--ani", ALEX, "--language", "zh", env=env, stdin="dtmf:2468\n查余额\n没有了，谢谢\n")
    from models import make_engine, session_factory
    from sqlalchemy import func

    with session_factory(make_engine(f"sqlite:///{tmp_path}/ivr.sqlite3"))() as s:
        call_id = str(s.scalar(select(func.max(Call.id))))   # the demo bank's scenarios have earlier calls
    assert run_ivr("analyze", call_id, env=env).returncode == 0
    r = run_ivr("calls", "show", call_id, "--json", env=env)
    import json

    shown = json.loads(r.stdout)
    answers = {i["id"]: i["answer"] for i in shown["score"]["items"]}
    assert shown["language"] == "zh" and shown["score"]["scorecard"] == "banking_ivr_zh", shown["score"]
    assert shown["score"]["total"] == 100, shown["score"]
    assert answers["greeting"] == answers["verified_before_data"] == answers["closing"] == "yes"
    assert shown["sentiment"]["caller"]["overall"] is not None     # SnowNLP on the caller's Mandarin turns


def test_an_unsure_mandarin_reading_is_asked_about_not_acted_on(app):
    """How Whisper base hears a synthetic "我想查一下余额" on the phone line: the n-grams and pinyin still point to
    the balance, but not surely enough to act; the caller is asked, and a no acts on nothing."""
    said, outcome = chat(app, "dtmf:2468", "看看我隔离的钱", "不是", "查余额", "没有了")
    k = said.index("请问有什么可以帮您？您可以说：查余额、交易记录、挂失银行卡、转账，或者营业时间。")
    assert said[k + 1].startswith("您是说") and said[k + 1].endswith("吗？")
    assert said[k + 2].startswith("对不起") and not any("余额为" in s for s in said[k + 1:k + 3])
    assert any(s.startswith("您尾号4 3 2 1的活期账户余额为") for s in said[k + 3:])
    events = stored(app, CallEvent, CallEvent.kind == "sounds_like")
    assert [e.detail["confirmed"] for e in events] == [False]


@pytest.mark.parametrize("text", ["English please", "in english"])
def test_asking_for_the_language_in_use_changes_nothing(app, text):
    said, outcome = chat(app, "dtmf:2468", text, "goodbye", language=None)
    assert said[3] == "Sorry, what would you like to do?" and outcome == "completed"   # as if not understood
    assert not stored(app, CallEvent, CallEvent.kind == "language_changed")


@pytest.mark.parametrize("text", ["转吧", "对，没错，就这样", "可以吗", "对吧？", "普通话"])
def test_no_money_moves_and_the_call_goes_on_on_words_that_are_not_a_clear_yes(app, text):
    said, outcome = chat(app, "dtmf:2468", "转两百块到储蓄", text, "不是", "没有了")
    assert stored(app, Account.balance, Account.number == "50008765") == [Decimal("10200.00")]
    assert "好的，这笔转账已取消，没有转出任何款项。" in said and outcome == "completed"


def test_the_card_options_are_said_again_in_the_new_language(app):
    said, outcome = chat(app, "dtmf:1357", "I lost my card", "mandarin please", "信用卡", "不是", "没有了", ani=PRIYA,
                         language=None)
    assert any(s.startswith("Which card is lost or stolen? For your debit card ending 2 2 2 2") for s in said)
    assert any(s.startswith("请问哪张卡丢失或被盗？尾号2 2 2 2的借记卡，请说借记卡或按1") for s in said), said
    assert "请确认，您要冻结尾号3 3 3 3的信用卡，对吗？" in said
