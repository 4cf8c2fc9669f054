"""Policy packs: the shipped ones load; invalid ones fail with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from contact_engine.compliance.policy import load_pack, load_packs, parse_pack
from contact_engine.errors import PolicyError

REQUIRED = {
    "cn-agency-code": {"CN-HOURS", "CN-CALLS-CONNECTED", "CN-CALLS-TOTAL", "CN-VISITS",
                       "CN-3P-STOP", "CN-3P-SENSITIVE", "CN-DISPUTE"},
    "cn-cba-2026": {"CBA-HOURS", "CBA-UNANSWERED", "CBA-3P-UNREACHABLE"},
    "cn-nifa-2024": {"NIFA-HOURS", "NIFA-CONNECTED"},
    "us-reg-f": {"REGF-HOURS", "REGF-7IN7", "REGF-POSTCONV", "REGF-3P-ONCE", "REGF-CEASE",
                 "REGF-OPTOUT", "REGF-DISPUTE", "REGF-ATTORNEY", "REGF-WORKPLACE"},
    "us-tcpa": {"TCPA-CONSENT", "TCPA-RESIDENTIAL"},
    "us-ma": {"MA-2IN7"},
}


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_shipped_pack_has_contract_rule_ids(name: str) -> None:
    pack = load_pack(name)
    assert pack.pack == name and pack.version
    assert REQUIRED[name] <= {r.id for r in pack.rules}


GOOD = """pack: t
version: "1"
title: t
jurisdiction: X
rules:
  - id: T-HOURS
    kind: window
    hours: ["08:00", "21:00"]
    reason: r
  - id: T-CAP
    kind: cap
    key: account
    window: {type: local_day}
    limit: 3
    reason: r
"""


def test_valid_pack_parses() -> None:
    assert [r.id for r in parse_pack(GOOD, "t.yaml").rules] == ["T-HOURS", "T-CAP"]


@pytest.mark.parametrize(("text", "expected"), [
    (GOOD.replace("limit: 3", "limit: -3"), "t.yaml:14: rules.1.limit: "),
    (GOOD.replace('["08:00", "21:00"]', '["21:00", "08:00"]'), "t.yaml:8: rules.0.hours: "),
    (GOOD.replace("kind: cap", "kind: capp"), "t.yaml:10: rules.1: "),
    (GOOD.replace("key: account", "key: acount"), "t.yaml:12: rules.1.key: "),
    (GOOD.replace("id: T-CAP", "id: T-HOURS"), "t.yaml:6: rules: "),
    (GOOD.replace("    reason: r\n", "    reason: [r\n", 1), "t.yaml:10: invalid YAML"),
    (GOOD.replace("    limit: 3\n", "    limit: 3\n    limitt: 4\n"), "t.yaml:15: rules.1.limitt: "),
    ("", "t.yaml:1: the pack is empty"),
])
def test_invalid_pack_names_file_and_line(text: str, expected: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_pack(text, "t.yaml")
    assert str(info.value).startswith(expected), str(info.value)


def test_unknown_pack_and_empty_policy_fail_closed(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="unknown policy pack 'nope'"):
        load_packs(["nope"])
    with pytest.raises(PolicyError, match="no policy pack"):
        load_packs([])
    (tmp_path / "x.yaml").write_text(GOOD.replace("pack: t", "pack: y"), encoding="utf-8")
    with pytest.raises(PolicyError, match="declares 'y', expected 'x'"):
        load_pack("x", tmp_path)
