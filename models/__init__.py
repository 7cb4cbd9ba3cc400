"""Storage: SQLAlchemy 2 models and sessions. SQLite by default, PostgreSQL in production."""
from .db import Base, make_engine, session_factory

__all__ = ["Base", "make_engine", "session_factory"]
