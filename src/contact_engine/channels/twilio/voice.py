"""Outbound calls through Twilio's Calls API.

Each call asks for status callbacks (initiated, ringing, answered, completed), a
dual-channel recording from answer with a recording-status callback, and asynchronous
answering-machine detection. What the callee hears is served by the TwiML endpoints in
``contact_engine.api.twilio_webhooks`` from the :class:`CallContext` stored here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from contact_engine.channels.base import ChannelAdapter, OutboundContact, SendReceipt, TokenBucket
from contact_engine.channels.twilio import content
from contact_engine.channels.twilio.client import TwilioApi, paced
from contact_engine.channels.twilio.state import CallContext, TwilioState
from contact_engine.domain import Channel
from contact_engine.errors import ErrorCategory, ProviderError

CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]


def webhook_url(base: str, path: str, attempt_id: str) -> str:
    """The public URL of one of our webhooks for an attempt."""
    return f"{base.rstrip('/')}{path}?{urlencode({'attempt': attempt_id})}"


class TwilioVoiceChannel(ChannelAdapter):
    """Places calls with Twilio; paced at ``settings.twilio.calls_per_second``."""

    provider = "twilio"
    channels = frozenset({Channel.VOICE})

    def __init__(self, api: TwilioApi, state: TwilioState, *, pacing: TokenBucket | None = None) -> None:
        settings = api.settings
        super().__init__(
            pacing=pacing or paced(settings.calls_per_second),
            # The base bounds the whole send, including 429 back-off.
            timeout_s=settings.request_timeout_s * (api.max_rate_limit_retries + 2),
        )
        self.api = api
        self.state = state
        if not settings.public_base_url:
            raise ProviderError("Twilio needs public_base_url for its webhooks", category=ErrorCategory.PERMANENT)
        self.public_base_url = settings.public_base_url.rstrip("/")

    def _context(self, contact: OutboundContact) -> CallContext:
        if not contact.body.strip():
            raise ProviderError("call script is empty", category=ErrorCategory.PERMANENT, code="empty-script")
        if contact.third_party and (words := content.debt_words_in(contact.body)):
            # Fail closed: a third party never hears debt details (F17).
            raise ProviderError(
                f"third-party script mentions the debt ({', '.join(words)})",
                category=ErrorCategory.PERMANENT,
                code="third-party-content",
            )
        voicemail = None
        if contact.voicemail_allowed and not contact.third_party:
            # A message knowingly left for a third party is not a limited-content message.
            voicemail = content.limited_content_voicemail(contact.language, contact.variables)
        return CallContext(
            attempt_id=contact.attempt_id,
            language=contact.language,
            body=contact.body,
            third_party=contact.third_party,
            voicemail=voicemail,
        )

    async def _send(self, contact: OutboundContact) -> SendReceipt:
        ctx = self._context(contact)
        await self.state.put_context(ctx)
        base, attempt = self.public_base_url, contact.attempt_id
        settings = self.api.settings
        kwargs: dict[str, object] = {
            "to": contact.to,
            "url": webhook_url(base, "/twilio/voice/answer", attempt),
            "method": "POST",
            "status_callback": webhook_url(base, "/twilio/voice/status", attempt),
            "status_callback_event": CALL_EVENTS,
            "status_callback_method": "POST",
            "record": True,
            "recording_channels": "dual",
            "recording_status_callback": webhook_url(base, "/twilio/voice/recording", attempt),
            "recording_status_callback_event": ["completed", "absent"],
            "recording_status_callback_method": "POST",
            "machine_detection": "DetectMessageEnd",
            "async_amd": "true",
            "async_amd_status_callback": webhook_url(base, "/twilio/voice/amd", attempt),
            "async_amd_status_callback_method": "POST",
        }
        if settings.from_number:
            kwargs["from_"] = settings.from_number
        else:
            raise ProviderError("Twilio calls need from_number", category=ErrorCategory.PERMANENT)
        call = await self.api.call(lambda: self.api.client.calls.create_async(**kwargs), posted=True)  # type: ignore[arg-type]
        return SendReceipt(provider=self.provider, provider_ref=str(call.sid), accepted_at=datetime.now(UTC))

    async def redirect(self, call_sid: str, twiml: str) -> None:
        """Replace what a live call is doing (voicemail after the beep, hang up)."""
        await self.api.call(lambda: self.api.client.calls(call_sid).update_async(twiml=twiml), posted=True)

    async def on_machine(self, call_sid: str, ctx: CallContext | None) -> bool:
        """AMD found a machine: leave the limited-content voicemail if allowed, else hang up.

        Returns True when a voicemail was left.
        """
        if ctx is not None and ctx.voicemail:
            await self.redirect(call_sid, content.twiml_say_and_hangup(ctx.language, ctx.voicemail))
            return True
        await self.api.call(
            lambda: self.api.client.calls(call_sid).update_async(status="completed"), posted=True
        )
        return False
