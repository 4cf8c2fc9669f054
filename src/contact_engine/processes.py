"""The long-running processes: ``worker``, ``scheduler`` and ``serve`` (all in one).

* ``contact-engine worker``: consumes the dispatch stream through the consumer group,
  takes over entries of crashed workers (XAUTOCLAIM after ``dispatch.claim_idle_ms``) and
  reconciles them with the provider, and delivers the simulated network's reports.
  Any number may run.
* ``contact-engine scheduler``: one active at a time (leader lock; a second waits). Runs
  each active campaign's steps on their cron (APScheduler), moves due intents from the
  delayed queue into the stream, and reloads campaigns edited in the database (a
  supervisor's edit, pause or resume takes effect without a restart).
* ``contact-engine serve``: the scheduler, workers and the HTTP API in one process.

SIGTERM and SIGINT stop a process after its current batch.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import typer

if TYPE_CHECKING:
    from contact_engine.api.app import ApiComponents

from contact_engine.campaigns.model import Campaign, Step
from contact_engine.campaigns.scheduler import CampaignScheduler
from contact_engine.campaigns.store import CampaignStore
from contact_engine.channels.base import ProviderReport
from contact_engine.cli_support import run
from contact_engine.clock import Clock, ShiftedClock, SystemClock
from contact_engine.config import Settings, load_settings
from contact_engine.dispatch.leader import LeaderLock
from contact_engine.dispatch.worker import Dispatcher
from contact_engine.engine import Engine

log = logging.getLogger(__name__)


def process_clock(settings: Settings) -> Clock:
    """The system clock, or a shifted one when the settings give a start and an anchor."""
    sim = settings.simulation
    if sim.clock_start is not None and sim.clock_anchor is not None:
        return ShiftedClock(sim.clock_start, sim.clock_anchor)
    return SystemClock()


@asynccontextmanager
async def open_engine(settings: Settings) -> AsyncIterator[Engine]:
    """The engine of a long-running process (the simulator's state lives in Redis)."""
    sim = settings.simulation
    async with Engine.open(settings, clock=process_clock(settings), simulate=sim.enabled, seed=sim.seed,
                           audio=sim.audio, shared_network=True, time_scale=sim.time_scale,
                           rate_per_s=sim.rate_per_s) as engine:
        simulated = sorted(c.value for c, a in engine.adapters.items() if a.provider == "simulated")
        if simulated:
            log.warning("channels %s run on the simulated provider: nobody is contacted "
                        "(set provider credentials, or CONTACT_ENGINE_SIMULATION__ENABLED=false)",
                        ", ".join(simulated))
        yield engine


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def default_name(kind: str) -> str:
    return f"{kind}-{socket.gethostname()}-{os.getpid()}"


HEARTBEAT_S = 1.0


async def _heartbeat(engine: Engine, name: str, stop: asyncio.Event) -> None:
    """Keep this worker's heartbeat key alive while it runs (ttl: 5 beats)."""
    while not stop.is_set():
        with suppress(Exception):  # a missed beat only lets others take over sooner
            await engine.queue.heartbeat(name, int(HEARTBEAT_S * 5000))
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=HEARTBEAT_S)


async def worker_loop(engine: Engine, name: str, stop: asyncio.Event, *, batch: int = 100,
                      block_ms: int = 500) -> None:
    """Dispatch until ``stop`` is set; an error is logged and the loop goes on (the
    entries of a failed batch stay pending and are taken over)."""
    dispatcher = engine.dispatcher(name)
    idle_ms = engine.settings.dispatch.claim_idle_ms
    await engine.queue.heartbeat(name, int(HEARTBEAT_S * 5000))
    beat = asyncio.create_task(_heartbeat(engine, name, stop))
    try:
        while not stop.is_set():
            try:
                await _work_once(engine, dispatcher, name, idle_ms, batch, block_ms)
            except Exception:
                log.exception("%s: dispatch pass failed; retrying", name)
                await asyncio.sleep(1.0)
    finally:
        stop.set()
        await beat


async def _work_once(engine: Engine, dispatcher: Dispatcher, name: str, idle_ms: int, batch: int,
                     block_ms: int) -> None:
    reclaimed = await engine.queue.reclaim(name, idle_ms, count=batch)
    if reclaimed:
        log.info("%s: took over %d entries of a stopped worker", name, len(reclaimed))
        await engine.redis.hincrby(engine.queue.keys.stats, "reclaimed", len(reclaimed))  # type: ignore[misc]
        await dispatcher.handle_batch(reclaimed, engine.clock.now(), reclaimed=True)
    deliveries = await engine.queue.read(name, count=batch, block_ms=block_ms)
    if deliveries:
        await dispatcher.handle_batch(deliveries, engine.clock.now())
    await engine.flush_early()
    await engine.handle_network(engine.clock.now())


