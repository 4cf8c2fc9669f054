"""Policy packs: YAML files in the top-level ``compliance/`` folder, validated at load.

Every error names the file and the line (``PolicyError``); one invalid pack stops the
engine from starting, so there is never a partial policy. See docs/compliance.md for the
format.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contact_engine.domain import Channel, HoldKind, Mode, Outcome, Role
from contact_engine.errors import PolicyError

ALL_CHANNELS = tuple(Channel)
ALL_MODES = tuple(Mode)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def default_policy_dir() -> Path:
    """The repo's ``compliance/`` folder (next to ``src/``), or the working folder's."""
    here = Path(__file__).resolve().parents[3] / "compliance"
    return here if here.is_dir() else Path("compliance")


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]*$")
    reason: str
    channels: tuple[Channel, ...] = ALL_CHANNELS
    modes: tuple[Mode, ...] = ALL_MODES
    roles: Literal["any", "consumer", "third_party"] = "any"
    cite: str | None = None


@lru_cache(maxsize=1024)
def _hhmm(value: str) -> int:
    h, _, m = value.partition(":")
    if not (h.isdigit() and m.isdigit() and 0 <= int(h) <= 24 and 0 <= int(m) < 60):
        raise ValueError(f"{value!r} is not HH:MM")
    minutes = int(h) * 60 + int(m)
    if minutes > 24 * 60:
        raise ValueError(f"{value!r} is after 24:00")
    return minutes


class WindowRule(_Rule):
    """Contact only between ``hours`` local time, on ``days``, not on ``holidays``."""

    kind: Literal["window"]
    hours: tuple[str, str]
    days: tuple[str, ...] = WEEKDAYS
    holidays: str | None = None  # a country code for the `holidays` package

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: tuple[str, str]) -> tuple[str, str]:
        if _hhmm(v[0]) >= _hhmm(v[1]):
            raise ValueError("the window must start before it ends")
        return v

    @field_validator("days")
    @classmethod
    def _days(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [d for d in v if d not in WEEKDAYS]
        if bad:
            raise ValueError(f"unknown day(s) {bad}; use {', '.join(WEEKDAYS)}")
        return v

    @property
    def start_min(self) -> int:
        return _hhmm(self.hours[0])

    @property
    def end_min(self) -> int:
        return _hhmm(self.hours[1])


class CapWindow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["local_day", "rolling_days", "ever"]
    days: int = Field(default=1, ge=1, le=3660)


class Counts(BaseModel):
    """Which attempts a cap counts: those with ``outcomes`` (counted when the outcome is
    known), or every attempt placed except those ending in ``all_except``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    outcomes: tuple[Outcome, ...] | None = None
    all_except: tuple[Outcome, ...] | None = None

    @property
    def at_reserve(self) -> bool:
        return self.outcomes is None


class CapRule(_Rule):
    kind: Literal["cap"]
    key: Literal["account", "party", "contact_point"]
    window: CapWindow
    limit: int = Field(ge=0)
    counts: Counts = Counts()


class CooldownRule(_Rule):
    """After an outcome on local date D, no contact on D .. D+days-1."""

    kind: Literal["cooldown"]
    after: tuple[Outcome, ...]
    days: int = Field(ge=1, le=366)
    key: Literal["account", "party"] = "party"


class StopRule(_Rule):
    """An outcome stops further contact with that party (or contact point) for good."""

    kind: Literal["stop"]
    on: tuple[Outcome, ...]
    scope: Literal["party", "contact_point"] = "party"


class OptOutRule(_Rule):
    """A party's opt-out from a channel (from the record, or an ``opt_out`` outcome)."""

    kind: Literal["optout"]


class HoldRule(_Rule):
    """Any of ``holds`` on the account denies contact (outcomes place holds)."""

    kind: Literal["hold"]
    holds: tuple[HoldKind, ...]


class PartyRule(_Rule):
    kind: Literal["party"]
    deny_if: Literal["sensitive", "represented_by_attorney", "employer_provided"]


class ConsentRule(_Rule):
    """Automated contact of the listed line types needs a consent of ``requires``."""

    kind: Literal["consent"]
    requires: Literal["autodial_mobile", "extra_calls", "time"]
    line_types: tuple[Literal["mobile", "landline", "voip", "unknown"], ...] = ("mobile", "unknown")


class Unreachable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min_unanswered: int = Field(ge=1)
    days: int = Field(ge=1, le=366)


class ThirdPartyRule(_Rule):
    """Third parties only if designated by the debtor, and only while the debtor is
    unreachable (``min_unanswered`` unanswered calls and no connected call in ``days``)."""

    kind: Literal["third_party"]
    designated_only: bool = True
    debtor_unreachable: Unreachable | None = None


Rule = Annotated[
    WindowRule | CapRule | CooldownRule | StopRule | OptOutRule | HoldRule | PartyRule
    | ConsentRule | ThirdPartyRule,
    Field(discriminator="kind"),
]


class Pack(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pack: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: str
    title: str
    jurisdiction: str
    consumer_roles: tuple[Role, ...] = (Role.DEBTOR, Role.SPOUSE)
    enabled: bool = True
    rules: tuple[Rule, ...]

    @field_validator("rules")
    @classmethod
    def _unique(cls, v: tuple[Any, ...]) -> tuple[Any, ...]:
        ids = [r.id for r in v]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate rule id(s) {dup}")
        return v


def _to_python(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for k, v in node.value:
            key = k.value
            out[key] = _to_python(v, (*path, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, (*path, i), lines) for i, v in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def parse_pack(text: str, source: str) -> Pack:
    """Validate one pack; PolicyError names ``source:line`` and the problem."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise PolicyError(f"{source}:{line}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if node is None:
        raise PolicyError(f"{source}:1: the pack is empty")
    lines: dict[tuple[Any, ...], int] = {}
    data = _to_python(node, (), lines)
    try:
        return Pack.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _strip_tags(tuple(err["loc"]))
        line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 1)
        where = ".".join(str(p) for p in loc) or "pack"
        raise PolicyError(f"{source}:{line}: {where}: {err['msg']}") from None


_KINDS = {"window", "cap", "cooldown", "stop", "optout", "hold", "party", "consent", "third_party"}


def _strip_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the union tag pydantic inserts after a rule index (rules.2.cap.limit)."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        if part in _KINDS and i >= 2 and loc[i - 2] == "rules" and isinstance(loc[i - 1], int):
            continue
        out.append(part)
    return tuple(out)


def load_pack(name: str, policy_dir: Path | None = None) -> Pack:
    directory = policy_dir or default_policy_dir()
    path = directory / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in directory.glob("*.yaml")) if directory.is_dir() else []
        raise PolicyError(f"unknown policy pack {name!r} (known: {', '.join(known) or 'none'})")
    pack = parse_pack(path.read_text(encoding="utf-8"), str(path))
    if pack.pack != name:
        raise PolicyError(f"{path}:1: pack: the file declares {pack.pack!r}, expected {name!r}")
    return pack


@lru_cache(maxsize=64)
def _cached(names: tuple[str, ...], policy_dir: str | None) -> tuple[Pack, ...]:
    return tuple(load_pack(n, Path(policy_dir) if policy_dir else None) for n in names)


def load_packs(names: list[str] | tuple[str, ...], policy_dir: Path | None = None) -> tuple[Pack, ...]:
    """Load and validate every named pack (all or none)."""
    if not names:
        raise PolicyError("no policy pack named: the gate denies everything without policy")
    return _cached(tuple(names), str(policy_dir) if policy_dir else None)
