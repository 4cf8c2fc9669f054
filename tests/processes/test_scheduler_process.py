"""The running scheduler picks up a supervisor's edits from the database without a restart.

A step's time changes while the scheduler runs: its next fire moves to the new time; an
invalid edit is refused and the running schedule keeps the last valid one; pause and
resume reach the running jobs; a second scheduler waits while the first leads. A step
whose time comes fires and queues its intents.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contact_engine.campaigns.model import CampaignError
from contact_engine.campaigns.scheduler import CampaignScheduler
from contact_engine.campaigns.store import CampaignStore
from contact_engine.config import Settings
from contact_engine.demo.portfolio import generate
from contact_engine.engine import Engine
from contact_engine.processes import scheduler_loop

ZONE = "Asia/Shanghai"


def campaign_yaml(at: str, dpd_to: int = 30) -> str:
    return (f"id: c1\ntimezone: {ZONE}\nsteps:\n"
            f"  - {{id: call, channel: voice, local_time: \"{at}\", script: light_call, "
            f"dpd_from: 1, dpd_to: {dpd_to}, every_days: 1}}\n")


async def wait_for(cond: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


def local_time(at: datetime | None) -> time | None:
    return None if at is None else at.astimezone(ZoneInfo(ZONE)).time()


async def test_edit_pause_resume_reach_the_running_scheduler(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    async with Engine.open(settings, adapters={}) as engine:
        store = CampaignStore(engine.db)
        await store.save(campaign_yaml("10:00"), actor="alice", at=datetime.now(UTC))
        stop = asyncio.Event()
        leaders: list[CampaignScheduler] = []
        task = asyncio.create_task(scheduler_loop(engine, "s1", stop, reload_s=0.1, tick_s=0.05,
                                                  on_lead=leaders.append))
        second: list[CampaignScheduler] = []
        waiting = asyncio.create_task(scheduler_loop(engine, "s2", stop, reload_s=0.1, tick_s=0.05,
                                                     on_lead=second.append))
        try:
            await wait_for(lambda: bool(leaders) and leaders[0].next_run("c1", "call") is not None)
            sched = leaders[0]
            assert local_time(sched.next_run("c1", "call")) == time(10, 0)

            await store.edit("c1", campaign_yaml("11:15"), actor="bob", at=datetime.now(UTC))
            await wait_for(lambda: local_time(sched.next_run("c1", "call")) == time(11, 15))

            with pytest.raises(CampaignError):
                await store.edit("c1", campaign_yaml("25:99"), actor="bob", at=datetime.now(UTC))
            await asyncio.sleep(0.4)  # several reloads
            assert local_time(sched.next_run("c1", "call")) == time(11, 15)
            campaign, _text, _status = await store.get("c1")
            assert campaign.version == 2

            await store.set_status("c1", "paused", actor="carol", at=datetime.now(UTC))
            await wait_for(lambda: sched.next_run("c1", "call") is None)
            await store.set_status("c1", "active", actor="carol", at=datetime.now(UTC))
            await wait_for(lambda: local_time(sched.next_run("c1", "call")) == time(11, 15))
            assert second == []  # the second scheduler never led
        finally:
            stop.set()
            await asyncio.gather(task, waiting)


async def test_a_due_step_fires_and_queues_intents(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    async with Engine.open(settings, adapters={}) as engine:
        today = datetime.now(ZoneInfo(ZONE)).date()
        accounts = list(generate(40, today, seed=4, us_share=0.0))
        await engine.accounts.upsert_many(accounts)
        soon = (datetime.now(ZoneInfo(ZONE)) + timedelta(minutes=1)).replace(second=0, microsecond=0)
        fire_day = soon.date()  # the next day when the test starts in the day's last minute
        store = CampaignStore(engine.db)
        await store.save(campaign_yaml(soon.strftime("%H:%M"), dpd_to=120), actor="alice", at=datetime.now(UTC))
        stop = asyncio.Event()
        task = asyncio.create_task(scheduler_loop(engine, "s1", stop, reload_s=0.1, tick_s=0.2))
        try:
            deadline = soon + timedelta(seconds=30)
            while sum((await engine.intents.counts()).values()) == 0:
                assert datetime.now(ZoneInfo(ZONE)) < deadline, "the step did not fire"
                await asyncio.sleep(0.5)
        finally:
            stop.set()
            await task
        expected = sum(1 for a in accounts if 1 <= a.days_past_due(fire_day) <= 120 and not a.holds)
        assert sum((await engine.intents.counts()).values()) == expected
