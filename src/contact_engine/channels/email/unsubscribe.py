"""Signed unsubscribe links: only the party a message went to can opt out with it."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode


def unsubscribe_token(secret: str, party_id: str) -> str:
    """An HMAC-SHA256 token for ``party_id`` (url-safe, 32 characters)."""
    mac = hmac.new(secret.encode(), f"email-unsubscribe\n{party_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode()[:32]


def token_valid(secret: str, party_id: str, token: str) -> bool:
    """Constant-time check of a token from a link."""
    return hmac.compare_digest(unsubscribe_token(secret, party_id), token)


def unsubscribe_link(base_url: str, secret: str, party_id: str, attempt_id: str) -> str:
    """``<base>?party=...&attempt=...&token=...``."""
    query = urlencode({"party": party_id, "attempt": attempt_id, "token": unsubscribe_token(secret, party_id)})
    return f"{base_url}{'&' if '?' in base_url else '?'}{query}"
