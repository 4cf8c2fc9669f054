"""The seeded outcome model of the simulated provider.

Every draw depends only on the seed and the attempt id (``random.Random`` seeded with a
hash of both), so a run is reproducible whatever the order in which workers handle
intents, and a retried send gets the same outcome.

Voice: the chance that a person answers depends on the local hour and on how far past due
the account is; unanswered calls end busy, unanswered, on a machine or failed. An answered
call to the debtor may end in a promise to pay, a payment, a dispute, a cease request, a
wrong number or an opt-out; an answered third party may refuse to pass a message on.
SMS and email are delivered or not; a text sometimes draws a STOP reply.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from decimal import Decimal

from contact_engine.domain import Channel, Outcome

#: Answer rate by local hour (people answer more at lunch and in the early evening).
_HOUR_ANSWER = {8: 0.30, 9: 0.40, 10: 0.45, 11: 0.45, 12: 0.50, 13: 0.40, 14: 0.40, 15: 0.40,
                16: 0.40, 17: 0.45, 18: 0.55, 19: 0.55, 20: 0.45, 21: 0.30}

#: What an answered debtor says, with weights.
_DEBTOR_TALK: tuple[tuple[Outcome, float], ...] = (
    (Outcome.CONVERSATION, 0.48), (Outcome.PROMISE_TO_PAY, 0.28), (Outcome.PAID, 0.10),
    (Outcome.DISPUTE, 0.04), (Outcome.CEASE, 0.02), (Outcome.WRONG_NUMBER, 0.05),
    (Outcome.OPT_OUT, 0.03),
)
_THIRD_PARTY_TALK: tuple[tuple[Outcome, float], ...] = (
    (Outcome.CONVERSATION, 0.60), (Outcome.THIRD_PARTY_REFUSED, 0.25),
    (Outcome.THIRD_PARTY_UNKNOWN, 0.10), (Outcome.WRONG_NUMBER, 0.05),
)
_UNANSWERED: tuple[tuple[Outcome, float], ...] = (
    (Outcome.NO_ANSWER, 0.70), (Outcome.BUSY, 0.14), (Outcome.VOICEMAIL, 0.13), (Outcome.FAILED, 0.03),
)
TALKED = frozenset({Outcome.CONVERSATION, Outcome.PROMISE_TO_PAY, Outcome.PAID, Outcome.DISPUTE,
                    Outcome.CEASE, Outcome.WRONG_NUMBER, Outcome.OPT_OUT, Outcome.THIRD_PARTY_REFUSED,
                    Outcome.THIRD_PARTY_UNKNOWN})


def _pick(rng: random.Random, table: tuple[tuple[Outcome, float], ...]) -> Outcome:
    x = rng.random() * sum(w for _, w in table)
    for outcome, weight in table:
        x -= weight
        if x <= 0:
            return outcome
    return table[-1][0]


@dataclass(frozen=True, slots=True)
class SimulatedCall:
    """What the model decided for one contact."""

    outcome: Outcome
    ring_s: float
    talk_s: float = 0.0
    payment: Decimal | None = None  # paid during the call
    promise_days: int | None = None  # a promise: pays after this many days (None: broken)
    promise_amount: Decimal | None = None
    rule_break: bool = False  # the collector line breaks a QA rule (for QA to catch)
    extra: dict[str, str] = field(default_factory=dict)


class OutcomeModel:
    """Seeded draws per attempt."""

    def __init__(self, seed: int = 7, *, rule_break_rate: float = 0.05) -> None:
        self.seed = seed
        self.rule_break_rate = rule_break_rate

    def rng(self, attempt_id: str) -> random.Random:
        digest = hashlib.blake2b(f"{self.seed}|{attempt_id}".encode(), digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "big"))

    def draw(self, attempt_id: str, channel: Channel, *, local_hour: int, dpd: int,
             third_party: bool, balance: Decimal) -> SimulatedCall:
        rng = self.rng(attempt_id)
        if channel is Channel.SMS:
            if rng.random() < 0.04:
                return SimulatedCall(Outcome.UNDELIVERED, ring_s=2.0)
            return SimulatedCall(Outcome.OPT_OUT if rng.random() < 0.01 else Outcome.DELIVERED, ring_s=3.0)
        if channel is Channel.EMAIL:
            return SimulatedCall(Outcome.UNDELIVERED if rng.random() < 0.03 else Outcome.DELIVERED, ring_s=5.0)
        answer = _HOUR_ANSWER.get(local_hour, 0.2)
        answer *= 1.0 if dpd <= 0 else 0.9 if dpd <= 30 else 0.7 if dpd <= 60 else 0.5
        ring = round(rng.uniform(8, 30), 1)
        if rng.random() >= answer:
            return SimulatedCall(_pick(rng, _UNANSWERED), ring_s=ring)
        outcome = _pick(rng, _THIRD_PARTY_TALK if third_party else _DEBTOR_TALK)
        talk = round(rng.uniform(25, 150), 1)
        rule_break = rng.random() < self.rule_break_rate
        if outcome is Outcome.PAID:
            return SimulatedCall(outcome, ring, talk, payment=balance, rule_break=rule_break)
        if outcome is Outcome.PROMISE_TO_PAY:
            kept = rng.random() < 0.65
            share = Decimal(rng.choice(("1", "1", "0.5", "0.3")))
            return SimulatedCall(outcome, ring, talk, promise_days=rng.randint(1, 6) if kept else None,
                                 promise_amount=(balance * share).quantize(Decimal("0.01")),
                                 rule_break=rule_break)
        return SimulatedCall(outcome, ring, talk, rule_break=rule_break)
