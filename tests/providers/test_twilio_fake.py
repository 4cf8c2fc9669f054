"""The local Twilio server refuses what Twilio's OpenAPI document does not allow."""

from __future__ import annotations

import aiohttp
import pytest

from providers.conftest import ACCOUNT_SID, AUTH_TOKEN
from providers.twilio_fake import FakeTwilio, load_operations

CALLS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
AUTH = {"Authorization": aiohttp.encode_basic_auth(ACCOUNT_SID, AUTH_TOKEN)}


def test_document_is_parsed() -> None:
    ops = {(op.method, op.template) for op in load_operations()}
    assert ("POST", "/2010-04-01/Accounts/{AccountSid}/Calls.json") in ops
    assert ("DELETE", "/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json") in ops
    assert ("PUT", "/2010-04-01/Accounts/{AccountSid}/Calls.json") not in ops


@pytest.mark.parametrize(
    ("method", "path", "form", "headers", "problem"),
    [
        ("POST", CALLS, {"To": "+1", "From": "+2", "Url": "https://x", "Colour": "blue"}, AUTH, "unknown form parameter Colour"),
        ("POST", CALLS, {"To": "+1", "Url": "https://x"}, AUTH, "missing required ['From']"),
        ("POST", CALLS, {"To": "+1", "From": "+2", "Method": "PATCH"}, AUTH, "not in"),
        ("POST", CALLS, {"To": "+1", "From": "+2", "Timeout": "soon"}, AUTH, "not an integer"),
        ("PUT", CALLS, {"To": "+1", "From": "+2"}, AUTH, "method not allowed"),
        ("POST", "/2010-04-01/Accounts/AC1/Calls.json", {"To": "+1", "From": "+2"}, AUTH, "does not match"),
        ("POST", "/2010-04-01/Accounts/" + ACCOUNT_SID + "/Faxes.json", {"To": "+1"}, AUTH, "no such path"),
        ("POST", CALLS, {"To": "+1", "From": "+2"}, {}, "missing Basic auth"),
        ("POST", CALLS, {"To": "+1", "From": "+2"}, {"Authorization": aiohttp.encode_basic_auth(ACCOUNT_SID, "x")}, "wrong credentials"),
    ],
)
async def test_forbidden_requests_are_recorded_as_violations(
    fake_twilio: FakeTwilio, method: str, path: str, form: dict[str, str], headers: dict[str, str], problem: str
) -> None:
    async with aiohttp.ClientSession() as session, session.request(
        method, fake_twilio.base_url + path, data=form, headers=headers
    ) as resp:
        assert resp.status in (400, 401)
    assert any(problem in v for v in fake_twilio.violations), fake_twilio.violations
    assert fake_twilio.received == []
    fake_twilio.violations.clear()  # expected here; any other violation fails its test


async def test_allowed_request_passes(fake_twilio: FakeTwilio) -> None:
    form = [("To", "+1"), ("From", "+2"), ("Url", "https://x"), ("StatusCallbackEvent", "ringing"), ("StatusCallbackEvent", "answered")]
    async with aiohttp.ClientSession() as session, session.post(fake_twilio.base_url + CALLS, data=form, headers=AUTH) as resp:
        assert resp.status == 201
        body = await resp.json()
    assert body["sid"].startswith("CA")
    [received] = fake_twilio.received
    assert received.form["StatusCallbackEvent"] == ["ringing", "answered"]
