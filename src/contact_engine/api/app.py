"""The FastAPI application factory.

Nothing is built at import time: :func:`create_app` returns an app whose lifespan builds
its components (Redis state, the Twilio client, the report sink) inside one
``AsyncExitStack`` and closes them on shutdown. The engine passes its own ``build`` to
share its sink and gate; the default build stands alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request

from contact_engine.api.optout import EmailOptOutRecorder, OptOutRecorder
from contact_engine.channels.base import ProviderReport, ReportSink
from contact_engine.channels.twilio.state import TwilioState
from contact_engine.channels.twilio.voice import TwilioVoiceChannel
from contact_engine.clock import Clock, SystemClock
from contact_engine.config import Settings
from contact_engine.recordings.fetch import RecordingFetcher

log = logging.getLogger(__name__)

DEFAULT_SMS_HELP = (
    "如需帮助请致电客服；回复TD退订短信。"
    " For help, call our service line; reply STOP to opt out of texts."
)
DEFAULT_SMS_OPT_OUT_CONFIRMATION = (
    "您已退订，我们不会再向此号码发送短信。"
    " You have opted out; we will send no more texts to this number."
)


@dataclass
class ApiComponents:
    """What the routes use. Built by the lifespan; see :func:`create_app`.

    Attributes:
        settings: the whole configuration.
        sink: receives every accepted webhook as a :class:`ProviderReport`.
        state: call context, callback dedupe and status order (Redis or in-memory).
        opt_out: records an SMS opt-out through the gate; None refuses inbound texts (503).
        email_opt_out: records an email opt-out from an unsubscribe link; None -> 503.
        voice: the voice adapter (AMD results redirect live calls); None: no redirects.
        recordings: queues recording downloads; None: recordings are only reported.
        sms_help_text: the answer to HELP.
        sms_opt_out_confirmation: the one confirmation sent after an opt-out (F19 (h)(2)(i)).
        background: loops run for the app's lifetime (e.g. the recording retry loop); each
            gets an event that is set on shutdown and must return soon after.
        clock: stamps the reports (the engine's clock when it runs on a shifted one).
    """

    settings: Settings
    sink: ReportSink
    state: TwilioState
    opt_out: OptOutRecorder | None = None
    email_opt_out: EmailOptOutRecorder | None = None
    voice: TwilioVoiceChannel | None = None
    recordings: RecordingFetcher | None = None
    sms_help_text: str = DEFAULT_SMS_HELP
    sms_opt_out_confirmation: str = DEFAULT_SMS_OPT_OUT_CONFIRMATION
    background: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = field(default_factory=list)
    clock: Clock = field(default_factory=SystemClock)


Build = Callable[[Settings, AsyncExitStack], Awaitable[ApiComponents]]


async def _log_sink(report: ProviderReport) -> None:
    log.info("provider report %s %s %s", report.attempt_id, report.provider_ref, report.status)


async def default_build(settings: Settings, stack: AsyncExitStack) -> ApiComponents:
    """Stand-alone components: their own Redis client and database engine, a logging sink.

    The engine's processes use :func:`build_components` with their own clients instead
    (one embedded Redis per data folder), and feed reports to the engine.
    """
    from contact_engine.store.db import make_engine
    from contact_engine.store.redis import open_redis

    client = await stack.enter_async_context(open_redis(settings))
    engine = make_engine(settings.effective_database_url)
    stack.push_async_callback(engine.dispose)
    return await build_components(settings, stack, redis=client, db=engine)


async def build_components(settings: Settings, stack: AsyncExitStack, *, redis: Any, db: Any,
                           sink: ReportSink = _log_sink, clock: Clock | None = None) -> ApiComponents:
    """Redis call state, the gate for opt-outs, the Twilio client and the recording fetcher
    over the given Redis client and database engine (closed by their owner)."""
    from contact_engine.api.optout import (
        accounts_for_phone,
        gate_email_opt_out_recorder,
        gate_opt_out_recorder,
    )
    from contact_engine.channels.twilio.client import TwilioApi
    from contact_engine.channels.twilio.state import RedisTwilioState
    from contact_engine.compliance.gate import Gate
    from contact_engine.recordings.fetch import RecordingFetcher
    from contact_engine.recordings.store import RecordingStore
    from contact_engine.store.repositories import AccountRepository

    state = RedisTwilioState(redis, settings.redis_key_prefix)
    # The same ledger as the engine's gate (same Redis, same prefix): an opt-out counts at once.
    gate = await Gate.create(settings.gate, redis=redis, key_prefix=settings.redis_key_prefix)
    stack.push_async_callback(gate.aclose)
    comps = ApiComponents(
        settings=settings,
        sink=sink,
        state=state,
        opt_out=gate_opt_out_recorder(gate, accounts_for_phone(db)),
        email_opt_out=gate_email_opt_out_recorder(gate, AccountRepository(db).get),
        clock=clock or SystemClock(),
    )
    if settings.twilio.configured:
        api = await TwilioApi.open(settings.twilio)
        stack.push_async_callback(api.aclose)
        comps.voice = TwilioVoiceChannel(api, state)
        fetcher = RecordingFetcher(db, RecordingStore(settings.effective_recordings_dir), api)
        stack.push_async_callback(fetcher.aclose)
        comps.recordings = fetcher
        comps.background.append(fetcher.run)
    return comps


def create_app(settings: Settings, *, build: Build | None = None) -> FastAPI:
    """Build the FastAPI app; its components are built when it starts.

    Args:
        settings: the whole configuration (``twilio.public_base_url`` and ``auth_token``
            are needed to accept Twilio webhooks).
        build: makes the components inside the lifespan's exit stack.
    """
    from contact_engine.api import twilio_webhooks
    from contact_engine.api.routes import health, recordings, unsubscribe

    make = build or default_build

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            comps = await make(settings, stack)
            app.state.components = comps
            stop = asyncio.Event()
            try:
                async with asyncio.TaskGroup() as tg:
                    for loop in comps.background:
                        tg.create_task(loop(stop))
                    try:
                        yield
                    finally:
                        stop.set()
            finally:
                stop.set()

    app = FastAPI(title="contact-engine", lifespan=lifespan)
    app.include_router(health.router)
    app.include_router(recordings.router)
    app.include_router(unsubscribe.router)
    app.include_router(twilio_webhooks.router)
    return app


def components(request: Request) -> ApiComponents:
    """The components of the running app (a FastAPI dependency)."""
    comps: ApiComponents = request.app.state.components
    return comps
