"""Contact scripts: render a campaign step's script for one party, in their language.

Templates live in ``script_templates.yaml`` (Chinese and English). A party other than the
debtor gets the ``third_party`` text, which never reveals the debt; the renderer checks
that (fail closed) with the provider boundary's own check (``content.debt_words_in``). A
missing script or language is an error naming it; an unknown language falls back to
English, then Chinese.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from contact_engine.channels.twilio.content import debt_words_in
from contact_engine.errors import UserError

TEMPLATES_FILE = Path(__file__).with_name("script_templates.yaml")
VARIABLES = ("name", "creditor", "agent", "amount", "currency", "due_date", "callback", "account_tail")


class ScriptError(UserError):
    """A script that cannot be rendered."""


@dataclass(frozen=True, slots=True)
class RenderedScript:
    """A script ready for a provider."""

    name: str
    language: str
    body: str
    subject: str | None = None
    third_party: bool = False


@functools.cache
def _templates(path: Path = TEMPLATES_FILE) -> dict[str, dict[str, dict[str, str]]]:
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ScriptError(f"{path}: scripts must be a mapping")
    formatter = string.Formatter()
    for name, langs in data.items():
        for lang, parts in langs.items():
            for part in ("debtor", "third_party"):
                if part not in parts:
                    raise ScriptError(f"{path}: {name}.{lang} has no {part} text")
            for part, text in parts.items():
                unknown = {f for _, f, _, _ in formatter.parse(text) if f} - set(VARIABLES)
                if unknown:
                    raise ScriptError(f"{path}: {name}.{lang}.{part}: unknown variable {sorted(unknown)[0]}")
            if debt_words_in(parts["third_party"]):
                raise ScriptError(f"{path}: {name}.{lang}.third_party reveals the debt")
    return data


def script_names() -> list[str]:
    """Every script a campaign step may name."""
    return sorted(_templates())


def _language(available: Mapping[str, Any], language: str) -> str:
    if language in available:
        return language
    prefix = language.split("-")[0].lower()
    for lang in available:
        if lang.split("-")[0].lower() == prefix:
            return lang
    for fallback in ("en-US", "zh-CN"):
        if fallback in available:
            return fallback
    return next(iter(available))


def render(name: str, language: str, variables: Mapping[str, str], *, third_party: bool = False) -> RenderedScript:
    """Render script ``name`` for a debtor or, with ``third_party``, anyone else."""
    templates = _templates()
    if name not in templates:
        raise ScriptError(f"unknown script {name!r} (known: {', '.join(sorted(templates))})")
    lang = _language(templates[name], language)
    parts = templates[name][lang]
    values = {v: str(variables.get(v, "")) for v in VARIABLES}
    body = parts["third_party" if third_party else "debtor"].format_map(values)
    subject = parts["subject"].format_map(values) if "subject" in parts else None
    if third_party and debt_words_in(body):
        raise ScriptError(f"script {name!r}: the third-party text reveals the debt after rendering")
    return RenderedScript(name=name, language=lang, body=body, subject=subject, third_party=third_party)
