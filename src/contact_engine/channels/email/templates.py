"""Per-language parts of a collection email: default subject and the opt-out footer."""

from __future__ import annotations

_SUBJECT = {"zh": "账户通知", "en": "Account notice"}
_FOOTER_URL = {
    "zh": "如不希望再通过此邮箱收到我们的邮件，请点击退订：{url}",
    "en": "To stop emails from us to this address, unsubscribe here: {url}",
}
_FOOTER_REPLY = {
    "zh": "如不希望再通过此邮箱收到我们的邮件，请直接回复“退订”。",
    "en": 'To stop emails from us to this address, reply with "unsubscribe".',
}


def _lang(language: str) -> str:
    return "zh" if language.lower().startswith("zh") else "en"


def default_subject(language: str) -> str:
    """A neutral subject (no debt words: anyone may see a subject line)."""
    return _SUBJECT[_lang(language)]


def opt_out_footer(language: str, unsubscribe_url: str | None) -> str:
    """The opt-out statement every email carries (Reg F F20, QA-E6)."""
    if unsubscribe_url:
        return _FOOTER_URL[_lang(language)].format(url=unsubscribe_url)
    return _FOOTER_REPLY[_lang(language)]
