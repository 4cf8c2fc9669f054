"""Campaigns stored, versioned and audited (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_engine.campaigns.model import DEFAULT_CAMPAIGN, CampaignError
from contact_engine.campaigns.store import CampaignStore
from contact_engine.store.tables import campaign_versions, events

AT = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)


async def test_save_edit_pause_audited(db: AsyncEngine) -> None:
    store = CampaignStore(db)
    text = DEFAULT_CAMPAIGN.read_text(encoding="utf-8")
    first = await store.save(text, actor="lead", at=AT)
    assert first.version == 1
    edited = await store.edit("default", text.replace('"10:30"', '"11:00"'), actor="sup", at=AT)
    assert edited.version == 2
    with pytest.raises(CampaignError):
        await store.edit("default", "id: default\nsteps: []\n", actor="sup", at=AT)
    campaign, _src, status = await store.get("default")
    assert campaign.version == 2 and status == "active"
    assert next(s for s in campaign.steps if s.id == "pre-1-call").local_time.hour == 11
    await store.set_status("default", "paused", actor="sup", at=AT)
    assert await store.list() == [{"id": "default", "version": 2, "status": "paused"}]
    async with db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(campaign_versions)) == 2
        kinds = (await conn.execute(select(events.c.kind, events.c.actor))).all()
    assert sorted(tuple(k) for k in kinds) == [("campaign_edited", "lead"), ("campaign_edited", "sup"),
                                               ("campaign_edited", "sup")]
    with pytest.raises(CampaignError):
        await store.get("nope")
