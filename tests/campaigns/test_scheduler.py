"""CampaignScheduler: fire times, supervisor edits, pause and resume."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
import yaml

from contact_engine.campaigns.model import Campaign, CampaignError, Step, default_campaign
from contact_engine.campaigns.scheduler import CampaignScheduler, next_fires


def test_next_fires_in_campaign_zone() -> None:
    fires = next_fires(default_campaign(), datetime(2026, 3, 9, 1, 0, tzinfo=UTC))  # 09:00 Shanghai
    first_at, _ = fires[0]
    assert first_at == datetime(2026, 3, 9, 2, 0, tzinfo=UTC)  # 10:00 Shanghai


async def test_edit_changes_next_fire_and_invalid_edit_keeps_old() -> None:
    fired: list[str] = []

    async def on_fire(c: Campaign, s: Step, at: datetime) -> None:
        fired.append(s.id)

    sched = CampaignScheduler(on_fire)
    sched.start()
    try:
        sched.load(default_campaign())
        before = sched.next_run("default", "light-call")
        assert before is not None and before.astimezone(before.tzinfo).time() == time(10, 0)
        data = default_campaign().model_dump(mode="json")
        for step in data["steps"]:
            if step["id"] == "light-call":
                step["local_time"] = "14:30"
        old, new = sched.edit("default", yaml.safe_dump(data))
        assert old.version == 1 and new.version == 2
        after = sched.next_run("default", "light-call")
        assert after is not None and after.time() == time(14, 30)
        with pytest.raises(CampaignError):
            sched.edit("default", "id: default\nsteps: []\n")
        assert sched.next_run("default", "light-call") == after
        assert sched.campaigns["default"].version == 2
        sched.pause("default")
        assert sched.next_run("default", "light-call") is None
        sched.resume("default")
        assert sched.next_run("default", "light-call") == after
    finally:
        sched.shutdown()
