"""Masking of personal data (phone numbers, emails) for logs and for roles that need none."""

from __future__ import annotations


def mask_phone(value: str) -> str:
    """``+8613800138000`` -> ``+86*******8000``: country code and last four digits stay."""
    if not value:
        return value
    digits = value.lstrip("+")
    if len(digits) <= 4:
        return "*" * len(value)
    keep_head = 2 if value.startswith("+") else 0
    head = value[: keep_head + (1 if value.startswith("+") else 0)]
    tail = value[-4:]
    return head + "*" * (len(value) - len(head) - 4) + tail


def mask_email(value: str) -> str:
    """``zhang.san@example.com`` -> ``z***@example.com``."""
    local, sep, domain = value.partition("@")
    if not sep:
        return "*" * len(value)
    return (local[:1] + "***" if local else "***") + "@" + domain


def mask_contact(value: str) -> str:
    """Mask a phone number or an email address; other values pass through."""
    if "@" in value:
        return mask_email(value)
    if value.startswith("+") or value.isdigit():
        return mask_phone(value)
    return value
