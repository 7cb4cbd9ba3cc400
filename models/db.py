"""Engine and session factory for IVR_DATABASE_URL (default: SQLite file under IVR_DATA_DIR)."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, sessionmaker


READ_ONLY = "ivr_read_only"   # execution option: a reader's transaction takes no write lock (SQLite)


def utcnow() -> datetime:
    """Now as every table stores time: naive UTC."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base of every stored table."""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):  # WAL: calls write while the console reads
            conn.isolation_level = None        # let SQLAlchemy, not pysqlite, begin transactions
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn):  # take the write lock up front: read-check-write (transfers) is atomic
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    # a connection attempt that gets no answer (a server stopping or starting) fails after 5 s instead of waiting
    # for ever: the caller is told the service is unavailable and the call's records go to the spool
    postgres = url.startswith("postgresql")
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5} if postgres else {})


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: Engine) -> sessionmaker:
    """Sessions that only read: on SQLite they neither wait for nor hold up the live calls' writes (WAL)."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
