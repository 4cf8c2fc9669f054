"""One asynchronous Twilio REST client per process, with our own timeout and retry policy.

twilio-python's ``AsyncTwilioHttpClient`` ignores its ``timeout`` and, with ``max_retries``,
retries POSTs on 5xx (which can place a call twice). So: no client-side retries, every
request bounded with ``asyncio.timeout``, and only 429 / 20429 (never processed by Twilio)
retried with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from contact_engine.channels.base import TokenBucket
from contact_engine.config import TwilioSettings
from contact_engine.errors import ConfigError, ErrorCategory, ProviderError

T = TypeVar("T")

#: Twilio error codes that mean the request itself is wrong: retrying cannot help.
PERMANENT_CODES = frozenset(
    {
        20003,  # authentication failed
        20404,  # resource not found
        21211,  # invalid To number
        21214,  # To number cannot be reached
        21215,  # geo permission
        21216,  # blocked number
        21217,  # invalid phone number
        21401,  # invalid phone number
        21408,  # permission to send to region not enabled
        21421,  # invalid phone number
        21606,  # From number cannot send SMS
        21608,  # unverified number (trial account)
        21610,  # recipient replied STOP: Twilio blocks further messages
        21612,  # To cannot be reached from this From
        21614,  # To is not a mobile number
        30007,  # carrier filtering
    }
)
RATE_LIMIT_CODE = 20429

#: Requests leave a little slower than the configured rate, so that network jitter between
#: us and Twilio never puts more than the rate into any one-second window at Twilio.
PACING_MARGIN = 1.05


def paced(rate_per_s: float) -> TokenBucket:
    """The pacing of one Twilio account: ``rate_per_s`` with a safety margin, no burst."""
    return TokenBucket(rate_per_s / PACING_MARGIN)


class _TwilioHttpClient(AsyncTwilioHttpClient):
    """twilio-python's async client, sending Basic auth as a header.

    The stock client builds ``aiohttp.BasicAuth``, deprecated in aiohttp 3.14 (a warning on
    every request); the header it sends is the same.
    """

    async def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the parent's signature
        allow_redirects: bool = False,
    ) -> Response:
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = aiohttp.encode_basic_auth(auth[0], auth[1])
        return await super().request(
            method, url, params=params, data=data, headers=headers, auth=None,
            timeout=timeout, allow_redirects=allow_redirects,
        )


def classify(exc: TwilioRestException, *, posted: bool) -> ProviderError:
    """Map a Twilio REST error to a :class:`ProviderError` with its :class:`ErrorCategory`.

    Args:
        exc: the error twilio-python raised.
        posted: True for requests that create something (a call, a message): a server
            error then leaves it unknown whether Twilio acted.
    """
    code = exc.code
    text = f"twilio {exc.status}" + (f" code {code}" if code else "") + f": {exc.msg}"
    if exc.status == 429 or code == RATE_LIMIT_CODE:
        return ProviderError(text, category=ErrorCategory.RETRYABLE, code=str(code or 429))
    if exc.status >= 500:
        if posted:
            return ProviderError(
                text, category=ErrorCategory.UNKNOWN, code=str(code or exc.status), accepted=True
            )
        return ProviderError(text, category=ErrorCategory.RETRYABLE, code=str(code or exc.status))
    return ProviderError(text, category=ErrorCategory.PERMANENT, code=str(code or exc.status))


class TwilioApi:
    """Holds the Twilio client for one event loop; build with :meth:`open`, end with :meth:`aclose`.

    Attributes:
        client: twilio-python's ``Client`` bound to the asynchronous HTTP client.
        settings: the Twilio part of the settings.
    """

    def __init__(
        self,
        settings: TwilioSettings,
        http: AsyncTwilioHttpClient,
        *,
        max_rate_limit_retries: int = 4,
        backoff_base_s: float = 0.5,
    ) -> None:
        if not settings.configured or settings.auth_token is None:
            raise ConfigError("Twilio is not configured: set CONTACT_ENGINE_TWILIO__ACCOUNT_SID")
        self.settings = settings
        self._http = http
        self.client = Client(settings.account_sid, settings.auth_token.get_secret_value(), http_client=http)
        if settings.api_base_url:
            self.client.api.base_url = settings.api_base_url.rstrip("/")
        self.max_rate_limit_retries = max_rate_limit_retries
        self.backoff_base_s = backoff_base_s
        self.rate_limited = 0

    @classmethod
    async def open(cls, settings: TwilioSettings, **kw: float | int) -> TwilioApi:
        """Build the client inside the running loop (aiohttp needs one)."""
        return cls(settings, _TwilioHttpClient(), **kw)  # type: ignore[arg-type]

    @property
    def account_sid(self) -> str:
        return self.settings.account_sid or ""

    @property
    def auth(self) -> tuple[str, str]:
        assert self.settings.auth_token is not None
        return (self.account_sid, self.settings.auth_token.get_secret_value())

    @property
    def base_url(self) -> str:
        return str(self.client.api.base_url)

    async def call(self, make: Callable[[], Awaitable[T]], *, posted: bool) -> T:
        """Run one request: bounded in time, 429 retried with backoff, errors classified.

        Args:
            make: builds the request coroutine (called again for each try).
            posted: True when the request creates or changes something at Twilio.

        Raises:
            ProviderError: the request failed; ``accepted`` says whether Twilio may have acted.
        """
        timeout_s = self.settings.request_timeout_s
        for attempt in range(self.max_rate_limit_retries + 1):
            try:
                async with asyncio.timeout(timeout_s):
                    return await make()
            except TwilioRestException as exc:
                error = classify(exc, posted=posted)
                rate_limited = exc.status == 429 or exc.code == RATE_LIMIT_CODE
                if not rate_limited or attempt == self.max_rate_limit_retries:
                    raise error from None
                self.rate_limited += 1
            except TimeoutError:
                raise ProviderError(
                    f"twilio: no answer within {timeout_s:g} s",
                    category=ErrorCategory.UNKNOWN if posted else ErrorCategory.RETRYABLE,
                    accepted=posted,
                ) from None
            except aiohttp.ClientConnectorError as exc:
                # The connection was never made: Twilio cannot have acted.
                raise ProviderError(
                    f"twilio: cannot connect: {exc.os_error}", category=ErrorCategory.RETRYABLE
                ) from None
            except aiohttp.ClientError as exc:
                raise ProviderError(
                    f"twilio: connection failed: {type(exc).__name__}",
                    category=ErrorCategory.UNKNOWN if posted else ErrorCategory.RETRYABLE,
                    accepted=posted,
                ) from None
            # 20429: the request was never processed; back off with jitter and try again.
            delay = self.backoff_base_s * (2**attempt)
            await asyncio.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311 - jitter
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        """Close the aiohttp session."""
        await self._http.close()
