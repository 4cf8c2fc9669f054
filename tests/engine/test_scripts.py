"""Script templates: both languages, third parties never hear the debt, texts can opt out."""

from __future__ import annotations

import pytest

from contact_engine.channels.twilio.content import debt_words_in, has_opt_out_line
from contact_engine.scripts import ScriptError, render, script_names

VARS = {"name": "王伟", "creditor": "示例银行", "agent": "A001", "amount": "1,234.50", "currency": "元",
        "due_date": "2026-03-05", "callback": "+86 400 800 0000", "account_tail": "0042"}


@pytest.mark.parametrize("name", script_names())
@pytest.mark.parametrize("language", ["zh-CN", "en-US"])
def test_every_script_renders_for_debtor_and_third_party(name: str, language: str) -> None:
    debtor = render(name, language, VARS)
    third = render(name, language, VARS, third_party=True)
    assert debtor.language == language
    assert "1,234.50" in debtor.body and "0042" in debtor.body  # the debtor hears the debt
    assert debt_words_in(third.body) == [] and "1,234.50" not in third.body
    if name.endswith("_sms"):
        assert has_opt_out_line(debtor.body) and has_opt_out_line(third.body)
    if name.endswith("_email"):
        assert debtor.subject
    if name.endswith("_call"):  # calls open by naming the caller and the recording
        assert ("录音" in debtor.body) if language == "zh-CN" else ("recorded" in debtor.body)


def test_language_fallback_and_errors() -> None:
    assert render("reminder_sms", "zh-TW", VARS).language == "zh-CN"
    assert render("reminder_sms", "fr-FR", VARS).language == "en-US"
    with pytest.raises(ScriptError, match="unknown script 'nope'"):
        render("nope", "zh-CN", VARS)


def test_a_creditor_name_that_reveals_the_debt_is_refused_for_third_parties() -> None:
    with pytest.raises(ScriptError, match="third-party"):
        render("reminder_sms", "zh-CN", VARS | {"creditor": "某某催收公司"}, third_party=True)
