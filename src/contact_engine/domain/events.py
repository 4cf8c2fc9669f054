"""Frozen past-tense events: the audit trail. Each is stored append-only."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every audit event; ``kind`` is the class name in snake case."""

    at: datetime
    actor: str = "engine"
    account_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        name = type(self).__name__
        return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["kind"] = self.kind
        return out


@dataclass(frozen=True, slots=True)
class PortfolioImported(Event):
    pass


@dataclass(frozen=True, slots=True)
class AttemptDecided(Event):
    pass


@dataclass(frozen=True, slots=True)
class AttemptPlaced(Event):
    pass


@dataclass(frozen=True, slots=True)
class OutcomeRecorded(Event):
    pass


@dataclass(frozen=True, slots=True)
class HoldPlaced(Event):
    pass


@dataclass(frozen=True, slots=True)
class OptOutRecorded(Event):
    pass


@dataclass(frozen=True, slots=True)
class CampaignEdited(Event):
    pass


@dataclass(frozen=True, slots=True)
class RecordingStored(Event):
    pass


@dataclass(frozen=True, slots=True)
class RecordingFlagged(Event):
    pass
