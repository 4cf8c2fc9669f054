"""Build the real provider adapters the settings configure.

No credentials -> no real adapters: the engine uses the simulator for those channels.
Half-configured credentials already fail when the settings load (``config.py``
validators), with one line naming the missing variables.
"""

from __future__ import annotations

import ssl
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from contact_engine.channels.base import ChannelAdapter, ReportSink
from contact_engine.config import Settings
from contact_engine.domain import Channel
from contact_engine.errors import ConfigError

if TYPE_CHECKING:
    from contact_engine.channels.twilio.client import TwilioApi
    from contact_engine.channels.twilio.state import TwilioState
    from contact_engine.channels.twilio.voice import TwilioVoiceChannel


@dataclass
class BuiltChannels:
    """The real adapters, by channel; a channel missing here has no provider configured.

    Attributes:
        adapters: real adapters by channel.
        twilio: the shared Twilio client when Twilio is configured (recordings use it).
        voice: the Twilio voice adapter (the webhooks redirect live calls through it).
    """

    adapters: dict[Channel, ChannelAdapter] = field(default_factory=dict)
    twilio: TwilioApi | None = None
    voice: TwilioVoiceChannel | None = None

    @property
    def simulated(self) -> bool:
        """True when no provider is configured at all (the engine runs on the simulator)."""
        return not self.adapters


async def build_channels(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    state: TwilioState | None = None,
    sink: ReportSink | None = None,
    smtp_tls_context: ssl.SSLContext | None = None,
) -> BuiltChannels:
    """Build the adapters of every configured provider; their clients close with ``stack``.

    Args:
        settings: the whole configuration.
        stack: the composition root's exit stack (clients are closed on shutdown).
        state: the :class:`TwilioState` shared with the webhooks (default: in-memory).
        sink: receives email delivery outcomes (Twilio reports arrive through webhooks).
        smtp_tls_context: trust for the SMTP server's certificate (default: system CAs).

    Raises:
        ConfigError: a provider is configured but cannot serve (e.g. voice without a number).
    """
    built = BuiltChannels()
    if settings.twilio.configured:
        from contact_engine.channels.twilio.client import TwilioApi
        from contact_engine.channels.twilio.sms import TwilioSmsChannel
        from contact_engine.channels.twilio.state import MemoryTwilioState
        from contact_engine.channels.twilio.voice import TwilioVoiceChannel

        api = await TwilioApi.open(settings.twilio)
        stack.push_async_callback(api.aclose)
        built.twilio = api
        twilio_state = state or MemoryTwilioState()
        built.adapters[Channel.SMS] = TwilioSmsChannel(api)
        if settings.twilio.from_number:
            voice = TwilioVoiceChannel(api, twilio_state)
            built.voice = voice
            built.adapters[Channel.VOICE] = voice
        elif not settings.twilio.messaging_service_sid:
            raise ConfigError("Twilio voice needs CONTACT_ENGINE_TWILIO__FROM_NUMBER")
    if settings.smtp.configured:
        from contact_engine.channels.email.smtp import SmtpEmailChannel

        built.adapters[Channel.EMAIL] = SmtpEmailChannel(settings.smtp, sink=sink, tls_context=smtp_tls_context)
    return built
