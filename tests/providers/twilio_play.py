"""Play Twilio's side after the fake accepted calls and texts: post the signed callbacks a
real Twilio would send, to exactly the URLs each request carried."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlencode, urlsplit

from multidict import MultiDict
from twilio.request_validator import RequestValidator

from providers.twilio_fake import FakeTwilio

#: posts a form to a path+query of the app with the given headers; returns the status code
Poster = Callable[[str, str, dict[str, str]], Awaitable[int]]


class TwilioPlayer:
    """Sends the callbacks of each accepted call and message once."""

    def __init__(self, fake: FakeTwilio, public_base_url: str, post: Poster) -> None:
        self.fake = fake
        self.public = public_base_url.rstrip("/")
        self.post = post
        self.validator = RequestValidator(fake.auth_token)
        self._played: set[int] = set()

    async def _send(self, url: str, form: dict[str, str]) -> int:
        assert url.startswith(self.public), url
        signature = self.validator.compute_signature(url, MultiDict(form))
        parts = urlsplit(url)
        headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
        return await self.post(f"{parts.path}?{parts.query}", urlencode(form), headers)

    async def play(self, call_statuses: Sequence[str] = ("initiated", "ringing", "in-progress", "completed"),
                   message_statuses: Sequence[str] = ("sent", "delivered")) -> int:
        """Play every call and message not played yet; returns how many were played."""
        played = 0
        for i, request in enumerate(self.fake.received):
            if i in self._played or request.method != "POST":
                continue
            sid = self.fake.created_sids.get(i)
            if sid is None:
                continue
            self._played.add(i)
            played += 1
            base = {"AccountSid": self.fake.account_sid}
            if request.operation.endswith("/Calls.json"):
                url = request.form["StatusCallback"][0]
                for status in call_statuses:
                    form = base | {"CallSid": sid, "CallStatus": status}
                    if status == "completed":
                        form["CallDuration"] = "30"
                    assert await self._send(url, form) < 300
            elif request.operation.endswith("/Messages.json"):
                url = request.form["StatusCallback"][0]
                for status in message_statuses:
                    assert await self._send(url, base | {"MessageSid": sid, "MessageStatus": status}) < 300
        return played
