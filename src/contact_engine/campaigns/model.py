"""A campaign as data (pydantic), loaded from YAML.

Steps are relative to an account's due date: a one-off step fires at ``offset_days``; a
repeating step fires every ``every_days`` inside ``[dpd_from, dpd_to]`` days past due.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contact_engine.domain import Account, Channel
from contact_engine.errors import UserError


class CampaignError(UserError):
    """A campaign file that cannot be used."""


class Conditions(BaseModel):
    """Which accounts a step applies to (all when empty)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    products: tuple[str, ...] = ()
    min_balance: float | None = None
    max_balance: float | None = None

    def matches(self, account: Account) -> bool:
        """Whether ``account`` is in scope."""
        if self.products and str(account.product) not in self.products:
            return False
        balance = float(account.balance)
        if self.min_balance is not None and balance < self.min_balance:
            return False
        return self.max_balance is None or balance <= self.max_balance


class Step(BaseModel):
    """One contact step of a campaign."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    channel: Channel
    local_time: time
    script: str = Field(min_length=1)
    audience: Literal["debtor", "designated"] = "debtor"
    offset_days: int | None = None
    dpd_from: int | None = None
    dpd_to: int | None = None
    every_days: int | None = Field(default=None, ge=1)
    conditions: Conditions = Conditions()

    @model_validator(mode="after")
    def _shape(self) -> Step:
        repeating = self.every_days is not None
        if repeating == (self.offset_days is not None):
            raise ValueError("a step needs exactly one of offset_days or every_days")
        if repeating and (self.dpd_from is None or self.dpd_to is None or self.dpd_from > self.dpd_to):
            raise ValueError("a repeating step needs dpd_from <= dpd_to")
        return self

    def due_on(self, account: Account, day: date) -> bool:
        """Whether this step fires for ``account`` on its local ``day``."""
        if not self.conditions.matches(account):
            return False
        dpd = account.days_past_due(day)
        if self.offset_days is not None:
            return dpd == self.offset_days
        assert self.dpd_from is not None and self.dpd_to is not None and self.every_days
        return self.dpd_from <= dpd <= self.dpd_to and (dpd - self.dpd_from) % self.every_days == 0


class Handoff(BaseModel):
    """From ``dpd_from`` days past due automated contact stops; the account is listed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue: Literal["collector", "legal"]
    dpd_from: int


class Campaign(BaseModel):
    """A versioned campaign definition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    version: int = Field(default=1, ge=1)
    timezone: str = "Asia/Shanghai"
    stop_when: tuple[Literal["paid", "promise_pending", "hold"], ...] = ("paid", "promise_pending", "hold")
    steps: tuple[Step, ...] = Field(min_length=1)
    handoffs: tuple[Handoff, ...] = ()

    @model_validator(mode="after")
    def _unique_steps(self) -> Campaign:
        ids = [s.id for s in self.steps]
        if len(ids) != len(set(ids)):
            raise ValueError("step ids must be unique")
        return self

    def due_dates(self, day: date, steps: tuple[Step, ...] | None = None) -> set[date]:
        """The due dates for which some step (of ``steps``, default all) fires on ``day``.

        Steps depend on days past due only (conditions are checked per account), so the
        planner reads just the accounts with one of these due dates.
        """
        out: set[date] = set()
        for step in steps if steps is not None else self.steps:
            if step.offset_days is not None:
                out.add(day - timedelta(days=step.offset_days))
            else:
                assert step.dpd_from is not None and step.dpd_to is not None and step.every_days
                for dpd in range(step.dpd_from, step.dpd_to + 1, step.every_days):
                    out.add(day - timedelta(days=dpd))
        return out

    def handoff_for(self, account: Account, day: date) -> Handoff | None:
        """The hand-off in force for ``account`` on ``day`` (the latest reached), if any."""
        dpd = account.days_past_due(day)
        reached = [h for h in self.handoffs if dpd >= h.dpd_from]
        return max(reached, key=lambda h: h.dpd_from) if reached else None


def parse_campaign(text: str, source: str = "<campaign>") -> Campaign:
    """Parse and validate campaign YAML; raises ``CampaignError`` with one clear line."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise CampaignError(f"{source}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise CampaignError(f"{source}: a campaign must be a mapping")
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "campaign"
        raise CampaignError(f"{source}: {where}: {first['msg']}") from None


def load_campaign(path: Path) -> Campaign:
    """Load a campaign file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CampaignError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_campaign(text, str(path))


DEFAULT_CAMPAIGN = Path(__file__).with_name("default.yaml")


def default_campaign() -> Campaign:
    """The shipped campaign implementing RULES.md section 2."""
    return load_campaign(DEFAULT_CAMPAIGN)
