"""TwilioSmsChannel against the local Twilio server; opt-out keyword recognition."""

from __future__ import annotations

import pytest

from contact_engine.channels.base import OutboundContact
from contact_engine.channels.twilio.client import TwilioApi
from contact_engine.channels.twilio.content import has_opt_out_line, is_help, is_opt_out
from contact_engine.channels.twilio.sms import TwilioSmsChannel
from contact_engine.domain import Channel, Mode
from contact_engine.errors import ErrorCategory, ProviderError
from providers.conftest import twilio_settings
from providers.twilio_fake import FakeTwilio


def text(body: str, **kw: object) -> OutboundContact:
    values: dict[str, object] = {
        "attempt_id": "sms-1", "account_id": "A1", "party_id": "A1/p1", "channel": Channel.SMS,
        "mode": Mode.AUTOMATED, "to": "+8613800138000", "language": "zh-CN", "script": "reminder",
        "body": body,
    }
    values.update(kw)
    return OutboundContact(**values)  # type: ignore[arg-type]


async def test_sms_is_sent_with_status_callback(fake_twilio: FakeTwilio, twilio_api: TwilioApi) -> None:
    receipt = await TwilioSmsChannel(twilio_api).send(text("您的账单已出，请及时处理。回复TD退订"))
    assert receipt.provider_ref.startswith("SM")
    [req] = fake_twilio.requests_to("/Messages.json")
    assert req.form["Body"] == ["您的账单已出，请及时处理。回复TD退订"]
    assert req.form["StatusCallback"] == ["https://hooks.example.com/twilio/sms/status?attempt=sms-1"]
    assert req.form["From"] == ["+15005550006"]


async def test_messaging_service_replaces_from(fake_twilio: FakeTwilio) -> None:
    sid = "MG" + "a" * 32
    api = await TwilioApi.open(twilio_settings(fake_twilio, from_number=None, messaging_service_sid=sid))
    try:
        await TwilioSmsChannel(api).send(text("Payment reminder. Reply STOP to opt out."))
    finally:
        await api.aclose()
    [req] = fake_twilio.requests_to("/Messages.json")
    assert req.form["MessagingServiceSid"] == [sid] and "From" not in req.form


@pytest.mark.parametrize(
    ("body", "code"),
    [("您的账单已出，请及时处理。", "no-opt-out-line"), ("   ", "empty-body")],
)
async def test_body_without_opt_out_line_is_refused(fake_twilio: FakeTwilio, twilio_api: TwilioApi, body: str, code: str) -> None:
    with pytest.raises(ProviderError) as info:
        await TwilioSmsChannel(twilio_api).send(text(body))
    assert info.value.code == code and info.value.category is ErrorCategory.PERMANENT
    assert fake_twilio.requests_to("/Messages.json") == []


async def test_no_texts_to_third_parties(fake_twilio: FakeTwilio, twilio_api: TwilioApi) -> None:
    with pytest.raises(ProviderError) as info:
        await TwilioSmsChannel(twilio_api).send(text("Hello. Reply STOP to opt out.", third_party=True))
    assert info.value.code == "third-party"
    assert fake_twilio.requests_to("/Messages.json") == []


async def test_recipient_who_replied_stop_at_twilio_is_permanent(fake_twilio: FakeTwilio, twilio_api: TwilioApi) -> None:
    fake_twilio.script("/Messages.json", 400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400})
    with pytest.raises(ProviderError) as info:
        await TwilioSmsChannel(twilio_api).send(text("Reminder. Reply STOP to opt out."))
    assert info.value.code == "21610" and info.value.category is ErrorCategory.PERMANENT


@pytest.mark.parametrize(
    "reply",
    ["STOP", "stop", "Stop.", "Stop. Thank you", " STOP!! ", "unsubscribe", "CANCEL", "End", "quit",
     "STOPALL", "stop all", "退订", "退订。", "TD", "td", "T", "Opt out", "ＳＴＯＰ", "停止", "No más"],
)
def test_opt_out_replies(reply: str) -> None:
    assert is_opt_out(reply)


@pytest.mark.parametrize("reply", ["Please don't stop", "I will pay tomorrow", "", "好的", "Tomorrow", "HELP"])
def test_not_opt_out(reply: str) -> None:
    assert not is_opt_out(reply)


def test_help_and_opt_out_line() -> None:
    assert is_help("HELP") and is_help("help?") and is_help("帮助")
    assert not is_help("STOP")
    assert has_opt_out_line("Reply STOP to opt out") and has_opt_out_line("回复 TD 退订")
    assert not has_opt_out_line("Please pay now")
