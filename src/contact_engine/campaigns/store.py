"""Campaigns stored and versioned in the ``campaigns`` / ``campaign_versions`` tables.

Every save writes a new version row; edits are validated before anything is written and
audited (who, when, before, after) as a ``campaign_edited`` event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_engine.campaigns.model import Campaign, CampaignError, parse_campaign
from contact_engine.domain.events import CampaignEdited
from contact_engine.store.repositories import AuditRepository
from contact_engine.store.tables import campaign_versions, campaigns


class CampaignStore:
    """Read and write campaigns."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._audit = AuditRepository(engine)

    async def list(self) -> list[dict[str, Any]]:
        """Id, version and status of every campaign."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(
                select(campaigns.c.id, campaigns.c.version, campaigns.c.status).order_by(campaigns.c.id)
            )).all()
        return [{"id": r.id, "version": r.version, "status": r.status} for r in rows]

    async def get(self, campaign_id: str) -> tuple[Campaign, str, str]:
        """(campaign, source YAML, status); raises ``CampaignError`` when unknown."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(campaigns).where(campaigns.c.id == campaign_id))).first()
        if row is None:
            raise CampaignError(f"no campaign {campaign_id!r}")
        return Campaign.model_validate(row.definition), row.source_yaml, row.status

    async def save(self, text: str, *, actor: str, at: datetime, source: str = "<campaign>") -> Campaign:
        """Validate and store ``text`` as a new version (the first or the next)."""
        campaign = parse_campaign(text, source)
        async with self._engine.begin() as conn:
            row = (await conn.execute(select(campaigns).where(campaigns.c.id == campaign.id))).first()
            version = 1 if row is None else row.version + 1
            campaign = campaign.model_copy(update={"version": version})
            definition = campaign.model_dump(mode="json")
            values = {"version": version, "definition": definition, "source_yaml": text,
                      "updated_at": at, "updated_by": actor}
            if row is None:
                await conn.execute(insert(campaigns).values(id=campaign.id, name=campaign.id,
                                                            status="active", **values))
            else:
                await conn.execute(update(campaigns).where(campaigns.c.id == campaign.id).values(**values))
            await conn.execute(insert(campaign_versions).values(
                campaign_id=campaign.id, version=version, definition=definition, source_yaml=text,
                created_at=at, created_by=actor))
        await self._audit.append_event(CampaignEdited(
            at=at, actor=actor, data={"campaign": campaign.id, "version": version,
                                      "before": row.definition if row is not None else None,
                                      "after": definition}))
        return campaign

    async def edit(self, campaign_id: str, text: str, *, actor: str, at: datetime) -> Campaign:
        """Replace an existing campaign; an invalid edit raises and changes nothing."""
        await self.get(campaign_id)
        campaign = parse_campaign(text, f"edit of {campaign_id}")
        if campaign.id != campaign_id:
            raise CampaignError(f"edit of {campaign_id}: the id cannot change (got {campaign.id})")
        return await self.save(text, actor=actor, at=at)

    async def set_status(self, campaign_id: str, status: str, *, actor: str, at: datetime) -> None:
        """Pause (``paused``) or resume (``active``) a campaign."""
        await self.get(campaign_id)
        async with self._engine.begin() as conn:
            await conn.execute(update(campaigns).where(campaigns.c.id == campaign_id)
                               .values(status=status, updated_at=at, updated_by=actor))
        await self._audit.append_event(CampaignEdited(at=at, actor=actor,
                                                      data={"campaign": campaign_id, "status": status}))
