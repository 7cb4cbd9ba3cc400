"""Storage: SQLAlchemy 2 models and sessions. SQLite by default, PostgreSQL in production."""
from .analysis import RESULT_TABLES, Analysis, AnalysisStatus, CallTopic, MetricValue, Redaction, ScoreItem, Segment, SpeakerSentiment
from .bank import Account, Card, CardDecline, Customer, Transaction, TransferOrder
from .calls import Call, CallEvent, Channel, EventKind, Outcome, Speaker, Turn
from .console import RecordingAccess, Role, ScoreReview, User, WebSession
from .db import Base, make_engine, session_factory, utcnow

__all__ = ["RESULT_TABLES", "Analysis", "AnalysisStatus", "CallTopic", "MetricValue", "Redaction", "ScoreItem", "Segment", "SpeakerSentiment",
           "Account", "Base", "Call", "CallEvent", "Card", "CardDecline", "TransferOrder", "Channel", "EventKind", "Outcome", "Speaker", "Customer", "Transaction", "Turn", "make_engine", "session_factory", "utcnow",
           "RecordingAccess", "Role", "ScoreReview", "User", "WebSession"]
