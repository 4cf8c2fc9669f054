"""Collection emails over SMTP (aiosmtplib): STARTTLS or implicit TLS, authentication.

Every message carries an opt-out footer in its language and ``List-Unsubscribe`` (plus
``List-Unsubscribe-Post`` for one-click when an https unsubscribe URL is configured). The
server's answer becomes a :class:`ProviderReport`: ``delivered`` (accepted by the relay,
with the SMTP code) or ``undelivered`` (refused, with the code).
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from contact_engine.channels.base import (
    ChannelAdapter,
    OutboundContact,
    ProviderReport,
    ReportSink,
    SendReceipt,
    TokenBucket,
)
from contact_engine.channels.email import templates
from contact_engine.channels.email.unsubscribe import unsubscribe_link
from contact_engine.config import SmtpSettings
from contact_engine.domain import Channel, Outcome
from contact_engine.errors import ConfigError, ErrorCategory, ProviderError
from contact_engine.privacy import mask_email


class SmtpEmailChannel(ChannelAdapter):
    """Sends one email per contact through the configured SMTP server."""

    provider = "smtp"
    channels = frozenset({Channel.EMAIL})

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        sink: ReportSink | None = None,
        tls_context: ssl.SSLContext | None = None,
        pacing: TokenBucket | None = None,
    ) -> None:
        """Args:
        settings: the SMTP part of the settings (host, port, TLS mode, credentials).
        sink: receives the delivery outcome of every message.
        tls_context: trust for the server's certificate (default: the system's CAs).
        pacing: an optional rate limit.
        """
        if not settings.configured or not settings.from_address:
            raise ConfigError("SMTP is not configured: set CONTACT_ENGINE_SMTP__HOST and FROM_ADDRESS")
        if settings.unsubscribe_base_url and settings.unsubscribe_secret is None:
            # Unsigned links would let anyone unsubscribe anyone.
            raise ConfigError("SMTP unsubscribe links need CONTACT_ENGINE_SMTP__UNSUBSCRIBE_SECRET")
        super().__init__(pacing=pacing, timeout_s=settings.timeout_s)
        self.settings = settings
        self.sink = sink
        self.tls_context = tls_context

    def unsubscribe_url(self, contact: OutboundContact) -> str | None:
        """The one-click unsubscribe link of this message, when a base URL is configured."""
        base = self.settings.unsubscribe_base_url
        secret = self.settings.unsubscribe_secret
        if not base or secret is None:
            return None
        return unsubscribe_link(base, secret.get_secret_value(), contact.party_id, contact.attempt_id)

    def build_message(self, contact: OutboundContact) -> EmailMessage:
        """The message as sent: body, opt-out footer, unsubscribe headers.

        Raises:
            ProviderError: PERMANENT for an empty body or a third-party recipient.
        """
        if not contact.body.strip():
            raise ProviderError("email body is empty", category=ErrorCategory.PERMANENT, code="empty-body")
        if contact.third_party:
            raise ProviderError("no emails to third parties", category=ErrorCategory.PERMANENT, code="third-party")
        sender = self.settings.from_address or ""
        url = self.unsubscribe_url(contact)
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = contact.to
        msg["Subject"] = contact.subject or templates.default_subject(contact.language)
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = f"<{contact.attempt_id}@{sender.rpartition('@')[2] or 'contact-engine'}>"
        msg["Content-Language"] = contact.language
        targets = [f"<mailto:{sender}?subject=unsubscribe>"]
        if url:
            targets.insert(0, f"<{url}>")
            if url.startswith("https://"):
                msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
        msg["List-Unsubscribe"] = ", ".join(targets)
        msg.set_content(contact.body.rstrip() + "\n\n--\n" + templates.opt_out_footer(contact.language, url) + "\n")
        return msg

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            use_tls=s.use_tls,
            start_tls=False if s.use_tls else s.starttls,
            validate_certs=s.validate_certs,
            tls_context=self.tls_context,
            timeout=s.timeout_s,
        )

    async def _report(self, contact: OutboundContact, ref: str, outcome: Outcome, code: int, text: str) -> None:
        if self.sink is not None:
            await self.sink(
                ProviderReport(
                    attempt_id=contact.attempt_id, provider=self.provider, provider_ref=ref,
                    status=outcome.value, at=datetime.now(UTC), outcome=outcome,
                    detail={"smtp_code": code, "smtp_message": text},
                )
            )

    async def _send(self, contact: OutboundContact) -> SendReceipt:
        msg = self.build_message(contact)
        ref = str(msg["Message-ID"])
        connected = False
        try:
            async with self._client() as smtp:
                connected = True
                response = await smtp.send_message(msg)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            await self._report(contact, ref, Outcome.UNDELIVERED, refused.code, refused.message)
            raise ProviderError(
                f"smtp {refused.code}: recipient {mask_email(contact.to)} refused",
                category=ErrorCategory.RETRYABLE if 400 <= refused.code < 500 else ErrorCategory.PERMANENT,
                code=str(refused.code),
            ) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise ProviderError(f"smtp {exc.code}: authentication failed", category=ErrorCategory.PERMANENT, code=str(exc.code)) from None
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError) as exc:
            if isinstance(exc.__cause__, ssl.SSLError):
                raise ProviderError(f"smtp: TLS failed: {exc.__cause__.reason}", category=ErrorCategory.PERMANENT, code="tls") from None
            raise ProviderError(f"smtp: cannot connect: {exc}", category=ErrorCategory.RETRYABLE) from None
        except aiosmtplib.SMTPServerDisconnected as exc:
            # Gone before or during DATA: the message may or may not have been taken.
            raise ProviderError(
                f"smtp: server disconnected: {exc}", category=ErrorCategory.UNKNOWN, accepted=connected
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                await self._report(contact, ref, Outcome.UNDELIVERED, exc.code, exc.message)
            raise ProviderError(
                f"smtp {exc.code}: {exc.message}",
                category=ErrorCategory.RETRYABLE if 400 <= exc.code < 500 else ErrorCategory.PERMANENT,
                code=str(exc.code),
            ) from None
        except ssl.SSLError as exc:
            # An untrusted or wrong certificate: configuration, not a passing fault.
            raise ProviderError(f"smtp: TLS failed: {exc.reason}", category=ErrorCategory.PERMANENT, code="tls") from None
        except aiosmtplib.SMTPException as exc:
            raise ProviderError(f"smtp: {exc}", category=ErrorCategory.RETRYABLE) from None
        _errors, text = response
        await self._report(contact, ref, Outcome.DELIVERED, 250, text)
        return SendReceipt(provider=self.provider, provider_ref=ref, accepted_at=datetime.now(UTC))