async def scheduler_loop(engine: Engine, name: str, stop: asyncio.Event, *, reload_s: float = 2.0,
                         tick_s: float = 0.5,
                         on_lead: Callable[[CampaignScheduler], None] | None = None) -> None:
    """Lead (or wait to lead), fire campaign steps, promote due intents, reload edits.

    ``on_lead`` receives the live ``CampaignScheduler`` each time this process leads.
    """
    lock = LeaderLock(engine.redis, engine.queue.keys.leader, name, ttl_ms=10_000)
    store = CampaignStore(engine.db)

    async def fire(campaign: Campaign, step: Step, at: datetime) -> None:
        day = engine.clock.now().astimezone(ZoneInfo(campaign.timezone)).date()
        await engine.apply_handoffs(campaign, day)
        queued = await engine.plan(campaign, day, (step,))
        log.info("%s: %s/%s fired for %s: %d intents queued", name, campaign.id, step.id, day, queued)

    while not stop.is_set():
        if not await lock.acquire():
            log.info("%s: another scheduler leads; waiting", name)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=lock.ttl_ms / 3000)
            continue
        log.info("%s: leading", name)
        sched = CampaignScheduler(fire)
        sched.start()
        if on_lead is not None:
            on_lead(sched)
        versions: dict[str, tuple[int, str]] = {}
        last_reload = 0.0
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                if not await lock.renew():
                    log.warning("%s: leadership lost", name)
                    break
                if loop.time() - last_reload >= reload_s:
                    await _reload(store, sched, versions)
                    last_reload = loop.time()
                await engine.queue.promote(engine.clock.now())
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=tick_s)
        finally:
            sched.shutdown()
            await lock.release()


async def _reload(store: CampaignStore, sched: CampaignScheduler, versions: dict[str, tuple[int, str]]) -> None:
    """Install new or edited campaigns; apply pause and resume."""
    for row in await store.list():
        cid = row["id"]
        seen = versions.get(cid)
        if seen == (row["version"], row["status"]):
            continue
        campaign, _text, status = await store.get(cid)
        if seen is None or seen[0] != row["version"]:
            sched.load(campaign)
            log.info("campaign %s version %d loaded", cid, campaign.version)
        if status == "paused":
            sched.pause(cid)
        elif seen is not None and seen[1] == "paused":
            sched.resume(cid)
        versions[cid] = (row["version"], status)


async def _run_worker(name: str) -> None:
    async with open_engine(load_settings()) as engine:
        await worker_loop(engine, name, _stop_event())


async def _run_scheduler(name: str) -> None:
    async with open_engine(load_settings()) as engine:
        await scheduler_loop(engine, name, _stop_event())


def engine_build(engine: Engine) -> Callable[[Settings, AsyncExitStack], Awaitable[ApiComponents]]:
    """The API's components with the engine's report handler and clock as sink and clock."""
    from contact_engine.api.app import build_components

    async def sink(report: ProviderReport) -> None:
        await engine.handle_reports([report])

    async def build(settings: Settings, stack: AsyncExitStack) -> ApiComponents:
        # the engine's own Redis client and database: one embedded server per data folder
        return await build_components(settings, stack, redis=engine.redis, db=engine.db, sink=sink,
                                      clock=engine.clock)

    return build


async def serve_api(host: str, port: int) -> None:
    """The HTTP API alone (``contact-engine api``); reports go to the engine's handler."""
    import uvicorn

    from contact_engine.api.app import create_app

    settings = load_settings()
    async with Engine.open(settings, clock=process_clock(settings), simulate=False) as engine:
        app = create_app(settings, build=engine_build(engine))
        await uvicorn.Server(uvicorn.Config(app, host=host, port=port, proxy_headers=True)).serve()


async def _serve(host: str, port: int, workers: int) -> None:
    import uvicorn

    from contact_engine.api.app import create_app

    settings = load_settings()
    stop = _stop_event()
    async with open_engine(settings) as engine:
        base = default_name("serve")
        app = create_app(settings, build=engine_build(engine))
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info"))
        tasks = [asyncio.create_task(scheduler_loop(engine, f"{base}-scheduler", stop))]
        tasks += [asyncio.create_task(worker_loop(engine, f"{base}-w{i}", stop)) for i in range(workers)]
        # uvicorn captures SIGINT/SIGTERM while it serves and raises them again on exit,
        # which reaches the handlers installed above and sets ``stop``
        tasks.append(asyncio.create_task(server.serve()))
        await stop.wait()
        server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


def _log_to_stderr() -> None:
    """Long-running processes log their progress (ids only: no phone numbers or emails)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(name: str = typer.Option("", help="Consumer name (default: worker-<host>-<pid>).")) -> None:
        """Dispatch queued intents: gate, provider, audit. / 调度执行触达任务。"""
        _log_to_stderr()
        run(_run_worker(name or default_name("worker")), long_running=True)

    @app.command("scheduler")
    def scheduler(name: str = typer.Option("", help="Owner name of the leader lock.")) -> None:
        """Fire campaign steps and feed the workers (one leads). / 活动调度器。"""
        _log_to_stderr()
        run(_run_scheduler(name or default_name("scheduler")), long_running=True)

    @app.command("serve")
    def serve(host: str = typer.Option("127.0.0.1", help="Address of the HTTP API."),
              port: int = typer.Option(8000, help="Port of the HTTP API."),
              workers: int = typer.Option(2, min=1, help="Dispatch workers in this process.")) -> None:
        """Scheduler, workers and the HTTP API in one process. / 单进程运行全部组件。"""
        _log_to_stderr()
        run(_serve(host, port, workers), long_running=True)
