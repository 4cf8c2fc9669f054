"""The generated demo portfolio: deterministic, and a shard's share is the whole portfolio's."""

from __future__ import annotations

from collections import Counter
from datetime import date

from contact_engine.demo.portfolio import generate
from contact_engine.domain import Role
from contact_engine.engine import shard_of

START = date(2026, 3, 2)


def test_the_same_seed_gives_the_same_portfolio_and_another_seed_another() -> None:
    first = list(generate(500, START, seed=11))
    assert first == list(generate(500, START, seed=11))
    assert first != list(generate(500, START, seed=12))
    countries = Counter(a.address.country for a in first)
    roles = Counter(p.role for a in first for p in a.parties)
    assert countries["CN"] > 0 and countries["US"] > 0
    assert roles[Role.DEBTOR] == 500 and roles[Role.EMPLOYER] > 0 and (roles[Role.FAMILY] + roles[Role.DESIGNATED_CONTACT]) > 0


def test_kept_accounts_are_exactly_the_accounts_of_the_whole_portfolio() -> None:
    for us_share in (0.0, 0.3, 1.0):
        whole = list(generate(3000, START, seed=5, us_share=us_share))
        for shards in (2, 3):
            parts = [list(generate(3000, START, seed=5, us_share=us_share,
                                   keep=lambda acct, i=i, n=shards: shard_of(acct, n) == i))
                     for i in range(shards)]
            for i, part in enumerate(parts):
                assert part == [a for a in whole if shard_of(a.id, shards) == i]
            assert sum(len(p) for p in parts) == len(whole)
    assert list(generate(100, START, keep=lambda _a: False)) == []
