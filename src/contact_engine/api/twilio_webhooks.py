"""Twilio webhooks: TwiML for live calls, status callbacks, recordings, inbound texts.

Every request must carry a valid ``X-Twilio-Signature`` for the URL Twilio requested,
rebuilt from ``settings.twilio.public_base_url`` (deployments behind proxies) plus the path
and query, and the form as sent; otherwise 403 and nothing changes. A repeated callback
changes nothing (dedupe key per callback in :class:`TwilioState`), and a status never moves
backwards (completed before ringing ends completed). Accepted callbacks become
:class:`ProviderReport` values fed to the components' sink.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.datastructures import FormData
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from contact_engine.api.app import ApiComponents, components
from contact_engine.channels.base import ProviderReport
from contact_engine.channels.twilio import content
from contact_engine.channels.twilio.voice import webhook_url
from contact_engine.domain import Outcome
from contact_engine.errors import ProviderError
from contact_engine.privacy import mask_phone

log = logging.getLogger(__name__)

router = APIRouter(prefix="/twilio", tags=["twilio"])

#: Call statuses in the order they can happen; the final ones share the top rank.
CALL_RANK = {
    "queued": 0, "initiated": 1, "ringing": 2, "in-progress": 3, "answered": 3,
    "completed": 4, "busy": 4, "failed": 4, "no-answer": 4, "canceled": 4,
}
CALL_OUTCOME = {
    "busy": Outcome.BUSY, "failed": Outcome.FAILED, "no-answer": Outcome.NO_ANSWER,
    "canceled": Outcome.FAILED,
}
MESSAGE_RANK = {
    "accepted": 0, "scheduled": 0, "queued": 0, "sending": 1, "sent": 2,
    "delivered": 4, "undelivered": 4, "failed": 4, "canceled": 4, "read": 5,
}
MESSAGE_OUTCOME = {
    "delivered": Outcome.DELIVERED, "undelivered": Outcome.UNDELIVERED,
    "failed": Outcome.UNDELIVERED, "canceled": Outcome.UNDELIVERED,
}

Components = Annotated[ApiComponents, Depends(components)]


def _twiml(xml: str) -> Response:
    return Response(content=xml, media_type="application/xml")


def public_url(comps: ApiComponents, request: Request) -> str:
    """The URL Twilio requested: the configured public base plus our path and query."""
    base = comps.settings.twilio.public_base_url
    if not base:
        raise HTTPException(403, "webhooks are disabled: no public_base_url configured")
    url = base.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    return url


async def signed_form(request: Request, comps: Components) -> FormData:
    """The form of a request whose Twilio signature is valid (else 403)."""
    token = comps.settings.twilio.auth_token
    signature = request.headers.get("X-Twilio-Signature")
    if token is None or not signature:
        raise HTTPException(403, "missing Twilio signature")
    form = await request.form()
    validator = RequestValidator(token.get_secret_value())
    if not validator.validate(public_url(comps, request), form, signature):
        log.warning("forged or mis-addressed Twilio webhook to %s", request.url.path)
        raise HTTPException(403, "invalid Twilio signature")
    return form


Form = Annotated[FormData, Depends(signed_form)]


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str) or not value:
        raise HTTPException(400, f"{name}: missing")
    return value


def _attempt(request: Request) -> str:
    attempt = request.query_params.get("attempt")
    if not attempt:
        raise HTTPException(400, "attempt: missing from the query")
    return attempt


def _float(form: FormData, name: str) -> float | None:
    value = form.get(name)
    try:
        return float(value) if isinstance(value, str) and value else None
    except ValueError:
        raise HTTPException(400, f"{name}: not a number") from None


async def _report_once(
    comps: ApiComponents, dedupe_key: str, report: ProviderReport, *, rank: int | None = None
) -> None:
    """Feed ``report`` to the sink once per ``dedupe_key``, and only if its status rank moves
    forward. If the sink fails, both marks are undone so that a redelivery is handled."""
    state = comps.state
    if not await state.first_time(dedupe_key):
        return
    previous = None
    if rank is not None:
        previous = await state.advance(report.provider_ref, rank)
        if previous is None:
            return  # an earlier status arriving late
    try:
        await comps.sink(report)
    except Exception:
        if rank is not None and previous is not None:
            await state.lower(report.provider_ref, rank, previous)
        await state.forget(dedupe_key)
        raise


# -- calls ---------------------------------------------------------------------------


@router.post("/voice/answer")
async def voice_answer(request: Request, form: Form, comps: Components) -> Response:
    """A call was answered: the script and "press 1" (no context -> hang up, fail closed)."""
    ctx = await comps.state.get_context(_attempt(request))
    if ctx is None:
        return _twiml(content.twiml_hangup())
    base = comps.settings.twilio.public_base_url or ""
    action = webhook_url(base, "/twilio/voice/gather", ctx.attempt_id)
    return _twiml(content.twiml_person(ctx.language, ctx.body, action))


@router.post("/voice/gather")
async def voice_gather(request: Request, form: Form, comps: Components) -> Response:
    """The callee pressed a key: reported with its digits; 1 asks for a collector."""
    attempt = _attempt(request)
    call_sid = _field(form, "CallSid")
    digits = str(form.get("Digits") or "")
    ctx = await comps.state.get_context(attempt)
    report = ProviderReport(
        attempt_id=attempt, provider="twilio", provider_ref=call_sid, status="gather",
        at=comps.clock.now(), digits=digits or None, detail={"wants_collector": digits == "1"},
    )
    await _report_once(comps, f"gather:{call_sid}:{digits}", report)
    language = ctx.language if ctx else comps.settings.default_language
    if digits == "1":
        return _twiml(content.twiml_connecting(language))
    return _twiml(content.twiml_hangup())


@router.post("/voice/status")
async def voice_status(request: Request, form: Form, comps: Components) -> Response:
    """Call progress: initiated, ringing, in-progress, then a final status."""
    attempt = _attempt(request)
    call_sid = _field(form, "CallSid")
    status = _field(form, "CallStatus")
    if status not in CALL_RANK:
        raise HTTPException(400, f"CallStatus: unknown value {status!r}")
    duration = _float(form, "CallDuration")
    outcome: Outcome | None = CALL_OUTCOME.get(status)
    answered_by = await comps.state.get_answered_by(call_sid)
    if status == "completed":
        machine = bool(answered_by) and (answered_by or "").startswith("machine")
        outcome = Outcome.VOICEMAIL if machine else Outcome.CONNECTED
        if answered_by == "fax":
            outcome = Outcome.FAILED
    report = ProviderReport(
        attempt_id=attempt, provider="twilio", provider_ref=call_sid, status=status,
        at=comps.clock.now(), outcome=outcome, duration_s=duration,
        detail={"answered_by": answered_by} if answered_by else {},
    )
    await _report_once(comps, f"call:{call_sid}:{status}", report, rank=CALL_RANK[status])
    return Response(status_code=204)


@router.post("/voice/amd")
async def voice_amd(request: Request, form: Form, comps: Components) -> Response:
    """Asynchronous AMD result: a machine gets the limited-content voicemail or a hang-up."""
    attempt = _attempt(request)
    call_sid = _field(form, "CallSid")
    answered_by = _field(form, "AnsweredBy")
    if not await comps.state.first_time(f"amd:{call_sid}"):
        return Response(status_code=204)
    await comps.state.set_answered_by(call_sid, answered_by)
    voicemail_left = False
    error = None
    if (answered_by.startswith("machine") or answered_by == "fax") and comps.voice is not None:
        ctx = await comps.state.get_context(attempt)
        try:
            voicemail_left = await comps.voice.on_machine(call_sid, ctx if answered_by != "fax" else None)
        except ProviderError as exc:
            # The call ends by itself; the report says why no voicemail was left.
            error = str(exc)
    detail: dict[str, object] = {"answered_by": answered_by, "voicemail_left": voicemail_left}
    if error:
        detail["error"] = error
    await comps.sink(
        ProviderReport(
            attempt_id=attempt, provider="twilio", provider_ref=call_sid, status="amd",
            at=comps.clock.now(), detail=detail,
        )
    )
    return Response(status_code=204)


@router.post("/voice/recording")
async def voice_recording(request: Request, form: Form, comps: Components) -> Response:
    """A recording is ready (or absent): queued for download and reported."""
    attempt = _attempt(request)
    call_sid = _field(form, "CallSid")
    recording_sid = _field(form, "RecordingSid")
    status = _field(form, "RecordingStatus")
    recording_url = str(form.get("RecordingUrl") or "")
    duration = _float(form, "RecordingDuration")
    channels = form.get("RecordingChannels")
    if status == "completed":
        if not recording_url:
            raise HTTPException(400, "RecordingUrl: missing")
        if comps.recordings is not None:
            # Idempotent: a replayed callback finds the row queued already.
            await comps.recordings.enqueue(
                attempt, recording_sid, recording_url, duration_s=duration,
                channels=int(channels) if isinstance(channels, str) and channels.isdigit() else None,
            )
    report = ProviderReport(
        attempt_id=attempt, provider="twilio", provider_ref=call_sid,
        status=f"recording-{status}", at=comps.clock.now(), duration_s=duration,
        recording_url=recording_url or None, recording_ref=recording_sid,
    )
    await _report_once(comps, f"rec:{recording_sid}:{status}", report)
    return Response(status_code=204)


# -- messages ------------------------------------------------------------------------


@router.post("/sms/status")
async def sms_status(request: Request, form: Form, comps: Components) -> Response:
    """Message progress: queued, sent, then delivered / undelivered / failed."""
    attempt = _attempt(request)
    sid = _field(form, "MessageSid")
    status = _field(form, "MessageStatus")
    if status not in MESSAGE_RANK:
        raise HTTPException(400, f"MessageStatus: unknown value {status!r}")
    if status == "read":  # after delivery: nothing to report
        return Response(status_code=204)
    error_code = form.get("ErrorCode")
    report = ProviderReport(
        attempt_id=attempt, provider="twilio", provider_ref=sid, status=status, at=comps.clock.now(),
        outcome=MESSAGE_OUTCOME.get(status),
        detail={"error_code": error_code} if error_code else {},
    )
    await _report_once(comps, f"msg:{sid}:{status}", report, rank=MESSAGE_RANK[status])
    return Response(status_code=204)


@router.post("/sms/inbound")
async def sms_inbound(form: Form, comps: Components) -> Response:
    """A reply: STOP and its kin opt out at once (one confirmation at most); HELP gets help."""
    sender = _field(form, "From")
    to = str(form.get("To") or "")
    body = str(form.get("Body") or "")
    reply = MessagingResponse()
    if content.is_opt_out(body):
        if comps.opt_out is None:
            log.error("inbound opt-out from %s but no opt-out recorder is configured", mask_phone(sender))
            raise HTTPException(503, "opt-outs cannot be recorded")
        await comps.opt_out(sender, to, comps.clock.now())
        log.info("opt-out recorded for %s", mask_phone(sender))
        if await comps.state.first_time(f"optout-confirm:{sender}"):
            reply.message(comps.sms_opt_out_confirmation)
    elif content.is_help(body):
        reply.message(comps.sms_help_text)
    return _twiml(str(reply))
