"""Table tests: one or more rows per rule id of CONTRACTS.md, through ``gate check``,
with the hour, day and DST boundaries."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import BASE, US_BASE, calls, doc

from contact_engine.compliance.check import run_check

P2_CP = "+8613900139000"
US_CP = "+12125550147"

CASES: list[tuple[str, dict[str, Any], bool, set[str], str | None]] = [
    # --- CN-HOURS: 08:00-21:00 Asia/Shanghai (UTC+8); the end is exclusive.
    ("cn-hours-0759", doc(now="2026-03-08T23:59:00Z"), False, {"CN-HOURS"}, "2026-03-09T00:00:00Z"),
    ("cn-hours-0800", doc(now="2026-03-09T00:00:00Z"), True, set(), None),
    ("cn-hours-2059", doc(now="2026-03-09T12:59:00Z"), True, set(), None),
    ("cn-hours-2100", doc(now="2026-03-09T13:00:00Z"), False, {"CN-HOURS"}, "2026-03-10T00:00:00Z"),
    ("cn-hours-sms-too", doc(now="2026-03-09T14:00:00Z", attempt__channel="sms"), False,
     {"CN-HOURS"}, "2026-03-10T00:00:00Z"),
    # --- CN-CALLS-TOTAL: 10 attempts per case per day, connected or not.
    ("cn-total-9", doc(history=calls([f"2026-03-09T01:0{i}:00Z" for i in range(9)], "no_answer")),
     True, set(), None),
    ("cn-total-10", doc(history=calls([f"2026-03-09T01:{i:02d}:00Z" for i in range(10)], "no_answer")),
     False, {"CN-CALLS-TOTAL"}, "2026-03-10T00:00:00Z"),
    ("cn-total-yesterday", doc(history=calls([f"2026-03-08T01:{i:02d}:00Z" for i in range(10)],
                                             "no_answer")), True, set(), None),
    # --- CN-CALLS-CONNECTED: 5 connected calls per case per day.
    ("cn-connected-4", doc(history=calls([f"2026-03-09T01:0{i}:00Z" for i in range(4)], "connected")),
     True, set(), None),
    ("cn-connected-5", doc(history=calls([f"2026-03-09T01:0{i}:00Z" for i in range(5)], "connected")),
     False, {"CN-CALLS-CONNECTED"}, "2026-03-10T00:00:00Z"),
    # --- CN-VISITS: 2 field visits per case per day.
    ("cn-visits-2", doc(attempt__channel="visit", attempt__mode="agent", attempt__contact_point="address",
                        history=calls(["2026-03-09T01:00:00Z", "2026-03-09T01:30:00Z"], "connected",
                                      cp="address", channel="visit", mode="agent")),
     False, {"CN-VISITS"}, "2026-03-10T00:00:00Z"),
    ("cn-visits-1", doc(attempt__channel="visit", attempt__mode="agent", attempt__contact_point="address",
                        history=calls(["2026-03-09T01:00:00Z"], "connected", cp="address",
                                      channel="visit", mode="agent")), True, set(), None),
    # --- CN-3P-STOP: a third party who refused or cannot help is never contacted again.
    ("cn-3p-stop", doc(attempt__party_id="P2", attempt__contact_point=P2_CP,
                       history=calls(["2026-02-01T02:00:00Z"], "third_party_refused", party="P2",
                                     cp=P2_CP)), False, {"CN-3P-STOP"}, None),
    ("cn-3p-stop-unknown", doc(attempt__party_id="P2", attempt__contact_point=P2_CP,
                               history=calls(["2026-02-01T02:00:00Z"], "third_party_unknown",
                                             party="P2", cp=P2_CP)), False, {"CN-3P-STOP"}, None),
    ("cn-3p-stop-debtor-unaffected", doc(history=calls(["2026-02-01T02:00:00Z"], "third_party_refused",
                                                       party="P2", cp=P2_CP)), True, set(), None),
    # --- CN-3P-SENSITIVE: no automated contact with a sensitive third party.
    ("cn-3p-sensitive", doc(attempt__party_id="P2", attempt__contact_point=P2_CP,
                            parties=[{"id": "P1", "role": "debtor"},
                                     {"id": "P2", "role": "other", "sensitive": True}]),
     False, {"CN-3P-SENSITIVE"}, None),
    ("cn-3p-sensitive-agent", doc(attempt__party_id="P2", attempt__contact_point=P2_CP,
                                  attempt__mode="agent",
                                  parties=[{"id": "P1", "role": "debtor"},
                                           {"id": "P2", "role": "other", "sensitive": True}]),
     True, set(), None),
    # --- CN-DISPUTE: a dispute pauses collection (on the record, or from an outcome).
    ("cn-dispute-hold", doc(account__holds=["dispute"]), False, {"CN-DISPUTE"}, None),
    ("cn-dispute-outcome", doc(history=calls(["2026-03-01T02:00:00Z"], "dispute")), False,
     {"CN-DISPUTE"}, None),
    # --- CBA 2026.
    ("cba-hours-2130-ok", doc(policies=["cn-cba-2026"], now="2026-03-09T13:30:00Z"), True, set(), None),
    ("cba-and-cn-2130", doc(policies=["cn-cba-2026", "cn-agency-code"], now="2026-03-09T13:30:00Z"),
     False, {"CN-HOURS"}, "2026-03-10T00:00:00Z"),
    ("cba-hours-2200", doc(policies=["cn-cba-2026"], now="2026-03-09T14:00:00Z"), False,
     {"CBA-HOURS"}, "2026-03-10T00:00:00Z"),
    ("cba-unanswered-6", doc(policies=["cn-cba-2026"],
                             history=calls([f"2026-03-09T01:0{i}:00Z" for i in range(6)], "no_answer")),
     False, {"CBA-UNANSWERED"}, "2026-03-10T00:00:00Z"),
    ("cba-unanswered-5", doc(policies=["cn-cba-2026"],
                             history=calls([f"2026-03-09T01:0{i}:00Z" for i in range(5)], "no_answer")),
     True, set(), None),
    ("cba-unanswered-other-number", doc(
        policies=["cn-cba-2026"], attempt__contact_point="+8613700137000",
        history=calls([f"2026-03-09T01:0{i}:00Z" for i in range(6)], "no_answer")), True, set(), None),
    ("cba-3p-debtor-reachable", doc(policies=["cn-cba-2026"], attempt__party_id="P2",
                                    attempt__contact_point=P2_CP), False, {"CBA-3P-UNREACHABLE"}, None),
    ("cba-3p-debtor-unreachable", doc(
        policies=["cn-cba-2026"], attempt__party_id="P2", attempt__contact_point=P2_CP,
        history=calls(["2026-03-02T02:00:00Z", "2026-03-05T02:00:00Z", "2026-03-08T02:00:00Z"],
                      "no_answer")), True, set(), None),
    ("cba-3p-debtor-answered", doc(
        policies=["cn-cba-2026"], attempt__party_id="P2", attempt__contact_point=P2_CP,
        history=calls(["2026-03-02T02:00:00Z", "2026-03-05T02:00:00Z", "2026-03-08T02:00:00Z"],
                      "no_answer") + calls(["2026-03-08T03:00:00Z"], "connected")),
     False, {"CBA-3P-UNREACHABLE"}, None),
    ("cba-3p-not-designated", doc(
        policies=["cn-cba-2026"], attempt__party_id="P2", attempt__contact_point=P2_CP,
        parties=[{"id": "P1", "role": "debtor"}, {"id": "P2", "role": "family"}],
        history=calls(["2026-03-02T02:00:00Z", "2026-03-05T02:00:00Z", "2026-03-08T02:00:00Z"],
                      "no_answer")), False, {"CBA-3P-UNREACHABLE"}, None),
    # --- NIFA 2024.
    ("nifa-hours-2200", doc(policies=["cn-nifa-2024"], now="2026-03-09T14:00:00Z"), False,
     {"NIFA-HOURS"}, "2026-03-10T00:00:00Z"),
    ("nifa-connected-3", doc(policies=["cn-nifa-2024"],
                             history=calls([f"2026-03-09T01:0{i}:00Z" for i in range(3)], "conversation")),
     False, {"NIFA-CONNECTED"}, "2026-03-10T00:00:00Z"),
    ("nifa-connected-2", doc(policies=["cn-nifa-2024"],
                             history=calls([f"2026-03-09T01:0{i}:00Z" for i in range(2)], "conversation")),
     True, set(), None),
    # --- TZ-UNKNOWN: no zone, no contact.
    ("tz-unknown", doc(US_BASE, account__address={"country": "US", "region": None,
                                                  "postal_code": None, "timezone": None},
                       attempt__channel="email", attempt__contact_point="a@example.com"),
     False, {"TZ-UNKNOWN"}, None),
    # --- REGF-HOURS: every candidate zone (NY number, CA address -> 08:00 PT).
    ("regf-hours-intersection", doc(US_BASE, now="2026-03-10T13:30:00Z",
                                    account__address={"country": "US", "region": "CA",
                                                      "postal_code": "94103", "timezone": None}),
     False, {"REGF-HOURS"}, "2026-03-10T15:00:00Z"),
    ("regf-hours-intersection-ok", doc(US_BASE, now="2026-03-10T15:00:00Z",
                                       account__address={"country": "US", "region": "CA",
                                                         "postal_code": "94103", "timezone": None}),
     True, set(), None),
    # --- DST, America/New_York: spring forward 2026-03-08, fall back 2026-11-01.
    ("dst-eve-0759-est", doc(US_BASE, now="2026-03-07T12:59:00Z"), False, {"REGF-HOURS"},
     "2026-03-07T13:00:00Z"),
    ("dst-spring-0759-edt", doc(US_BASE, now="2026-03-08T11:59:00Z"), False, {"REGF-HOURS"},
     "2026-03-08T12:00:00Z"),
    ("dst-spring-0800-edt", doc(US_BASE, now="2026-03-08T12:00:00Z"), True, set(), None),
    ("dst-spring-across-night", doc(US_BASE, now="2026-03-08T02:30:00Z"), False, {"REGF-HOURS"},
     "2026-03-08T12:00:00Z"),
    ("dst-fall-0830-edt", doc(US_BASE, now="2026-10-31T12:30:00Z"), True, set(), None),
    ("dst-fall-0730-est", doc(US_BASE, now="2026-11-01T12:30:00Z"), False, {"REGF-HOURS"},
     "2026-11-01T13:00:00Z"),
    ("dst-fall-across-night", doc(US_BASE, now="2026-11-01T01:30:00Z"), False, {"REGF-HOURS"},
     "2026-11-01T13:00:00Z"),
    # --- REGF-7IN7: the 8th call in 7 consecutive days; busy / not in service excluded.
    ("regf-7in7", doc(US_BASE, history=calls([f"2026-03-{d:02d}T15:00:00Z" for d in range(4, 11)],
                                             "no_answer", cp=US_CP)),
     False, {"REGF-7IN7"}, "2026-03-11T12:00:00Z"),
    ("regf-7in7-busy-excluded", doc(US_BASE, history=calls(
        [f"2026-03-{d:02d}T15:00:00Z" for d in range(4, 11)], "busy", cp=US_CP)), True, set(), None),
    ("regf-7in7-window-rolls", doc(US_BASE, history=calls(
        [f"2026-03-{d:02d}T15:00:00Z" for d in range(3, 10)], "no_answer", cp=US_CP)), True, set(), None),
    # --- REGF-POSTCONV: a conversation on Monday blocks calls through Sunday.
    ("regf-postconv-sunday", doc(US_BASE, now="2026-03-15T18:00:00Z",
                                 history=calls(["2026-03-09T19:00:00Z"], "conversation", cp=US_CP)),
     False, {"REGF-POSTCONV"}, "2026-03-16T12:00:00Z"),
    ("regf-postconv-next-monday", doc(US_BASE, now="2026-03-16T13:00:00Z",
                                      history=calls(["2026-03-09T19:00:00Z"], "conversation", cp=US_CP)),
     True, set(), None),
    ("regf-postconv-sms-ok", doc(US_BASE, now="2026-03-12T15:00:00Z", attempt__channel="sms",
                                 history=calls(["2026-03-09T19:00:00Z"], "conversation", cp=US_CP)),
     True, set(), None),
    # --- REGF-3P-ONCE: a third party is reached once.
    ("regf-3p-once", doc(US_BASE, attempt__party_id="P3", attempt__contact_point="+12125550199",
                         history=calls(["2026-03-02T15:00:00Z"], "connected", party="P3",
                                       cp="+12125550199")), False, {"REGF-3P-ONCE"}, None),
    ("regf-3p-once-unanswered-ok", doc(US_BASE, attempt__party_id="P3",
                                       attempt__contact_point="+12125550199",
                                       history=calls(["2026-03-02T15:00:00Z"], "no_answer", party="P3",
                                                     cp="+12125550199")), True, set(), None),
    # --- REGF-CEASE / OPTOUT / DISPUTE / ATTORNEY.
    ("regf-cease", doc(US_BASE, account__holds=["cease"]), False, {"REGF-CEASE"}, None),
    ("regf-cease-outcome", doc(US_BASE, history=calls(["2026-03-02T15:00:00Z"], "cease", cp=US_CP)),
     False, {"REGF-CEASE"}, None),
    ("regf-optout-record", doc(US_BASE, parties=[{"id": "P1", "role": "debtor", "opt_outs": ["voice"]}]),
     False, {"REGF-OPTOUT"}, None),
    ("regf-optout-other-medium", doc(US_BASE, attempt__channel="email",
                                     attempt__contact_point="j@example.com",
                                     parties=[{"id": "P1", "role": "debtor", "opt_outs": ["voice"]}]),
     True, set(), None),
    ("regf-optout-outcome", doc(US_BASE, attempt__channel="sms",
                                history=calls(["2026-03-02T15:00:00Z"], "opt_out", cp=US_CP,
                                              channel="sms")), False, {"REGF-OPTOUT"}, None),
    ("regf-dispute", doc(US_BASE, account__holds=["dispute"]), False, {"REGF-DISPUTE"}, None),
    ("regf-attorney", doc(US_BASE, parties=[{"id": "P1", "role": "debtor",
                                             "represented_by_attorney": True}]),
     False, {"REGF-ATTORNEY"}, None),
    # --- TCPA and Massachusetts.
    ("tcpa-no-consent", doc(US_BASE, policies=["us-tcpa"], attempt__mode="automated"), False,
     {"TCPA-CONSENT"}, None),
    ("tcpa-consent", doc(US_BASE, policies=["us-tcpa"], attempt__mode="automated",
                         parties=[{"id": "P1", "role": "debtor", "consents": [
                             {"kind": "autodial_mobile", "given_at": "2026-01-01T00:00:00Z"}]}]),
     True, set(), None),
    ("tcpa-agent-call", doc(US_BASE, policies=["us-tcpa"]), True, set(), None),
    ("ma-2in7", doc(US_BASE, policies=["us-ma"], history=calls(
        ["2026-03-05T15:00:00Z", "2026-03-08T15:00:00Z"], "no_answer", cp=US_CP)),
     False, {"MA-2IN7"}, "2026-03-12T12:00:00Z"),
]


@pytest.mark.parametrize(("name", "document", "allowed", "rules", "next_at"), CASES,
                         ids=[c[0] for c in CASES])
async def test_rule(name: str, document: dict[str, Any], allowed: bool, rules: set[str],
                    next_at: str | None) -> None:
    out = await run_check(document)
    denied = {d["rule"] for d in out["denied_by"]}
    assert out["allowed"] is allowed, out
    assert denied == rules, out
    assert out["next_allowed_at"] == next_at, out
    assert out["policy_versions"] == {p: out["policy_versions"][p] for p in document["policies"]}


async def test_every_denying_rule_is_reported() -> None:
    document = doc(policies=["cn-agency-code", "cn-cba-2026"], now="2026-03-09T14:30:00Z",
                   account__holds=["dispute"])
    out = await run_check(document)
    assert {"CN-HOURS", "CBA-HOURS", "CN-DISPUTE", "CBA-DISPUTE"} <= {d["rule"] for d in out["denied_by"]}
    assert out["next_allowed_at"] is None  # a hold is permanent


def test_base_documents_are_valid() -> None:
    assert BASE["attempt"]["party_id"] == "P1" and US_BASE["attempt"]["party_id"] == "P1"
