"""Gate counters and flags: an atomic Redis ledger and its in-memory twin."""

from contact_engine.compliance.ledger.base import Group, Ledger, Op, ReserveRequest, ReserveResult
from contact_engine.compliance.ledger.memory import MemoryLedger
from contact_engine.compliance.ledger.redis import RedisLedger

__all__ = ["Group", "Ledger", "MemoryLedger", "Op", "RedisLedger", "ReserveRequest", "ReserveResult"]
