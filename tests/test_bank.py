"""The demo bank on a real SQLite database: migrations, idempotent seed, hashed PINs, atomic transfers."""
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, inspect, select

from ivr.bank import SqlBank
from models import Account, Customer, Transaction, make_engine, session_factory
from models.demo import seed_demo
from models.migrate import upgrade
from models.pins import check_pin, hash_pin

from .conftest import run_ivr


@pytest.fixture
def bank(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/bank.sqlite3")
    upgrade(engine)
    sessions = session_factory(engine)
    seed_demo(sessions())
    return SqlBank(sessions)


def test_pins_are_salted_scrypt_hashes():
    a, b = hash_pin("2468"), hash_pin("2468")
    assert a != b and a.startswith("scrypt$")            # salted ("2468" may occur in the hex by chance)
    assert len(a.split("$")[-1]) == 64 and len(a.split("$")[-2]) == 32      # 32-byte scrypt key, 16-byte salt
    assert check_pin("2468", a) and not check_pin("2469", a) and not check_pin("2468", "garbage")


def test_db_init_is_idempotent_and_upgrades(tmp_path):
    env = {"IVR_DATA_DIR": str(tmp_path)}
    first = run_ivr("db", "init", "--demo", env=env)
    second = run_ivr("db", "init", "--demo", env=env)
    assert first.returncode == second.returncode == 0
    assert "11 customers added" in first.stdout and "0 customers added" in second.stdout
    engine = make_engine(f"sqlite:///{tmp_path}/ivr.sqlite3")
    assert {"customers", "accounts", "cards", "transactions", "calls", "turns", "alembic_version"} <= set(
        inspect(engine).get_table_names())
    with session_factory(engine)() as s:
        assert s.scalar(select(func.count(Customer.id))) == 11
        assert s.scalar(select(func.count(Transaction.id))) >= 15
        per_account = s.execute(select(Transaction.account_id, func.count()).group_by(Transaction.account_id)).all()
        assert len(per_account) == 16 and all(n >= 5 for _, n in per_account)


def test_db_init_bad_url_is_one_line():
    r = run_ivr("db", "init", env={"IVR_DATABASE_URL": "nosuchdb://x"})
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_identity(bank):
    alex = bank.customer_by_ani("+1 555-0100")
    assert alex.name == "Alex Morgan"
    assert bank.customer_by_account("50015555").name == "Priya Shah"
    assert bank.customer_by_ani("+19995550000") is None and bank.customer_by_ani("") is None


def test_pin_lockout_after_three(bank):
    alex = bank.customer_by_ani("+15550100")
    assert [bank.verify_pin(alex.id, p) for p in ("0000", "1111")] == ["wrong", "wrong"]
    assert bank.verify_pin(alex.id, "2468") == "ok"                 # a success resets the counter
    assert [bank.verify_pin(alex.id, p) for p in ("0000", "1111", "2222", "2468")] == ["wrong", "wrong", "locked",
                                                                                      "locked"]


def test_transfer_rules(bank):
    alex = bank.customer_by_ani("+15550100")
    assert bank.transfer(alex.id, "checking", "savings", "3000.00").status == "insufficient"
    assert bank.transfer(alex.id, "checking", "checking", "1.00").status == "invalid"
    assert bank.transfer(alex.id, "checking", "savings", "-5").status == "invalid"
    assert bank.transfer(alex.id, "checking", "savings", "1.001").status == "invalid"
    assert bank.transfer(alex.id, "checking", "savings", "abc").status == "invalid"
    ok = bank.transfer(alex.id, "checking", "savings", "2450.75")
    assert ok.status == "ok" and len(ok.reference) == 6
    assert {a.kind: a.balance for a in bank.accounts(alex.id)} == {"checking": Decimal("0.00"),
                                                                 "savings": Decimal("12650.75")}
    priya = bank.customer_by_ani("+15550101")
    assert bank.transfer(priya.id, "checking", "savings", "1.00").status == "invalid"   # no savings account


def test_concurrent_transfers_never_overdraw(bank):
    """Two callers' sessions race to move $2,000 out of $2,450.75: exactly one may succeed."""
    alex = bank.customer_by_ani("+15550100")
    results = []
    barrier = threading.Barrier(4)

    def move():
        barrier.wait()
        results.append(bank.transfer(alex.id, "checking", "savings", "2000.00").status)

    threads = [threading.Thread(target=move) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["insufficient", "insufficient", "insufficient", "ok"]
    balances = {a.kind: a.balance for a in bank.accounts(alex.id)}
    assert balances == {"checking": Decimal("450.75"), "savings": Decimal("12200.00")}


def test_block_card_only_own(bank):
    alex, priya = bank.customer_by_ani("+15550100"), bank.customer_by_ani("+15550101")
    priya_card = bank.cards(priya.id)[0]
    with pytest.raises(ValueError):
        bank.block_card(alex.id, priya_card.id)
    ref = bank.block_card(priya.id, priya_card.id)
    assert bank.block_card(priya.id, priya_card.id) == ref           # blocking twice keeps the first reference
    assert bank.cards(priya.id)[0].status == "blocked"


def test_account_data_needs_authentication(bank):
    from ivr.actions import read_balance
    from ivr.session import CallContext

    ctx = CallContext(bank, "+15550100")
    ctx.set_customer(bank.customer_by_ani("+15550100"))
    with pytest.raises(PermissionError):
        read_balance(ctx)
