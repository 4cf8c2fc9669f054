"""Email unsubscribe links: a confirmation page (GET) and the opt-out itself (POST, RFC 8058)."""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from contact_engine.api.app import ApiComponents, components
from contact_engine.channels.email.unsubscribe import token_valid

log = logging.getLogger(__name__)

router = APIRouter(prefix="/unsubscribe", tags=["unsubscribe"])

Components = Annotated[ApiComponents, Depends(components)]

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>退订 / Unsubscribe</title></head>
<body><p>{text}</p>{form}</body></html>"""
_ASK = "确认不再通过此邮箱接收我们的邮件？ / Stop emails from us to this address?"
_DONE = "您已退订，我们不会再向此邮箱发送邮件。 / You are unsubscribed; we will send no more emails to this address."


def _checked(request: Request, comps: ApiComponents) -> tuple[str, str]:
    party = request.query_params.get("party", "")
    attempt = request.query_params.get("attempt", "")
    token = request.query_params.get("token", "")
    secret = comps.settings.smtp.unsubscribe_secret
    if not party or not token:
        raise HTTPException(400, "party and token are required")
    if secret is None or not token_valid(secret.get_secret_value(), party, token):
        raise HTTPException(403, "invalid unsubscribe link")
    return party, attempt


@router.get("", response_class=HTMLResponse)
async def confirm_page(request: Request, comps: Components) -> HTMLResponse:
    """Ask before unsubscribing (mail scanners follow GET links; only POST acts)."""
    _checked(request, comps)
    action = html.escape(str(request.url.path) + "?" + request.url.query, quote=True)
    form = f'<form method="post" action="{action}"><button type="submit">退订 / Unsubscribe</button></form>'
    return HTMLResponse(_PAGE.format(text=_ASK, form=form))


@router.post("", response_class=HTMLResponse)
async def unsubscribe(request: Request, comps: Components) -> HTMLResponse:
    """Record the email opt-out at once (one-click ``List-Unsubscribe-Post`` or the page's button)."""
    party, attempt = _checked(request, comps)
    if comps.email_opt_out is None:
        log.error("email unsubscribe for %s but no recorder is configured", party)
        raise HTTPException(503, "opt-outs cannot be recorded")
    await comps.email_opt_out(party, attempt, datetime.now(UTC))
    return HTMLResponse(_PAGE.format(text=_DONE, form=""))
