"""Text messages through Twilio's Messages API.

Every collection text must carry its opt-out line (Reg F F20, QA-E6): a body without one
is refused before anything is sent. Texts to third parties are refused (F17). Inbound
replies (STOP, 退订, HELP) are handled by ``contact_engine.api.twilio_webhooks``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from contact_engine.channels.base import ChannelAdapter, OutboundContact, SendReceipt, TokenBucket
from contact_engine.channels.twilio import content
from contact_engine.channels.twilio.client import TwilioApi, paced
from contact_engine.channels.twilio.voice import webhook_url
from contact_engine.domain import Channel
from contact_engine.errors import ErrorCategory, ProviderError


class TwilioSmsChannel(ChannelAdapter):
    """Sends texts with Twilio; paced at ``settings.twilio.messages_per_second``."""

    provider = "twilio"
    channels = frozenset({Channel.SMS})

    def __init__(self, api: TwilioApi, *, pacing: TokenBucket | None = None) -> None:
        settings = api.settings
        super().__init__(
            pacing=pacing or paced(settings.messages_per_second),
            timeout_s=settings.request_timeout_s * (api.max_rate_limit_retries + 2),
        )
        self.api = api
        if not settings.public_base_url:
            raise ProviderError("Twilio needs public_base_url for its webhooks", category=ErrorCategory.PERMANENT)
        self.public_base_url = settings.public_base_url.rstrip("/")

    @staticmethod
    def check(contact: OutboundContact) -> None:
        """Refuse a text that must not go out (fail closed).

        Raises:
            ProviderError: PERMANENT, with code ``no-opt-out-line``, ``third-party`` or ``empty-body``.
        """
        if not contact.body.strip():
            raise ProviderError("SMS body is empty", category=ErrorCategory.PERMANENT, code="empty-body")
        if contact.third_party:
            raise ProviderError(
                "no texts to third parties", category=ErrorCategory.PERMANENT, code="third-party"
            )
        if not content.has_opt_out_line(contact.body):
            raise ProviderError(
                "SMS body has no opt-out line (e.g. 'Reply STOP to opt out' / '回复TD退订')",
                category=ErrorCategory.PERMANENT,
                code="no-opt-out-line",
            )

    async def _send(self, contact: OutboundContact) -> SendReceipt:
        self.check(contact)
        settings = self.api.settings
        kwargs: dict[str, object] = {
            "to": contact.to,
            "body": contact.body,
            "status_callback": webhook_url(self.public_base_url, "/twilio/sms/status", contact.attempt_id),
        }
        if settings.messaging_service_sid:
            kwargs["messaging_service_sid"] = settings.messaging_service_sid
        else:
            kwargs["from_"] = settings.from_number
        message = await self.api.call(lambda: self.api.client.messages.create_async(**kwargs), posted=True)  # type: ignore[arg-type]
        return SendReceipt(provider=self.provider, provider_ref=str(message.sid), accepted_at=datetime.now(UTC))
