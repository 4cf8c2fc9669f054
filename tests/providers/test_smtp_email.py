"""SmtpEmailChannel against a real SMTP server (aiosmtpd) with TLS and AUTH."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from contact_engine.channels.base import OutboundContact, ProviderReport
from contact_engine.channels.email.smtp import SmtpEmailChannel
from contact_engine.channels.email.unsubscribe import unsubscribe_token
from contact_engine.config import SmtpSettings
from contact_engine.domain import Channel, Mode, Outcome
from contact_engine.errors import ConfigError, ErrorCategory, ProviderError
from providers.smtp_server import PASSWORD, USER, Mailbox, TlsPair, make_tls, start_smtp


@pytest.fixture(scope="module")
def tls() -> TlsPair:
    return make_tls()


@pytest.fixture(params=["starttls", "implicit"])
def smtp_server(request: pytest.FixtureRequest, tls: TlsPair) -> Iterator[tuple[Mailbox, SmtpSettings]]:
    mailbox = Mailbox()
    implicit = request.param == "implicit"
    controller = start_smtp(mailbox, tls, implicit=implicit)
    settings = SmtpSettings(
        host="127.0.0.1", port=controller.port, username=USER, password=SecretStr(PASSWORD),
        starttls=not implicit, use_tls=implicit, from_address="notices@lender.example",
        unsubscribe_base_url="https://lender.example/unsubscribe", unsubscribe_secret=SecretStr("k3y"),
        timeout_s=10,
    )
    try:
        yield mailbox, settings
    finally:
        controller.stop()


def email(to: str = "zhang.san@example.com", **kw: object) -> OutboundContact:
    values: dict[str, object] = {
        "attempt_id": "em-1", "account_id": "A1", "party_id": "A1/p1", "channel": Channel.EMAIL,
        "mode": Mode.AUTOMATED, "to": to, "language": "zh-CN", "script": "reminder",
        "body": "张先生您好，您的账户有一笔待处理款项。", "subject": "账户提醒",
    }
    values.update(kw)
    return OutboundContact(**values)  # type: ignore[arg-type]


async def test_delivered_over_tls_with_auth_and_unsubscribe_headers(smtp_server: tuple[Mailbox, SmtpSettings], tls: TlsPair) -> None:
    mailbox, settings = smtp_server
    reports: list[ProviderReport] = []

    async def sink(r: ProviderReport) -> None:
        reports.append(r)

    channel = SmtpEmailChannel(settings, sink=sink, tls_context=tls.client)
    receipt = await channel.send(email())
    [msg] = mailbox.messages
    assert mailbox.envelopes == [("notices@lender.example", ["zhang.san@example.com"])]
    assert mailbox.auth_attempts == 1
    assert msg["Subject"] == "账户提醒" and msg["Message-ID"] == receipt.provider_ref == "<em-1@lender.example>"
    unsubscribe = msg["List-Unsubscribe"]
    token = unsubscribe_token("k3y", "A1/p1")
    assert unsubscribe.startswith(f"<https://lender.example/unsubscribe?party=A1%2Fp1&attempt=em-1&token={token}>")
    assert "<mailto:notices@lender.example?subject=unsubscribe>" in unsubscribe
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = msg.get_content()
    assert "待处理款项" in body and "退订" in body and "https://lender.example/unsubscribe?" in body
    [report] = reports
    assert report.outcome is Outcome.DELIVERED and report.detail["smtp_code"] == 250


async def test_refused_recipient_is_undelivered_with_code(smtp_server: tuple[Mailbox, SmtpSettings], tls: TlsPair) -> None:
    mailbox, settings = smtp_server
    reports: list[ProviderReport] = []

    async def sink(r: ProviderReport) -> None:
        reports.append(r)

    channel = SmtpEmailChannel(settings, sink=sink, tls_context=tls.client)
    with pytest.raises(ProviderError) as info:
        await channel.send(email("nobody@bounce.example"))
    assert info.value.code == "550" and info.value.category is ErrorCategory.PERMANENT
    assert [(r.outcome, r.detail["smtp_code"]) for r in reports] == [(Outcome.UNDELIVERED, 550)]
    assert mailbox.messages == []


async def test_wrong_password_is_permanent(smtp_server: tuple[Mailbox, SmtpSettings], tls: TlsPair) -> None:
    mailbox, settings = smtp_server
    bad = settings.model_copy(update={"password": SecretStr("wrong")})
    with pytest.raises(ProviderError) as info:
        await SmtpEmailChannel(bad, tls_context=tls.client).send(email())
    assert info.value.category is ErrorCategory.PERMANENT and info.value.code == "535"
    assert mailbox.messages == []


async def test_untrusted_certificate_is_refused(smtp_server: tuple[Mailbox, SmtpSettings]) -> None:
    mailbox, settings = smtp_server
    with pytest.raises(ProviderError) as info:
        await SmtpEmailChannel(settings).send(email())  # the system CAs do not know the test CA
    assert info.value.code == "tls" and info.value.category is ErrorCategory.PERMANENT
    assert mailbox.messages == []


async def test_english_footer_and_third_party_refused(smtp_server: tuple[Mailbox, SmtpSettings], tls: TlsPair) -> None:
    mailbox, settings = smtp_server
    channel = SmtpEmailChannel(settings, tls_context=tls.client)
    await channel.send(email(language="en-US", subject=None, body="Hello Mr Zhang."))
    [msg] = mailbox.messages
    assert msg["Subject"] == "Account notice"
    assert "unsubscribe here: https://lender.example/unsubscribe?" in msg.get_content()
    with pytest.raises(ProviderError) as info:
        await channel.send(email(third_party=True))
    assert info.value.code == "third-party" and len(mailbox.messages) == 1


async def test_no_server_is_retryable() -> None:
    from providers.smtp_server import free_port

    settings = SmtpSettings(host="127.0.0.1", port=free_port(), from_address="a@b.example", starttls=False, timeout_s=5)
    with pytest.raises(ProviderError) as info:
        await SmtpEmailChannel(settings).send(email())
    assert info.value.category is ErrorCategory.RETRYABLE and not info.value.accepted
    await asyncio.sleep(0)


def test_unsigned_unsubscribe_links_are_refused_at_start() -> None:
    settings = SmtpSettings(host="h", from_address="a@b.example", unsubscribe_base_url="https://x/u")
    with pytest.raises(ConfigError, match="UNSUBSCRIBE_SECRET"):
        SmtpEmailChannel(settings)
