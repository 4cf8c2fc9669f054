"""A simulated run split into shard processes gives the figures of the one-process run."""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from contact_engine.demo.run import demo_settings, run_demo
from contact_engine.engine import shard_of
from contact_engine.shards import run_shards
from contact_engine.store.db import upgrade


def test_every_account_has_exactly_one_shard_and_shards_are_even() -> None:
    ids = [f"CN{n:07d}" for n in range(20_000)]
    sizes = Counter(shard_of(i, 3) for i in ids)
    assert set(sizes) == {0, 1, 2}
    assert all(abs(n - 20_000 / 3) < 400 for n in sizes.values()), sizes
    assert [shard_of(i, 3) for i in ids[:50]] == [shard_of(i, 3) for i in ids[:50]]  # stable
    assert {shard_of(i, 1) for i in ids} == {0}


async def test_two_shard_processes_match_one_process(tmp_path: Path) -> None:
    one = await run_demo(accounts=300, days=5, seed=5, data_dir=tmp_path / "one", audio=False, workers=1)
    two = await run_demo(accounts=300, days=5, seed=5, data_dir=tmp_path / "two", audio=False, workers=2)
    assert two["timing"]["workers"] == 2 and one["timing"]["workers"] == 1
    assert sum(one["attempts"].values()) > 100 and sum(one["denied"].values()) > 0
    for key in ("attempts", "denied", "outcomes", "collected_amount", "handoffs", "intents", "recordings"):
        assert two[key] == one[key], key
    assert two["series"]["attempts_by_day"] == one["series"]["attempts_by_day"]
    assert two["series"]["collected_by_day"] == one["series"]["collected_by_day"]
    assert one["violations"] == 0 and two["violations"] == 0
    # the shards imported the portfolio themselves: every account, party and contact point;
    # the second shard's rows came back from its own SQLite file (store.split), which is gone
    tables = ("accounts", "parties", "contact_points", "intents", "decisions", "attempts", "attempt_outcomes",
              "events", "payments")
    counts = []
    for run in (one, two):
        with sqlite3.connect(Path(run["data_dir"]) / "contact-engine.sqlite3") as db:
            counts.append([db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
                           for t in tables])
    assert counts[0] == counts[1] and counts[0][0] == 300
    assert dict(zip(tables, counts[1], strict=True))["attempts"] == sum(two["attempts"].values())
    assert not [name for name in os.listdir(two["data_dir"]) if ".shard" in name]
    assert two["timing"]["merge_s"] > 0 and one["timing"]["merge_s"] == 0


async def test_a_failing_shard_stops_the_run_with_its_traceback(tmp_path: Path, redis_url: str) -> None:
    settings = demo_settings(tmp_path / "data")
    await upgrade(settings.effective_database_url)  # as the parent engine has done
    with pytest.raises(RuntimeError, match=r"shard \d failed:(.|\n)*no-such-campaign"):
        await run_shards(settings, redis_url=redis_url, shards=2, campaign_id="no-such-campaign",
                         start=date(2026, 3, 2), days=1, clock_start=datetime(2026, 3, 2, tzinfo=UTC),
                         seed=1, audio=False, cache_size=100)
