"""Twilio webhooks: signatures, dedupe, order, TwiML, AMD, recordings, inbound texts."""

from __future__ import annotations

import pytest

from api.conftest import PUBLIC, Harness, call_status
from contact_engine.channels.twilio.state import CallContext
from contact_engine.domain import Outcome
from providers.twilio_fake import FakeTwilio

SID = "CA" + "5" * 32
STATUS = "/twilio/voice/status?attempt=att-1"


async def test_call_progress_in_order(harness: Harness) -> None:
    for status in ("initiated", "ringing", "in-progress"):
        assert (await harness.http.post(STATUS, call_status(SID, status))).status_code == 204
    resp = await harness.http.post(STATUS, call_status(SID, "completed", CallDuration=42))
    assert resp.status_code == 204
    reports = harness.recorder.reports
    assert [r.status for r in reports] == ["initiated", "ringing", "in-progress", "completed"]
    assert [r.final for r in reports] == [False, False, False, True]
    assert reports[-1].outcome is Outcome.CONNECTED and reports[-1].duration_s == 42.0
    assert {r.attempt_id for r in reports} == {"att-1"} and {r.provider_ref for r in reports} == {SID}


async def test_replayed_callback_changes_nothing(harness: Harness) -> None:
    form = call_status(SID, "busy")
    for _ in range(3):
        assert (await harness.http.post(STATUS, form)).status_code == 204
    assert [(r.status, r.outcome) for r in harness.recorder.reports] == [("busy", Outcome.BUSY)]


async def test_out_of_order_callbacks_never_move_backwards(harness: Harness) -> None:
    await harness.http.post(STATUS, call_status(SID, "no-answer", CallDuration=0))
    await harness.http.post(STATUS, call_status(SID, "ringing"))
    await harness.http.post(STATUS, call_status(SID, "initiated"))
    assert [(r.status, r.outcome) for r in harness.recorder.reports] == [("no-answer", Outcome.NO_ANSWER)]


async def test_forged_missing_and_misaddressed_signatures_are_refused(harness: Harness) -> None:
    form = call_status(SID, "completed")
    items = list(form.items())
    forged = await harness.http.post(STATUS, form, signature="bm90IGEgc2lnbmF0dXJl")
    missing = await harness.http.post(STATUS, form, sign=False)
    # Signed for the address the app sees, not the public one Twilio uses.
    internal = harness.http.signature(STATUS, items, base="http://internal:8000")
    misaddressed = await harness.http.post(STATUS, form, signature=internal)
    # Signed for one form, sent with another.
    good = harness.http.signature(STATUS, items)
    tampered = await harness.http.post(STATUS, call_status(SID, "busy"), signature=good)
    other_token = harness.http.__class__(harness.http.client, token="not-the-token")
    wrong_token = await other_token.post(STATUS, form)
    for resp in (forged, missing, misaddressed, tampered, wrong_token):
        assert resp.status_code == 403
    assert harness.recorder.reports == []
    # The genuine one still goes through afterwards: the refusals marked nothing as seen.
    assert (await harness.http.post(STATUS, form)).status_code == 204
    assert len(harness.recorder.reports) == 1


async def test_repeated_form_fields_are_signed_as_twilio_does(harness: Harness) -> None:
    pairs = [*call_status(SID, "ringing").items(), ("StatusCallbackEvent", "ringing"), ("StatusCallbackEvent", "answered")]
    assert (await harness.http.post(STATUS, pairs)).status_code == 204
    assert len(harness.recorder.reports) == 1


@pytest.mark.parametrize(
    ("path", "form"),
    [
        (STATUS, {"CallSid": SID}),
        (STATUS, call_status(SID, "exploded")),
        ("/twilio/voice/status", call_status(SID, "ringing")),
        (STATUS, call_status(SID, "completed", CallDuration="long")),
        ("/twilio/sms/status?attempt=s1", {"MessageSid": "SM" + "1" * 32}),
    ],
)
async def test_malformed_callbacks_are_rejected(harness: Harness, path: str, form: dict[str, str]) -> None:
    resp = await harness.http.post(path, form)
    assert resp.status_code == 400, resp.text
    assert harness.recorder.reports == []


