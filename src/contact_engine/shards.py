"""One simulated run in several processes: the portfolio split into shards by account.

Everything the engine keeps per contact belongs to one account: gate counters and flags
(their keys carry the account's hash tag), intents, attempts, holds and payments. So the
accounts split into shards (crc32 of the id, see ``Engine.owns``) run as independent
engines, each in its own process on its own simulated clock, over the same database and
the same Redis server, each shard under its own key prefix (its own dispatch queue). On
SQLite, shards that import their own accounts write to database files of their own, copied
back into the main one at the end (``contact_engine.store.split``): one SQLite file takes
one writer at a time. The
demo and the benchmark use this to run on every core: one simulated clock cannot be shared
between processes cheaply, and shards need none. Production scales differently: any
number of ``contact-engine worker`` processes share one stream on the real clock.

A shard that fails stops the run: the others are stopped and the first error is raised
with the shard's traceback.

The demo's generated portfolio can be imported by the shards themselves (``ShardJob.
portfolio``): each generates the portfolio, stores its own accounts and keeps them in its
cache, so the import runs on every core and no shard reads its accounts back.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from contact_engine import runtime
from contact_engine.campaigns.store import CampaignStore
from contact_engine.clock import SimulatedClock
from contact_engine.config import Settings
from contact_engine.engine import Engine, EngineStats
from contact_engine.simulation import DaySeries, SimulationResult, run_days
from contact_engine.store.db import sqlite_path
from contact_engine.store.split import merge_back, remove, shard_path, split_off

#: accounts per write when a shard imports its share of a generated portfolio
IMPORT_CHUNK = 2000


@dataclass(frozen=True)
class Portfolio:
    """The demo's generated portfolio (``demo.portfolio.generate``): accounts, start, seed."""

    accounts: int
    start: date
    seed: int


@dataclass(frozen=True)
class ShardJob:
    """What one shard process runs."""

    settings: Settings  # the shared database, the parent's Redis URL, this shard's key prefix
    shard: tuple[int, int]
    campaign_id: str
    start: date
    days: int
    clock_start: datetime
    seed: int
    audio: bool
    cache_size: int
    portfolio: Portfolio | None = None  # import this shard's share first (else: stored already)


@dataclass
class ShardsResult:
    """The merged figures of every shard; ``merge_s``: seconds spent copying the shards'
    SQLite rows back into the main database (``store.split``), after the simulation."""

    stats: EngineStats
    result: SimulationResult
    merge_s: float = 0.0


async def import_share(engine: Engine, portfolio: Portfolio,
                       on_chunk: Callable[[int], None] | None = None) -> int:
    """Store and cache the accounts of ``portfolio`` that ``engine``'s shard owns (all of
    them without shards), ``IMPORT_CHUNK`` at a time; ``on_chunk(n)``: ``n`` stored so far."""
    from contact_engine.demo.portfolio import generate

    own = generate(portfolio.accounts, portfolio.start, portfolio.seed, keep=engine.owns)
    stored = 0
    while chunk := list(islice(own, IMPORT_CHUNK)):
        await engine.accounts.upsert_many(chunk)
        engine.prime(chunk)
        stored += len(chunk)
        if on_chunk is not None:
            on_chunk(stored)
    return stored


async def run_shard(job: ShardJob, on_day: Callable[[int], None] | None = None,
                    on_imported: Callable[[int], None] | None = None) -> tuple[EngineStats, SimulationResult]:
    """Run one shard in this process (the body of a shard process)."""
    clock = SimulatedClock(job.clock_start)
    async with Engine.open(job.settings, clock=clock, simulate=True, seed=job.seed, audio=job.audio,
                           adapters={}) as engine:
        engine.shard = job.shard
        engine.cache_accounts(job.cache_size)
        imported = await import_share(engine, job.portfolio) if job.portfolio is not None else 0
        if on_imported is not None:
            on_imported(imported)
        campaign, _yaml, _status = await CampaignStore(engine.db).get(job.campaign_id)

        def day_done(n: int, _day: date) -> None:
            if on_day is not None:
                on_day(n)

        result = await run_days(engine, [campaign], job.start, job.days, on_day=day_done)
        return engine.stats, result


def _shard_process(conn: Connection, job: ShardJob) -> None:
    try:
        stats, result = runtime.run(run_shard(job, lambda n: conn.send(("day", n)),
                                              lambda n: conn.send(("imported", n))), long_running=True)
        conn.send(("done", (stats, result)))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


