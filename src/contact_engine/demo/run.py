"""``contact-engine demo``: the whole engine for a simulated month, on embedded defaults.

A fresh data folder (SQLite and the embedded Redis inside it) receives a generated
portfolio; the default campaign runs over ``days`` simulated days on the simulated
provider (calls, texts, emails, recordings with synthetic speech); the independent
auditor then re-checks every placed attempt against the packs. The result is the report
dict of CONTRACTS.md (``demo``) plus per-day series for the charts.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from contact_engine.campaigns.model import DEFAULT_CAMPAIGN, Campaign
from contact_engine.campaigns.store import CampaignStore
from contact_engine.clock import SimulatedClock
from contact_engine.config import Settings, load_settings
from contact_engine.demo.portfolio import generate
from contact_engine.engine import Engine
from contact_engine.errors import UserError
from contact_engine.shards import Portfolio, import_share, run_shards
from contact_engine.simulation import run_days
from contact_engine.store.redis import redis_url_of
from contact_engine.store.tables import recordings

#: A Monday; the US moves to daylight time during the month (2026-03-08).
DEFAULT_START = date(2026, 3, 2)

Progress = Callable[[str, int, int], None]


MARKER = ".contact-engine-demo"


def default_workers() -> int:
    """Shard processes of a demo run: one per core, at most 4."""
    return max(1, min(os.cpu_count() or 1, 4))


def demo_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings of a demo run: everything inside ``data_dir``.

    The folder is wiped first when an earlier demo made it (it holds the marker file);
    any other non-empty folder is refused, so that a mistyped path never loses data.
    """
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / MARKER).is_file():
            raise UserError(f"{data_dir}: not empty and not a demo folder; choose another --data-dir")
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text("made by contact-engine demo; wiped by the next demo run\n", encoding="utf-8")
    return load_settings(**{"data_dir": data_dir, "database_url": None, "redis_url": None,
                            "recordings_dir": data_dir / "recordings", "sqlite_on_loop": True, **overrides})


async def run_demo(*, accounts: int = 2000, days: int = 30, seed: int = 7, data_dir: Path,
                   start: date = DEFAULT_START, audio: bool = True,
                   progress: Progress | None = None, settings: Settings | None = None,
                   cache_size: int = 200_000, check: bool = True, workers: int = 1) -> dict[str, Any]:
    """Run the demo and return its report (see CONTRACTS.md).

    ``check=False`` skips the auditor (benchmarks time the campaign alone); ``violations``
    is then None. ``workers`` > 1 splits the accounts into that many shards, each run by
    its own process (see ``contact_engine.shards``).
    """
    if workers < 1:
        raise UserError(f"workers must be at least 1, not {workers}")
    t0 = time.perf_counter()
    settings = settings or demo_settings(data_dir)
    clock = SimulatedClock(datetime.combine(start, datetime.min.time(), ZoneInfo("Asia/Shanghai")))

    def tick_import(done: int, total: int) -> None:
        if progress:
            progress("import", done, total)

    async with Engine.open(settings, clock=clock, simulate=True, seed=seed, audio=audio, adapters={}) as engine:
        portfolio = Portfolio(accounts, start, seed)
        if workers == 1:  # with shards, each shard imports its own accounts
            engine.cache_accounts(cache_size)
            await import_share(engine, portfolio, lambda n: tick_import(n, accounts))
        store = CampaignStore(engine.db)
        campaign: Campaign = await store.save(DEFAULT_CAMPAIGN.read_text(encoding="utf-8"), actor="demo",
                                              at=clock.now(), source=str(DEFAULT_CAMPAIGN.name))

        def tick(n: int, _day: date) -> None:
            if progress:
                progress("days", n + 1, days)

        merge_s = 0.0
        if workers == 1:
            result = await run_days(engine, [campaign], start, days, on_day=tick)
        else:
            sharded = await run_shards(settings, redis_url=redis_url_of(engine.redis, settings), shards=workers,
                                       campaign_id=campaign.id, start=start, days=days, clock_start=clock.now(),
                                       seed=seed, audio=audio, cache_size=cache_size,
                                       on_day=lambda n: tick(n, start),
                                       portfolio=portfolio,
                                       on_imported=lambda n: tick_import(n, accounts))
            engine.stats.merge(sharded.stats)
            result = sharded.result
            merge_s = sharded.merge_s
        sim_done = time.perf_counter()
        violations = None
        if check:
            if progress:
                progress("audit", 0, 1)
            # the accounts as generated (the same seed gives the same portfolio)
            violations = await engine.run_audit({a.id: a for a in generate(accounts, start, seed)})
            if progress:
                progress("audit", 1, 1)
        audit_s = time.perf_counter() - sim_done
        async with engine.db.connect() as conn:
            stored_recordings = int(await conn.scalar(
                select(func.count()).select_from(recordings).where(recordings.c.status == "stored")) or 0)
        intents = await engine.intents.counts()
        s = engine.stats
    wall = time.perf_counter() - t0
    attempts = {ch: s.attempts.get(ch, 0) for ch in ("sms", "voice", "email")}
    total = sum(attempts.values())
    return {
        "accounts": accounts, "days": days, "seed": seed, "start": start.isoformat(),
        "attempts": attempts,
        "outcomes": dict(sorted(s.outcomes.items())),
        "denied": dict(sorted(s.denied.items(), key=lambda kv: (-kv[1], kv[0]))),
        "violations": None if violations is None else len(violations),
        "violations_detail": [{"rule": v.rule, "account": v.account_id, "at": v.at.astimezone(UTC).isoformat(),
                               "detail": v.detail} for v in (violations or [])[:20]],
        "recordings": stored_recordings,
        "recordings_failed": s.recordings_failed,
        "qa": {"transcribed": 0, "flagged": 0, "seeded_rule_breaks": s.rule_breaks_seeded},
        "collected_amount": f"{s.collected:.2f}",
        "handoffs": dict(s.handoffs),
        "intents": intents,
        "waiting_at_end": result.waiting_at_end,
        "series": {
            "days": result.series.days,
            "attempts_by_day": result.series.attempts,
            "outcomes_by_channel": {ch: dict(c) for ch, c in sorted(s.outcomes_by_channel.items())},
            "denied_by_day": result.series.denied,
            "collected_by_day": result.series.collected,
        },
        "timing": {"wall_s": round(wall, 2), "simulation_s": round(result.wall_s, 2), "audit_s": round(audit_s, 2),
                   "merge_s": round(merge_s, 2),
                   "attempts_per_s": round(total / result.wall_s, 1) if result.wall_s else 0.0,
                   "workers": workers},
        "data_dir": str(data_dir),
    }
