"""What callers hear and texts say: opt-out keywords, content checks, TwiML.

Pure functions, no I/O. The script renderer (``contact_engine.scripts``) produces the
bodies; this module checks them at the provider boundary (fail closed) and wraps them in
TwiML.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from twilio.twiml.voice_response import VoiceResponse

#: Replies that revoke consent to texts (TCPA / Reg F F19, Twilio's own list, Chinese forms).
OPT_OUT_KEYWORDS = frozenset(
    {
        "stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout",
        "opt out", "opt-out", "stop all", "unsub", "no mas", "no más", "退订", "退定", "td", "t",
        "取消", "停止", "不要再发",
    }
)
HELP_KEYWORDS = frozenset({"help", "info", "帮助", "bz"})

_PUNCT_TAIL = re.compile(r"[\s\W_]+", re.UNICODE)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    return text


def _first_phrase(text: str) -> str:
    """The text up to its first sentence break, stripped of punctuation ("Stop. Thanks" -> "stop")."""
    norm = _normalise(text)
    head = re.split(r"[.!?,;:。！？，；：\n]", norm, maxsplit=1)[0]
    return _PUNCT_TAIL.sub(" ", head).strip()


def is_opt_out(text: str) -> bool:
    """True when an inbound text asks to stop: case- and punctuation-insensitive.

    The first phrase or the whole message (without punctuation) must be an opt-out keyword,
    so "Stop. Thank you" counts and "don't stop calling" does not.
    """
    whole = _PUNCT_TAIL.sub(" ", _normalise(text)).strip()
    first = _first_phrase(text)
    return any(candidate in OPT_OUT_KEYWORDS for candidate in (first, whole) if candidate) or (
        first.replace(" ", "") in {"optout", "stopall"}
    )


def is_help(text: str) -> bool:
    """True when an inbound text asks for help."""
    return _first_phrase(text) in HELP_KEYWORDS


#: An SMS body carries its opt-out line when it names one of these (QA-E6, Reg F F20).
_OPT_OUT_LINE = re.compile(r"(reply\s+stop|text\s+stop|回复\s*(td|t|退订|stop)|退订)", re.IGNORECASE)


def has_opt_out_line(body: str) -> bool:
    """True when a text tells the reader how to opt out ("Reply STOP ...", "回复TD退订")."""
    return bool(_OPT_OUT_LINE.search(unicodedata.normalize("NFKC", body)))


#: Words that reveal a debt; third parties and voicemails must never hear them (F17, F22).
DEBT_WORDS = (
    "debt", "owe", "overdue", "collection", "collector", "balance", "arrears", "payment due",
    "欠款", "债", "逾期", "催收", "欠费", "还款", "账单", "拖欠",
)


def debt_words_in(text: str) -> list[str]:
    """The debt words found in ``text`` (empty when it is third-party-safe)."""
    lowered = _normalise(text)
    return [w for w in DEBT_WORDS if w in lowered]


_LCM_TEMPLATES = {
    "zh": "您好，我是{business_name}的{agent_name}，请您回电{callback_number}。谢谢。",
    "en": "Hello, this is {agent_name} from {business_name}. Please call us back at {callback_number}. Thank you.",
}
LCM_FIELDS = ("business_name", "agent_name", "callback_number")


def limited_content_voicemail(language: str, variables: Mapping[str, str]) -> str | None:
    """The limited-content message (Reg F F22) for ``language``, or None when it cannot be built.

    Only the allowed parts: a business name that does not indicate collection, a natural
    person's name, a request to call back, a number. Missing parts or a business name with
    debt words -> None (the caller hangs up instead of leaving a message).
    """
    if any(not variables.get(f) for f in LCM_FIELDS):
        return None
    if debt_words_in(variables["business_name"]):
        return None
    template = _LCM_TEMPLATES["zh" if language.lower().startswith("zh") else "en"]
    return template.format(**{f: variables[f] for f in LCM_FIELDS})


def _voice(language: str) -> dict[str, str]:
    if language.lower().startswith("zh"):
        return {"voice": "Polly.Zhiyu", "language": "cmn-CN"}
    return {"voice": "Polly.Joanna", "language": "en-US"}


_PRESS_ONE = {
    "zh": "如需与我们的工作人员通话，请按1。",
    "en": "To speak with a representative, press 1.",
}


def press_one_prompt(language: str) -> str:
    """The neutral "press 1" prompt (it names no debt: a third party may hear it)."""
    return _PRESS_ONE["zh" if language.lower().startswith("zh") else "en"]


def twiml_person(language: str, body: str, gather_action: str) -> str:
    """A person answered: the script, then "press 1" in a Gather posting to ``gather_action``."""
    vr = VoiceResponse()
    gather = vr.gather(input="dtmf", num_digits=1, timeout=6, action=gather_action, method="POST")
    gather.say(body, **_voice(language))
    gather.say(press_one_prompt(language), **_voice(language))
    vr.hangup()
    return str(vr)


def twiml_say_and_hangup(language: str, text: str) -> str:
    """Say ``text`` once, then hang up (voicemail, goodbye)."""
    vr = VoiceResponse()
    vr.say(text, **_voice(language))
    vr.hangup()
    return str(vr)


def twiml_hangup() -> str:
    """Hang up at once."""
    vr = VoiceResponse()
    vr.hangup()
    return str(vr)


_CONNECTING = {"zh": "正在为您转接，请稍候。", "en": "Please hold while we connect you."}


def twiml_connecting(language: str) -> str:
    """The caller pressed 1 (the bridge to a collector is a later issue)."""
    return twiml_say_and_hangup(language, _CONNECTING["zh" if language.lower().startswith("zh") else "en"])
