"""Builders of ``gate check`` documents for the compliance tests."""

from __future__ import annotations

import copy
from typing import Any

BASE: dict[str, Any] = {
    "policies": ["cn-agency-code"],
    "now": "2026-03-09T02:00:00Z",
    "attempt": {"channel": "voice", "mode": "automated", "party_id": "P1",
                "contact_point": "+8613800138000"},
    "account": {"id": "A1", "due_date": "2026-02-01", "holds": [],
                "address": {"country": "CN", "region": "Shanghai", "postal_code": "200000",
                            "timezone": None}},
    "parties": [
        {"id": "P1", "role": "debtor"},
        {"id": "P2", "role": "family", "designated_by_debtor": True},
    ],
    "history": [],
}

US_BASE: dict[str, Any] = {
    "policies": ["us-reg-f"],
    "now": "2026-03-10T15:00:00Z",
    "attempt": {"channel": "voice", "mode": "agent", "party_id": "P1",
                "contact_point": "+12125550147"},
    "account": {"id": "U1", "due_date": "2026-01-01", "holds": [],
                "address": {"country": "US", "region": "NY", "postal_code": "10001",
                            "timezone": None}},
    "parties": [{"id": "P1", "role": "debtor"}, {"id": "P3", "role": "reference"}],
    "history": [],
}


def doc(base: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(base or BASE)
    for path, value in changes.items():
        target = d
        parts = path.split("__")
        for p in parts[:-1]:
            target = target[p]
        target[parts[-1]] = value
    return d


def calls(times: list[str], outcome: str, party: str = "P1", cp: str = "+8613800138000",
          channel: str = "voice", mode: str = "automated") -> list[dict[str, Any]]:
    return [{"at": t, "channel": channel, "mode": mode, "party_id": party,
             "contact_point": cp, "outcome": outcome} for t in times]