async def run_shards(settings: Settings, *, redis_url: str, shards: int, campaign_id: str,
                     start: date, days: int, clock_start: datetime, seed: int, audio: bool,
                     cache_size: int, on_day: Callable[[int], None] | None = None,
                     portfolio: Portfolio | None = None,
                     on_imported: Callable[[int], None] | None = None) -> ShardsResult:
    """Run ``shards`` shard processes to the end and merge their figures.

    The database must exist at the newest schema (the parent's engine is open on it:
    shards do not race to migrate it). ``redis_url``: the Redis server every shard uses
    (the parent's embedded one, say);
    ``on_day(n)``: day ``n`` (0-based) is done in every shard.
    ``portfolio``: the shards import it first (each its own accounts); on SQLite, each
    shard but the first then writes to a copy of the database, whose rows are copied back
    when all are done (``store.split``; the result's ``merge_s``);
    ``on_imported(n)``: every shard has, ``n`` accounts in all. The result's ``wall_s``
    counts from then (the simulation alone).
    """
    if shards < 1:
        raise ValueError("shards must be at least 1")
    t0 = time.perf_counter()
    # SQLite: shards that import their own accounts write to copies of their own
    # (store.split); shard 0 keeps the main file
    main = sqlite_path(settings.effective_database_url)
    copies: dict[int, tuple[Path, dict[str, int]]] = {}
    if main is not None and portfolio is not None:
        for i in range(1, shards):
            path = shard_path(main, i)
            copies[i] = (path, await asyncio.to_thread(split_off, main, path))
    ctx = multiprocessing.get_context("spawn")  # no fork of a running event loop
    running: dict[Connection, tuple[int, Any]] = {}  # conn -> (shard, process)
    merge_s = 0.0
    try:
        for i in range(shards):
            own: dict[str, Any] = {"redis_url": redis_url, "redis_key_prefix": f"{settings.redis_key_prefix}s{i}:"}
            if i in copies:
                own["database_url"] = f"sqlite+aiosqlite:///{copies[i][0]}"
            job = ShardJob(settings=settings.model_copy(update=own),
                           shard=(i, shards), campaign_id=campaign_id, start=start, days=days,
                           clock_start=clock_start, seed=seed, audio=audio,
                           cache_size=max(1, cache_size // shards), portfolio=portfolio)
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_shard_process, args=(child, job), name=f"contact-engine-shard-{i}")
            proc.start()
            child.close()
            running[parent] = (i, proc)
        merged_stats, series, waiting, t0 = await _collect(running, shards, t0, on_day, on_imported)
        wall_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        for i in sorted(copies):
            assert main is not None
            await asyncio.to_thread(merge_back, main, *copies[i])
        merge_s = time.perf_counter() - t1
    finally:
        for _i, proc in running.values():  # only if starting them failed: _collect joins them
            if proc.is_alive():
                proc.terminate()
                proc.join(30)
        for path, _base in copies.values():
            remove(path)
    return ShardsResult(merged_stats, SimulationResult(days=days, series=series, wall_s=wall_s,
                                                       waiting_at_end=waiting), merge_s)


async def _collect(running: dict[Connection, tuple[int, Any]], shards: int, t0: float,
                   on_day: Callable[[int], None] | None,
                   on_imported: Callable[[int], None] | None) -> tuple[EngineStats, DaySeries, int, float]:
    """Follow the shard processes to their end: figures merged, waiting intents, and the
    start of the simulation (every shard imported)."""
    done_days = [0] * shards
    imported: dict[int, int] = {}
    merged_stats = EngineStats()
    series = DaySeries()
    waiting = 0
    pending = set(running)
    try:
        while pending:
            ready = await asyncio.to_thread(wait, list(pending), 1.0)
            for conn in ready:
                assert isinstance(conn, Connection)
                i, proc = running[conn]
                try:
                    kind, value = conn.recv()
                except EOFError:
                    proc.join(5)
                    raise RuntimeError(f"shard {i} stopped without a result (exit code {proc.exitcode})") from None
                if kind == "error":
                    raise RuntimeError(f"shard {i} failed:\n{value}")
                if kind == "imported":
                    imported[i] = value
                    if len(imported) == shards:
                        t0 = time.perf_counter()  # the simulation starts
                        if on_imported is not None:
                            on_imported(sum(imported.values()))
                    continue
                if kind == "day":
                    before = min(done_days)
                    done_days[i] = value + 1
                    if on_day is not None and min(done_days) > before:
                        on_day(min(done_days) - 1)
                    continue
                stats, result = value
                merged_stats.merge(stats)
                series.merge(result.series)
                waiting += result.waiting_at_end
                pending.discard(conn)
    except BaseException:
        for _i, proc in running.values():
            if proc.is_alive():
                proc.terminate()
        raise
    finally:
        for conn, (_i, proc) in running.items():
            proc.join(30)
            conn.close()
    return merged_stats, series, waiting, t0
