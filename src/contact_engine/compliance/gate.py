"""The compliance gate: no contact of any kind unless the gate reserved it.

``reserve`` evaluates every rule of every applicable pack; static rules (windows, holds
on the record, party restrictions, consent) are pure functions of the account and the
time; dynamic ones (counters, stops, opt-outs and holds from outcomes, cooldowns) are
checked and incremented by the ledger in one atomic step. Every denying rule is
reported; the strictest wins because any denial denies.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import phonenumbers
import redis.asyncio as aioredis
from phonenumbers import PhoneNumberType

from contact_engine.compliance.ledger import (
    Group,
    Ledger,
    MemoryLedger,
    Op,
    RedisLedger,
    ReserveRequest,
    ReserveResult,
)
from contact_engine.compliance.ledger.keys import GateKeys
from contact_engine.compliance.policy import (
    WEEKDAYS,
    CapRule,
    ConsentRule,
    CooldownRule,
    HoldRule,
    OptOutRule,
    Pack,
    PartyRule,
    StopRule,
    ThirdPartyRule,
    WindowRule,
    load_packs,
)
from contact_engine.compliance.timezones import candidate_zones
from contact_engine.config import GateSettings
from contact_engine.domain import (
    Account,
    AttemptRequest,
    Channel,
    ContactPoint,
    Decision,
    Denial,
    HistoryEntry,
    HoldKind,
    LineType,
    Mode,
    Outcome,
    Party,
    Role,
)

UNANSWERED = frozenset({Outcome.NO_ANSWER, Outcome.BUSY, Outcome.FAILED, Outcome.VOICEMAIL})
CONNECTED = frozenset(set(Outcome) - UNANSWERED - {Outcome.DELIVERED, Outcome.UNDELIVERED})
OUTCOME_HOLDS = {Outcome.DISPUTE: HoldKind.DISPUTE, Outcome.CEASE: HoldKind.CEASE}
INFLIGHT_RULE = "GATE-VOICE-IN-FLIGHT"
DAY_S = 86400
PLAN_CHUNK = 100  # attempts planned per ledger chunk in reserve_many


_SEP = "\x1f"  # unit separator: never in ids, numbers, addresses or key names


def encode_payload(p: dict[str, Any]) -> str:
    """The reservation record, compact (it is written on every reservation)."""
    return _SEP.join((p["a"], p["p"], p["cp"], p["ch"], p["m"], p["role"], p["pz"],
                      ",".join(p["z"]), str(p["t"]), ",".join(p["inc"]), p["lk"] or ""))


def decode_payload(raw: str) -> dict[str, Any]:
    a, party, cp, ch, m, role, pz, z, t, inc, lk = raw.split(_SEP)
    return {"a": a, "p": party, "cp": cp, "ch": ch, "m": m, "role": role, "pz": pz,
            "z": z.split(","), "t": int(t), "inc": inc.split(",") if inc else [],
            "lk": lk or None}


@lru_cache(maxsize=4096)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(at: datetime, zone: str) -> date:
    return at.astimezone(_zone(zone)).date()


def day_int(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


#: ``date.toordinal()`` of 1970-01-01: ordinal minus this is the day number of ``Group.first_day``
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def local_midnight(d: date, zone: str) -> datetime:
    return datetime.combine(d, time(0), _zone(zone)).astimezone(UTC)


def _holiday(rule: WindowRule, d: date) -> bool:
    if not rule.holidays:
        return False
    return d in _holidays(rule.holidays, d.year)


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> Any:
    import holidays

    return holidays.country_holidays(country, years=year)


def window_holds(rule: WindowRule, at: datetime, zones: Sequence[str]) -> str | None:
    """None when ``at`` is inside the window in every zone, else the reason."""
    for z in zones:
        local = at.astimezone(_zone(z))
        minute = local.hour * 60 + local.minute
        if not (rule.start_min <= minute < rule.end_min):
            return (f"{local:%H:%M} local ({z}) is outside "
                    f"{rule.hours[0]}-{rule.hours[1]}")
        if WEEKDAYS[local.weekday()] not in rule.days:
            return f"{local:%A} ({z}) is not a contact day"
        if _holiday(rule, local.date()):
            return f"{local.date()} is a public holiday in {rule.holidays}"
    return None


def next_window_open(rule: WindowRule, zones: Sequence[str], after: datetime) -> datetime | None:
    """The earliest instant >= ``after`` inside the window in every zone."""
    if window_holds(rule, after, zones) is None:
        return after
    candidates: set[datetime] = set()
    for z in zones:
        start_day = after.astimezone(_zone(z)).date()
        for n in range(0, 15):
            d = start_day + timedelta(days=n)
            h, m = divmod(rule.start_min, 60)
            candidates.add(datetime.combine(d, time(h, m), _zone(z)).astimezone(UTC))
    for c in sorted(candidates):
        if c >= after and window_holds(rule, c, zones) is None:
            return c
    return None


@lru_cache(maxsize=262144)
def phone_line_type(e164: str) -> LineType:
    try:
        t = phonenumbers.number_type(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return LineType.UNKNOWN
    return {PhoneNumberType.MOBILE: LineType.MOBILE, PhoneNumberType.FIXED_LINE: LineType.LANDLINE,
            PhoneNumberType.VOIP: LineType.VOIP}.get(t, LineType.UNKNOWN)


@dataclass(frozen=True, slots=True)
class _FlagSpec:
    """A flag field (template) and every rule it serves."""

    field: str  # with {party}, {cp}, {ch} placeholders
    rules: tuple[tuple[str, str, bool], ...]  # (rule id, reason, permanent)


@dataclass(frozen=True, slots=True)
class _GroupSpec:
    rule: str
    reason: str
    target: str  # "account" | "party" | "contact_point" | "reach-u" | "reach-c"
    days: int  # 0: "ever"
    limit: int
    op: str
    at_reserve: bool
    permanent: bool


@dataclass(frozen=True, slots=True)
class _Template:
    """What a (channel, mode, role) attempt is checked against, compiled once."""

    applicable: tuple[str, ...]
    windows: tuple[WindowRule, ...]
    holds: tuple[tuple[str, str, frozenset[HoldKind]], ...]
    optouts: tuple[tuple[str, str], ...]
    party_rules: tuple[PartyRule, ...]
    consents: tuple[ConsentRule, ...]
    third_party: tuple[ThirdPartyRule, ...]
    flags: tuple[_FlagSpec, ...]
    groups: tuple[_GroupSpec, ...]
    max_days: int
    flag_fields: tuple[str, ...] = ()  # the flags' fields (templates where var_flags)
    var_flags: tuple[bool, ...] = ()


@dataclass(frozen=True, slots=True)
class _Context:
    """The part of a plan shared by every attempt of one template, zone set and minute."""

    now: datetime
    epoch: int
    static: tuple[Denial, ...]  # window denials
    days: list[date]  # today first, going back
    # per group: (target kind, mid, end, bucket days (oldest first), limit, op,
    # at_reserve, ttl, first day number or -1); a bucket's key is
    # account_prefix + account + mid + target + end + day
    groups: tuple[tuple[str, str, str, tuple[str, ...], int, str, bool, int, int], ...]
    zones: str  # joined by ","


@dataclass(slots=True)
class _Plan:
    request: ReserveRequest
    static: list[Denial]
    template: _Template | None
    zones: tuple[str, ...]
    primary: str
    days: list[date]  # today first, going back


class _Effect(NamedTuple):
    """One rule's effect of an outcome: count (``incr``/``decr`` a cap of ``target``,
    ``n`` = TTL), ``stop`` (of ``target`` scope) or ``cool`` (``n`` days, ``target`` key)."""

    kind: str
    rule: str
    target: str
    ever: bool
    n: int


class Gate:
    """Decide, reserve, commit and release contact attempts under the configured packs."""

    def __init__(self, packs: Sequence[Pack], ledger: Ledger, key_prefix: str = "ce:",
                 lock_ttl_s: int = 900) -> None:
        self.packs = tuple(p for p in packs if p.enabled)
        self.ledger = ledger
        self.keys = GateKeys(key_prefix)
        self.lock_ttl_s = lock_ttl_s
        self.policy_versions = {p.pack: p.version for p in self.packs}
        self._needs_reach = any(isinstance(r, ThirdPartyRule) and r.debtor_unreachable
                                for p in self.packs for r in p.rules)
        self._templates: dict[tuple[Channel, Mode, Role], _Template] = {}
        self._ctx_cache: dict[tuple[int, tuple[str, ...], str, int], _Context] = {}
        self._effects_cache: dict[tuple[str, str, str, Outcome], tuple[_Effect, ...]] = {}
        self._open_cache: dict[tuple[int, tuple[str, ...], datetime, Any], datetime | None] = {}
        self._key_base = self.keys.account_prefix()

    @classmethod
    async def create(cls, settings: GateSettings, *, redis: aioredis.Redis | None = None,
                     key_prefix: str = "ce:", packs: Sequence[str] | None = None) -> Gate:
        """Load the packs (an invalid pack raises PolicyError) and pick the ledger."""
        loaded = load_packs(list(packs or settings.policies), settings.policy_dir)
        ledger: Ledger = RedisLedger(redis) if redis is not None else MemoryLedger()
        return cls(loaded, ledger, key_prefix)

    # -- planning -------------------------------------------------------------------
    def _template(self, channel: Channel, mode: Mode, role: Role) -> _Template:
        key = (channel, mode, role)
        found = self._templates.get(key)
        if found is not None:
            return found
        applicable: list[str] = []
        windows: list[WindowRule] = []
        holds: list[tuple[str, str, frozenset[HoldKind]]] = []
        optouts: list[tuple[str, str]] = []
        party_rules: list[PartyRule] = []
        consents: list[ConsentRule] = []
        third: list[ThirdPartyRule] = []
        flags: dict[str, list[tuple[str, str, bool]]] = {}
        groups: list[_GroupSpec] = []
        for pack in self.packs:
            consumer = role in pack.consumer_roles
            for rule in pack.rules:
                if channel not in rule.channels or mode not in rule.modes:
                    continue
                if rule.roles != "any" and (rule.roles == "consumer") != consumer:
                    continue
                applicable.append(rule.id)
                if isinstance(rule, WindowRule):
                    windows.append(rule)
                elif isinstance(rule, HoldRule):
                    holds.append((rule.id, rule.reason, frozenset(rule.holds)))
                    for h in rule.holds:
                        flags.setdefault(f"hold:{h.value}", []).append(
                            (rule.id, f"{rule.reason} (hold: {h.value})", True))
                elif isinstance(rule, OptOutRule):
                    optouts.append((rule.id, rule.reason))
                    flags.setdefault("opt:{party}:{ch}", []).append(
                        (rule.id, f"{rule.reason} ({channel.value})", True))
                elif isinstance(rule, PartyRule):
                    party_rules.append(rule)
                elif isinstance(rule, ConsentRule):
                    consents.append(rule)
                elif isinstance(rule, StopRule):
                    target = "{party}" if rule.scope == "party" else "{cp}"
                    flags.setdefault(f"stop:{rule.id}:{target}", []).append(
                        (rule.id, rule.reason, True))
                elif isinstance(rule, CooldownRule):
                    target = "{party}" if rule.key == "party" else "{account}"
                    flags.setdefault(f"cool:{rule.id}:{target}", []).append(
                        (rule.id, rule.reason, False))
                elif isinstance(rule, CapRule):
                    days = 0 if rule.window.type == "ever" else (
                        rule.window.days if rule.window.type == "rolling_days" else 1)
                    groups.append(_GroupSpec(rule.id, rule.reason, rule.key, days, rule.limit,
                                             "lt", rule.counts.at_reserve, days == 0))
                elif isinstance(rule, ThirdPartyRule) and role is not Role.DEBTOR:
                    third.append(rule)
                    if rule.debtor_unreachable:
                        u = rule.debtor_unreachable
                        groups.append(_GroupSpec(rule.id, f"{rule.reason} (debtor not unreachable)",
                                                 "reach-u", u.days, u.min_unanswered, "ge", False, True))
                        groups.append(_GroupSpec(rule.id, f"{rule.reason} (debtor answered recently)",
                                                 "reach-c", u.days, 1, "lt", False, True))
        tpl = _Template(
            tuple(applicable), tuple(windows), tuple(holds), tuple(optouts), tuple(party_rules),
            tuple(consents), tuple(third),
            tuple(_FlagSpec(f, tuple(r)) for f, r in flags.items()), tuple(groups),
            max((g.days for g in groups), default=1),
            tuple(flags), tuple("{" in f for f in flags),
        )
        self._templates[key] = tpl
        return tpl

    def _context(self, tpl: _Template, zones: tuple[str, ...], primary: str, now: datetime,
                 minute: int) -> _Context:
        """What every attempt of ``tpl`` in ``zones`` during ``minute`` shares (window
        bounds are whole minutes, so a verdict holds for the whole minute)."""
        ck = (id(tpl), zones, primary, minute)
        ctx = self._ctx_cache.get(ck)
        if ctx is not None and ctx.now == now:
            return ctx
        if len(self._ctx_cache) > 50_000:
            self._ctx_cache.clear()
        static: list[Denial] = []
        for w in tpl.windows:
            why = window_holds(w, now, zones)
            if why:
                static.append(Denial(w.id, why, until=next_window_open(w, zones, now)))
        today = local_day(now, primary)
        days = [today - timedelta(days=i) for i in range(tpl.max_days)]
        day_strs = [str(day_int(d)) for d in days]
        k = self.keys
        groups: list[tuple[str, str, str, tuple[str, ...], int, str, bool, int, int]] = []
        for g in tpl.groups:
            if g.days == 0:
                groups.append((g.target, *k.count_parts(g.rule), ("ever",), g.limit, g.op,
                               g.at_reserve, 0, -1))
                continue
            buckets = tuple(reversed(day_strs[: g.days]))
            first = days[g.days - 1].toordinal() - _EPOCH_ORDINAL
            if g.target.startswith("reach-"):
                groups.append(("", *k.reach_parts(g.target[-1]), buckets, g.limit, g.op, False, 0, first))
            else:
                groups.append((g.target, *k.count_parts(g.rule), buckets, g.limit, g.op, g.at_reserve,
                               (g.days + 2) * DAY_S, first))
        ctx = _Context(now, int(now.timestamp()), tuple(static), days, tuple(groups),
                       ",".join(zones))
        self._ctx_cache[ck] = ctx
        return ctx

    def _plan(self, account: Account, req: AttemptRequest, now: datetime, *,
              dry_run: bool, reservation_id: str | None) -> _Plan:
        acct = account.id
        party = None
        for p in account.parties:
            if p.id == req.party_id:
                party = p
                break
        if party is None:
            return _Plan(ReserveRequest(now=int(now.timestamp()), dry_run=True), [Denial(
                "GATE-UNKNOWN-PARTY", f"party {req.party_id!r} is not on the account",
                permanent=True)], None, (), "UTC", [])
        zones, primary = candidate_zones(account.address, req.contact_point)
        if not zones or primary is None:
            return _Plan(ReserveRequest(now=int(now.timestamp()), dry_run=True), [Denial(
                "TZ-UNKNOWN", "no time zone can be derived for this contact", permanent=True)],
                None, (), "UTC", [])
        channel = req.channel
        tpl = self._template(channel, req.mode, party.role)
        epoch = int(now.timestamp())
        ctx = self._context(tpl, zones, primary, now, epoch // 60)
        static = list(ctx.static)
        if account.holds:
            for rule_id, reason, kinds in tpl.holds:
                held = sorted(h.value for h in account.holds if h in kinds)
                if held:
                    static.append(Denial(rule_id, f"{reason} (hold: {', '.join(held)})",
                                         permanent=True))
        cp = None
        if tpl.optouts or tpl.party_rules or tpl.consents:
            for c in party.contact_points:
                if c.value == req.contact_point:
                    cp = c
                    break
        if tpl.optouts and (channel in party.opt_outs
                            or (cp is not None and channel in cp.opt_outs)):
            for rule_id, reason in tpl.optouts:
                static.append(Denial(rule_id, f"{reason} ({channel.value})", permanent=True))
        for pr in tpl.party_rules:
            if self._party_denies(pr, party, cp):
                static.append(Denial(pr.id, pr.reason, permanent=True))
        for cr in tpl.consents:
            if not self._consented(cr, party, cp, req, now):
                static.append(Denial(cr.id, cr.reason, permanent=True))
        for tr in tpl.third_party:
            if tr.designated_only and not party.designated_by_debtor:
                static.append(Denial(tr.id, f"{tr.reason} (not designated by the debtor)",
                                     permanent=True))
        if tpl.var_flags:
            subst = {"party": party.id, "cp": req.contact_point, "ch": channel.value,
                     "account": acct}
            flag_fields = tuple(f.format_map(subst) if var else f
                                for f, var in zip(tpl.flag_fields, tpl.var_flags, strict=True))
        else:
            flag_fields = tpl.flag_fields
        base = self._key_base + acct
        targets = {"account": acct, "party": party.id, "contact_point": req.contact_point,
                   "": ""}
        groups: list[Group] = []
        incs: list[str] = []
        for target_kind, mid, end, buckets, limit, op, at_reserve, ttl, first in ctx.groups:
            stem = f"{base}{mid}{targets[target_kind]}{end}"
            if at_reserve:
                incs.append(stem + buckets[-1])
            groups.append(Group(stem, buckets, limit, op, at_reserve, ttl, first))
        lock = base + "}:inflight" if channel is Channel.VOICE else None
        payload = _SEP.join((acct, party.id, req.contact_point, channel.value, req.mode.value,
                             party.role.value, primary, ctx.zones, str(epoch), ",".join(incs),
                             lock or ""))
        rr = ReserveRequest(
            now=epoch, flags_key=base + "}:flags", flags=flag_fields, groups=tuple(groups),
            lock=lock, lock_ttl_s=self.lock_ttl_s,
            reservation_key=f"{base}}}:res:{reservation_id}" if reservation_id else None,
            payload=payload, dry_run=dry_run or bool(static),
        )
        return _Plan(rr, static, tpl, zones, primary, ctx.days)

    @staticmethod
    def _party_denies(rule: PartyRule, party: Party, cp: ContactPoint | None) -> bool:
        if rule.deny_if == "sensitive":
            return party.sensitive
        if rule.deny_if == "represented_by_attorney":
            return party.represented_by_attorney
        return cp is not None and cp.employer_provided

    @staticmethod
    def _consented(rule: ConsentRule, party: Party, cp: ContactPoint | None,
                   req: AttemptRequest, now: datetime) -> bool:
        if not req.contact_point.startswith("+"):
            return True
        line = cp.line_type if cp is not None and cp.line_type is not LineType.UNKNOWN \
            else phone_line_type(req.contact_point)
        if line.value not in rule.line_types:
            return True
        return any(c.kind.value == rule.requires and c.given_at <= now for c in party.consents)

    # -- explaining -----------------------------------------------------------------
    @staticmethod
    def _reads(plan: _Plan, res: ReserveResult) -> tuple[str, list[str], list[str]]:
        """What explaining a denial reads: the failed flags' fields, the failed groups' keys."""
        req = plan.request
        if plan.template is None:
            return "", [], []
        return (req.flags_key, [req.flags[i] for i in res.failed_flags],
                [key for i in res.failed_groups for key in req.groups[i].keys])

    def _explain(self, plan: _Plan, res: ReserveResult, fvalues: Sequence[str | None],
                 values: Sequence[str | None], now: datetime) -> list[Denial]:
        """The denials of a plan, from the reserve result and the values ``_reads`` named."""
        req = plan.request
        tpl = plan.template
        denials = list(plan.static)
        if tpl is None:
            return denials
        failed_flags, failed_groups, lock_held = res.failed_flags, res.failed_groups, res.lock_held
        for i, v in zip(failed_flags, fvalues, strict=True):
            for rule_id, reason, permanent in tpl.flags[i].rules:
                if permanent or v in (None, "p"):
                    denials.append(Denial(rule_id, reason, permanent=True))
                else:
                    until = datetime.fromtimestamp(float(v), UTC)  # type: ignore[arg-type]
                    denials.append(Denial(rule_id, f"{reason} (until {until.isoformat()})",
                                          until=until))
        pos = 0
        for i in failed_groups:
            spec = tpl.groups[i]
            n = len(req.groups[i].days)
            counts = [int(x or 0) for x in values[pos:pos + n]]
            pos += n
            if spec.permanent:
                denials.append(Denial(spec.rule, spec.reason, permanent=True))
                continue
            lapse_day = None
            for shift in range(1, n + 1):
                if sum(counts[shift:]) < spec.limit:
                    lapse_day = plan.days[0] + timedelta(days=shift)
                    break
            lapse = local_midnight(lapse_day, plan.primary) if lapse_day else None
            denials.append(Denial(spec.rule, f"{spec.reason} ({sum(counts)} of {spec.limit} used)",
                                  permanent=lapse is None, until=lapse))
        if lock_held:
            denials.append(Denial(INFLIGHT_RULE, "another voice attempt on this account is in flight",
                                  until=now + timedelta(seconds=60)))
        return denials

    def _next_allowed(self, denials: Sequence[Denial], plan: _Plan, now: datetime) -> datetime | None:
        if any(d.permanent or d.until is None for d in denials):
            return None
        t = max(d.until for d in denials if d.until is not None)
        for _ in range(20):
            moved = False
            for w in plan.template.windows if plan.template else ():
                nxt = self._window_open(w, plan.zones, t)
                if nxt is None:
                    return None
                if nxt > t:
                    t = nxt
                    moved = True
            if not moved:
                return t
        return t

    def _window_open(self, rule: WindowRule, zones: tuple[str, ...], after: datetime) -> datetime | None:
        """``next_window_open``, remembered: the denials of a batch share a few instants
        (a cap's lapse at local midnight, the end of a cooldown) and zone sets."""
        # the rules live as long as the gate (stable ids); the zone of ``after`` is part of
        # the key because an equal instant in another zone is stored differently
        key = (id(rule), zones, after, after.tzinfo)
        try:
            return self._open_cache[key]
        except KeyError:
            pass
        if len(self._open_cache) > 50_000:
            self._open_cache.clear()
        found = self._open_cache[key] = next_window_open(rule, zones, after)
        return found

    # -- public API -----------------------------------------------------------------
    async def decide(self, account: Account, request: AttemptRequest, now: datetime) -> Decision:
        """Evaluate without reserving anything (dry run)."""
        return (await self._run([(account, request)], now, dry_run=True))[0]

    async def reserve(self, account: Account, request: AttemptRequest, now: datetime) -> Decision:
        """Evaluate and, when allowed, count the attempt atomically; the Decision carries
        the reservation id to commit or release."""
        return (await self._run([(account, request)], now, dry_run=False))[0]

    async def reserve_many(self, items: Sequence[tuple[Account, AttemptRequest]],
                           now: datetime) -> list[Decision]:
        """Reserve many attempts (each atomic on its own, in order): planned in chunks of
        ``PLAN_CHUNK`` that the ledger may send while the next is planned. On a single
        Redis node one Lua call serves a whole chunk (see ``ledger.redis``)."""
        return await self._run(items, now, dry_run=False)

    async def _run(self, items: Sequence[tuple[Account, AttemptRequest]], now: datetime, *,
                   dry_run: bool) -> list[Decision]:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        plans: list[_Plan] = []
        failure: list[BaseException] = []

        def chunks() -> Iterator[list[ReserveRequest]]:
            # Planned chunk by chunk, so a ledger can send one chunk while the next is
            # planned. Reservation ids: 128 random bits each, drawn once per chunk.
            for start in range(0, len(items), PLAN_CHUNK):
                part = items[start:start + PLAN_CHUNK]
                ids = os.urandom(16 * len(part)).hex()
                try:
                    planned = [self._plan(a, r, now, dry_run=dry_run,
                                          reservation_id=ids[32 * i:32 * i + 32])
                               for i, (a, r) in enumerate(part)]
                except Exception as e:  # stop here; undo what earlier chunks reserved
                    failure.append(e)
                    return
                plans.extend(planned)
                yield [p.request for p in planned]

        results = await self.ledger.reserve_chunks(chunks())
        if failure:
            if not dry_run:
                for plan, res in zip(plans, results, strict=True):
                    if res.ok and not plan.request.dry_run and plan.request.reservation_key:
                        await self.release(plan.request.reservation_key)
            raise failure[0]
        denied = [i for i, (plan, res) in enumerate(zip(plans, results, strict=True))
                  if not (res.ok and not plan.static)]
        # one read for every denial of the batch (counts and flags, for the reasons)
        read = await self.ledger.read_many([self._reads(plans[i], results[i]) for i in denied])
        explained = dict(zip(denied, read, strict=True))
        out: list[Decision] = []
        for i, (plan, res) in enumerate(zip(plans, results, strict=True)):
            if i not in explained:
                rid = None if dry_run else plan.request.reservation_key
                out.append(Decision(True, (), None, dict(self.policy_versions), rid, now))
                continue
            fvalues, values = explained[i]
            denials = self._explain(plan, res, fvalues, values, now)
            out.append(Decision(False, tuple(denials), self._next_allowed(denials, plan, now),
                                dict(self.policy_versions), None, now))
        return out

    def _effects(self, channel: str, mode: str, role: str, outcome: Outcome) -> tuple[_Effect, ...]:
        """What an outcome does under the rules that apply to (channel, mode, role), in
        pack order; cached (the packs do not change while a gate lives)."""
        ck = (channel, mode, role, outcome)
        found = self._effects_cache.get(ck)
        if found is not None:
            return found
        rules = set(self._template(Channel(channel), Mode(mode), Role(role)).applicable)
        out: list[_Effect] = []
        for pack in self.packs:
            for rule in pack.rules:
                if rule.id not in rules:
                    continue
                if isinstance(rule, CapRule):
                    ever = rule.window.type == "ever"
                    n = rule.window.days if rule.window.type == "rolling_days" else 1
                    if rule.counts.outcomes is not None and outcome in rule.counts.outcomes:
                        out.append(_Effect("incr", rule.id, rule.key, ever, 0 if ever else (n + 2) * DAY_S))
                    elif rule.counts.all_except and outcome in rule.counts.all_except:
                        out.append(_Effect("decr", rule.id, rule.key, ever, 0))
                elif isinstance(rule, StopRule) and outcome in rule.on:
                    out.append(_Effect("stop", rule.id, rule.scope, False, 0))
                elif isinstance(rule, CooldownRule) and outcome in rule.after:
                    out.append(_Effect("cool", rule.id, rule.key, False, rule.days))
        self._effects_cache[ck] = found = tuple(out)
        return found

    def _outcome_ops(self, payload: dict[str, Any], outcome: Outcome | None,
                     at: datetime) -> list[Op]:
        k = self.keys
        acct, party, cpv, ch = payload["a"], payload["p"], payload["cp"], payload["ch"]
        fkey = k.flags(acct)
        ops: list[Op] = []
        if payload.get("lk"):
            ops.append(Op("del", payload["lk"]))
        if outcome is None:
            return ops
        pday: int | None = None  # the placing's local day, as a key bucket

        def placed_day() -> int:
            nonlocal pday
            if pday is None:
                pday = day_int(local_day(datetime.fromtimestamp(payload["t"], UTC), payload["pz"]))
            return pday

        for e in self._effects(ch, payload["m"], payload["role"], outcome):
            if e.kind == "incr" or e.kind == "decr":
                target = acct if e.target == "account" else party if e.target == "party" else cpv
                key = k.count(acct, e.rule, target, "ever" if e.ever else placed_day())
                ops.append(Op("incr", key, ttl_s=e.n) if e.kind == "incr" else Op("decr", key))
            elif e.kind == "stop":
                target = party if e.target == "party" else cpv
                ops.append(Op("hset", fkey, "p", field=f"stop:{e.rule}:{target}"))
            else:
                target = party if e.target == "party" else acct
                # The outcome's date is day 1 in every candidate zone: the block ends
                # at the latest local midnight of day ``days + 1``.
                lapse = max(local_midnight(local_day(at, z) + timedelta(days=e.n), z)
                            for z in payload["z"])
                ops.append(Op("hset", fkey, str(int(lapse.timestamp())),
                              field=f"cool:{e.rule}:{target}"))
        if outcome is Outcome.OPT_OUT:
            ops.append(Op("hset", fkey, "p", field=f"opt:{party}:{ch}"))
        if outcome in OUTCOME_HOLDS:
            ops.append(Op("hset", fkey, "p", field=f"hold:{OUTCOME_HOLDS[outcome].value}"))
        if self._needs_reach and payload["role"] == Role.DEBTOR.value and ch == Channel.VOICE.value:
            kind = "u" if outcome in UNANSWERED else "c" if outcome in CONNECTED else None
            if kind:
                ops.append(Op("incr", k.reach(acct, kind, placed_day()), ttl_s=400 * DAY_S))
        return ops

    async def commit(self, reservation_id: str, outcome: Outcome | None, at: datetime) -> bool:
        """Apply the outcome of a reserved attempt; False when already committed/released."""
        raw = await self._reservation(reservation_id)
        if raw is None:
            return False
        payload = decode_payload(raw)
        return await self.ledger.apply(reservation_id, self._outcome_ops(payload, outcome, at))

    async def commit_many(self, items: Sequence[tuple[str, Outcome | None, datetime]]) -> list[bool]:
        """``commit`` for many (reservation id, outcome, at): two round trips in all."""
        if not items:
            return []
        raws = await self.ledger.get_many([rid for rid, _o, _a in items])
        todo: list[tuple[str | None, Sequence[Op]]] = []
        where: list[int] = []
        for i, ((rid, outcome, at), raw) in enumerate(zip(items, raws, strict=True)):
            if raw is not None:
                todo.append((rid, self._outcome_ops(decode_payload(raw), outcome, at)))
                where.append(i)
        done = await self.ledger.apply_many(todo)
        out = [False] * len(items)
        for i, ok in zip(where, done, strict=True):
            out[i] = ok
        return out

    async def release(self, reservation_id: str) -> bool:
        """Undo a reservation whose contact was never placed (idempotent)."""
        raw = await self._reservation(reservation_id)
        if raw is None:
            return False
        payload = decode_payload(raw)
        ops = [Op("decr", key) for key in payload["inc"]]
        if payload.get("lk"):
            ops.append(Op("del", payload["lk"]))
        return await self.ledger.apply(reservation_id, ops)

    async def _reservation(self, reservation_id: str) -> str | None:
        values = await self.ledger.get_many([reservation_id])
        return values[0]

    async def record(self, account: Account, entry: HistoryEntry) -> None:
        """Apply an attempt that did not go through ``reserve`` (history replay, inbound
        events such as a STOP reply): count it and apply its outcome."""
        req = AttemptRequest(entry.channel, entry.mode, entry.party_id, entry.contact_point,
                             account_id=account.id)
        plan = self._plan(account, req, entry.at, dry_run=True, reservation_id=None)
        if plan.template is None:
            return
        payload = decode_payload(plan.request.payload)
        payload["lk"] = None
        ops = [Op("incr", g.incr, ttl_s=g.ttl_s) for g in plan.request.groups if g.incr]
        ops += self._outcome_ops(payload, entry.outcome, entry.at)
        if isinstance(self.ledger, MemoryLedger):
            self.ledger.advance(entry.at.timestamp())
        await self.ledger.apply(None, ops)

    async def aclose(self) -> None:
        await self.ledger.aclose()


__all__ = ["Gate", "local_day", "next_window_open", "window_holds"]
