"""``contact-engine gate check`` as a program: the contract's shape and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from helpers import BASE, doc


def check(payload: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "contact_engine.cli", "gate", "check"],
                          input=payload, capture_output=True, text=True, timeout=60)


def test_contract_example_shape() -> None:
    out = check(json.dumps(doc(now="2026-03-09T13:30:00Z")))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["allowed"] is False
    assert result["denied_by"][0]["rule"] == "CN-HOURS"
    assert result["denied_by"][0]["reason"].startswith("21:30 local (Asia/Shanghai)")
    assert result["next_allowed_at"] == "2026-03-10T00:00:00Z"
    assert result["policy_versions"] == {"cn-agency-code": "2026.1"}


def broken(**changes: Any) -> dict[str, Any]:
    d = doc()
    for path, value in changes.items():
        target: Any = d
        parts = path.split("__")
        for p in parts[:-1]:
            target = target[int(p)] if isinstance(target, list) else target[p]
        if value is ...:
            del target[parts[-1]]
        else:
            target[parts[-1]] = value
    return d


@pytest.mark.parametrize(("payload", "line"), [
    ("{not json", "error: input: not JSON"),
    (json.dumps(broken(attempt__channel="fax")),
     "error: attempt.channel: 'fax' is not one of voice, sms, email, visit"),
    (json.dumps(broken(now="yesterday")), "error: now: 'yesterday' is not an ISO 8601 time"),
    (json.dumps(broken(now="2026-03-09T10:00:00")), "error: now: needs an offset or Z"),
    (json.dumps(broken(policies=[])), "error: policies: must be a non-empty list of pack names"),
    (json.dumps(broken(policies=["xx"])), "error: policies: unknown policy pack 'xx'"),
    (json.dumps(broken(account__due_date="2026-02-30")), "error: account.due_date: is not a date"),
    (json.dumps(broken(account__holds=["angry"])), "error: account.holds[0]: 'angry' is not one of"),
    (json.dumps(broken(parties__0__role="boss")), "error: parties[0].role: 'boss' is not one of"),
    (json.dumps(broken(attempt__party_id="P9")), "error: attempt.party_id: 'P9' is not in parties"),
    (json.dumps(broken(attempt__contact_point=...)), "error: attempt.contact_point: is required"),
    (json.dumps({**BASE, "history": [{"at": "2026-03-08T02:00:00Z", "channel": "voice",
                                      "party_id": "P1", "contact_point": "+8613800138000",
                                      "outcome": "hung_up"}]}),
     "error: history[0].outcome: 'hung_up' is not one of"),
])
def test_malformed_input_exits_2_with_one_line(payload: str, line: str) -> None:
    out = check(payload)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), out.stderr
