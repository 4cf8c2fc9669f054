"""Recordings not yet stored (pending or failed downloads)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from contact_engine.api.app import ApiComponents, components

router = APIRouter(prefix="/recordings", tags=["recordings"])


@router.get("/pending")
async def pending(comps: Annotated[ApiComponents, Depends(components)]) -> list[dict[str, Any]]:
    """Every queued recording with its tries and last error."""
    if comps.recordings is None:
        raise HTTPException(503, "recording downloads are not configured")
    return [
        {
            "recording_id": q.id,
            "attempt_id": q.attempt_id,
            "status": q.status,
            "tries": q.tries,
            "last_error": q.last_error,
            "created_at": q.created_at.isoformat(),
        }
        for q in await comps.recordings.pending()
    ]