async def test_answer_serves_script_and_press_one(harness: Harness) -> None:
    await harness.components.state.put_context(
        CallContext(attempt_id="att-1", language="zh-CN", body="您好，这是一条提醒。", third_party=False, voicemail=None)
    )
    resp = await harness.http.post("/twilio/voice/answer?attempt=att-1", {"CallSid": SID, "CallStatus": "in-progress"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/xml")
    xml = resp.text
    assert "您好，这是一条提醒。" in xml and "请按1" in xml and "<Gather" in xml
    assert f'action="{PUBLIC}/twilio/voice/gather?attempt=att-1"' in xml
    assert 'language="cmn-CN"' in xml
    unknown = await harness.http.post("/twilio/voice/answer?attempt=nobody", {"CallSid": SID})
    assert "<Hangup" in unknown.text and "<Say" not in unknown.text


async def test_press_one_is_reported_with_digits(harness: Harness) -> None:
    path = "/twilio/voice/gather?attempt=att-1"
    first = await harness.http.post(path, {"CallSid": SID, "Digits": "1"})
    await harness.http.post(path, {"CallSid": SID, "Digits": "1"})  # replay
    assert "<Say" in first.text
    [report] = harness.recorder.reports
    assert report.digits == "1" and report.status == "gather" and report.detail["wants_collector"] is True


async def test_sms_status_to_delivery_outcome(harness: Harness) -> None:
    sms = "SM" + "7" * 32
    path = "/twilio/sms/status?attempt=s1"
    await harness.http.post(path, {"MessageSid": sms, "MessageStatus": "sent"})
    await harness.http.post(path, {"MessageSid": sms, "MessageStatus": "undelivered", "ErrorCode": "30003"})
    await harness.http.post(path, {"MessageSid": sms, "MessageStatus": "sent"})
    assert [(r.status, r.outcome) for r in harness.recorder.reports] == [
        ("sent", None), ("undelivered", Outcome.UNDELIVERED)
    ]
    assert harness.recorder.reports[-1].detail == {"error_code": "30003"}


async def test_inbound_stop_records_opt_out_and_confirms_once(harness: Harness) -> None:
    form = {"From": "+8613800138000", "To": "+15005550006", "MessageSid": "SM" + "8" * 32}
    first = await harness.http.post("/twilio/sms/inbound", form | {"Body": "Stop. Thank you"})
    second = await harness.http.post("/twilio/sms/inbound", form | {"Body": "退订", "MessageSid": "SM" + "9" * 32})
    assert [o[0] for o in harness.recorder.opt_outs] == ["+8613800138000", "+8613800138000"]
    assert "<Message>" in first.text and "opted out" in first.text
    assert "<Message>" not in second.text


async def test_inbound_help_and_other_text(harness: Harness) -> None:
    form = {"From": "+8613800138001", "To": "+15005550006", "MessageSid": "SM" + "a" * 32}
    helped = await harness.http.post("/twilio/sms/inbound", form | {"Body": "HELP"})
    other = await harness.http.post("/twilio/sms/inbound", form | {"Body": "I will pay Friday"})
    assert harness.components.sms_help_text in helped.text
    assert "<Message>" not in other.text
    assert harness.recorder.opt_outs == []


async def test_opt_out_without_recorder_fails_closed(harness: Harness) -> None:
    harness.components.opt_out = None
    form = {"From": "+8613800138002", "To": "+15005550006", "Body": "STOP", "MessageSid": "SM" + "b" * 32}
    resp = await harness.http.post("/twilio/sms/inbound", form)
    assert resp.status_code == 503


async def test_amd_machine_leaves_limited_content_voicemail(harness: Harness, fake_twilio: FakeTwilio) -> None:
    from contact_engine.channels.twilio.client import TwilioApi
    from contact_engine.channels.twilio.voice import TwilioVoiceChannel

    api = await TwilioApi.open(harness.components.settings.twilio)
    try:
        harness.components.voice = TwilioVoiceChannel(api, harness.components.state)
        await harness.components.state.put_context(
            CallContext("vm-1", "en-US", "Hello.", False, "Hello, this is Ann from Acme. Please call 555-0100.")
        )
        amd = "/twilio/voice/amd?attempt=vm-1"
        await harness.http.post(amd, {"CallSid": SID, "AnsweredBy": "machine_end_beep"})
        await harness.http.post(amd, {"CallSid": SID, "AnsweredBy": "machine_end_beep"})  # replay
    finally:
        await api.aclose()
    [update] = fake_twilio.requests_to(f"/Calls/{SID}.json")
    assert "Please call 555-0100." in update.form["Twiml"][0]
    await harness.http.post("/twilio/voice/status?attempt=vm-1", call_status(SID, "completed", CallDuration=20))
    assert [r.status for r in harness.recorder.reports] == ["amd", "completed"]
    assert harness.recorder.reports[0].detail["voicemail_left"] is True
    assert harness.recorder.reports[1].outcome is Outcome.VOICEMAIL


async def test_recording_callback_is_reported_once(harness: Harness) -> None:
    form = {
        "CallSid": SID, "RecordingSid": "RE" + "c" * 32, "RecordingStatus": "completed",
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "c" * 32,
        "RecordingDuration": "31", "RecordingChannels": "2",
    }
    for _ in range(2):
        assert (await harness.http.post("/twilio/voice/recording?attempt=att-1", form)).status_code == 204
    [report] = harness.recorder.reports
    assert report.recording_ref == "RE" + "c" * 32 and report.status == "recording-completed"
    assert report.duration_s == 31.0


async def test_sink_failure_lets_the_redelivery_through(harness: Harness) -> None:
    class SinkDown(Exception):
        pass

    delivered = harness.recorder.sink

    async def failing(report: object) -> None:
        raise SinkDown

    harness.components.sink = failing
    with pytest.raises(SinkDown):
        await harness.http.post(STATUS, call_status(SID, "ringing"))
    harness.components.sink = delivered
    # Twilio (or an operator) delivers the same callback again: now it counts, in order.
    assert (await harness.http.post(STATUS, call_status(SID, "ringing"))).status_code == 204
    assert (await harness.http.post(STATUS, call_status(SID, "ringing"))).status_code == 204
    await harness.http.post(STATUS, call_status(SID, "completed"))
    await harness.http.post(STATUS, call_status(SID, "initiated"))
    assert [r.status for r in harness.recorder.reports] == ["ringing", "completed"]
