"""``CampaignScheduler``: APScheduler 3 ``AsyncIOScheduler`` with one cron job per step.

Each step fires daily at its local time in the campaign's zone; the job plans that day's
intents (their ``not_before`` still goes through the gate, so a late fire never dials into
a forbidden window). Edits are validated first: an invalid edit raises and leaves the old
jobs in place. Under simulation the same triggers give the fire times
(``next_fires``) and the caller advances its clock instead of waiting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from contact_engine.campaigns.model import Campaign, CampaignError, Step, parse_campaign

FireHandler = Callable[[Campaign, Step, datetime], Awaitable[None]]


def step_trigger(campaign: Campaign, step: Step) -> CronTrigger:
    """The daily cron trigger of ``step`` in the campaign's zone."""
    return CronTrigger(hour=step.local_time.hour, minute=step.local_time.minute,
                       timezone=ZoneInfo(campaign.timezone))


def next_fires(campaign: Campaign, now: datetime) -> list[tuple[datetime, Step]]:
    """The next fire time of every step after ``now``, earliest first (simulation path)."""
    out = []
    for step in campaign.steps:
        at = step_trigger(campaign, step).get_next_fire_time(None, now)
        if at is not None:
            out.append((at, step))
    return sorted(out, key=lambda pair: pair[0])


class CampaignScheduler:
    """Cron jobs per campaign step; pause, resume and edit at run time."""

    def __init__(self, on_fire: FireHandler, *, misfire_grace_s: int = 3600) -> None:
        self._on_fire = on_fire
        self._sched = AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1,
                                                     "misfire_grace_time": misfire_grace_s})
        self.campaigns: dict[str, Campaign] = {}

    def start(self) -> None:
        """Start the scheduler (needs a running event loop)."""
        self._sched.start()

    def shutdown(self) -> None:
        """Stop without waiting for running jobs."""
        if self._sched.running:
            self._sched.shutdown(wait=False)

    async def _fire(self, campaign_id: str, step_id: str) -> None:
        campaign = self.campaigns[campaign_id]
        step = next(s for s in campaign.steps if s.id == step_id)
        await self._on_fire(campaign, step, datetime.now(ZoneInfo(campaign.timezone)))

    def load(self, campaign: Campaign) -> None:
        """Install (or replace) the jobs of ``campaign``."""
        old = self.campaigns.get(campaign.id)
        if old is not None:
            for step in old.steps:
                job = self._sched.get_job(f"{old.id}:{step.id}")
                if job is not None:
                    job.remove()
        self.campaigns[campaign.id] = campaign
        for step in campaign.steps:
            self._sched.add_job(self._fire, step_trigger(campaign, step), args=[campaign.id, step.id],
                                id=f"{campaign.id}:{step.id}", replace_existing=True)

    def edit(self, campaign_id: str, text: str) -> tuple[Campaign, Campaign]:
        """Validate ``text`` and replace the campaign; returns (before, after).

        Raises ``CampaignError`` on an invalid edit; the old jobs keep running.
        """
        before = self.campaigns[campaign_id]
        after = parse_campaign(text, f"edit of {campaign_id}")
        if after.id != campaign_id:
            raise CampaignError(f"edit of {campaign_id}: the id cannot change (got {after.id})")
        after = after.model_copy(update={"version": before.version + 1})
        self.load(after)
        return before, after

    def pause(self, campaign_id: str) -> None:
        """Pause every job of the campaign."""
        for step in self.campaigns[campaign_id].steps:
            self._sched.pause_job(f"{campaign_id}:{step.id}")

    def resume(self, campaign_id: str) -> None:
        """Resume every job of the campaign."""
        for step in self.campaigns[campaign_id].steps:
            self._sched.resume_job(f"{campaign_id}:{step.id}")

    def next_run(self, campaign_id: str, step_id: str) -> datetime | None:
        """When the job of a step runs next (None while paused)."""
        job = self._sched.get_job(f"{campaign_id}:{step_id}")
        return None if job is None else job.next_run_time
