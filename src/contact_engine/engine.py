"""The composition root: one object wiring store, Redis, gates, queue, providers and audit.

``Engine.open`` builds everything from ``Settings`` (embedded defaults: SQLite and the
embedded Redis); the ``worker``, ``scheduler``, ``serve`` and ``demo`` commands and the
tests all run through it. The engine:

* plans a campaign's due steps into intents (``plan``): only accounts whose due date
  makes a step due are read, intents are stored (status ``planned``) and queued;
* hands queued intents to a :class:`~contact_engine.dispatch.worker.Dispatcher`;
* takes provider reports (``handle_reports``): stores each outcome, commits it to the gate
  (conversations start cooldowns, refusals stop rules ...), applies its effects on the
  account (promise, payment, dispute and cease holds) and stores call recordings;
* moves accounts to the collector or legal queue at their hand-off (``apply_handoffs``).

Channels without a configured provider run on the simulated provider when
``simulate=True`` (the default without credentials).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import zlib
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_engine.campaigns.model import Campaign, Step
from contact_engine.campaigns.planner import plan_account
from contact_engine.channels.base import (
    ChannelAdapter,
    OutboundContact,
    ProviderReport,
    TokenBucket,
)
from contact_engine.channels.simulated import (
    MemoryNetworkState,
    OutcomeModel,
    RedisNetworkState,
    SimulatedChannel,
    SimulatedNetwork,
)
from contact_engine.channels.simulated.network import report_of
from contact_engine.clock import Clock, SystemClock
from contact_engine.compliance.auditor import Violation, audit
from contact_engine.compliance.router import GateRouter, jurisdiction_of
from contact_engine.compliance.timezones import address_zone
from contact_engine.config import Settings
from contact_engine.dispatch.keys import DispatchKeys
from contact_engine.dispatch.queue import DispatchQueue
from contact_engine.dispatch.worker import Dispatcher
from contact_engine.domain import (
    Account,
    AccountStatus,
    Channel,
    HistoryEntry,
    HoldKind,
    Intent,
    Mode,
    Outcome,
    Role,
)
from contact_engine.recordings.store import RecordingStore
from contact_engine.scripts import render
from contact_engine.store.db import open_database
from contact_engine.store.redis import open_redis
from contact_engine.store.repositories import AccountRepository, AuditRepository, IntentRepository
from contact_engine.store.tables import accounts as accounts_table
from contact_engine.store.tables import events as events_table
from contact_engine.store.tables import recordings as recordings_table

log = logging.getLogger(__name__)

#: how long a report may wait for its attempt to be stored before it is dropped (logged)
EARLY_REPORT_TTL_S = 600
#: at most this many reports wait at once (each pass re-reads their attempts)
EARLY_REPORTS_MAX = 10_000

_HOLD_OF = {Outcome.DISPUTE: HoldKind.DISPUTE, Outcome.CEASE: HoldKind.CEASE}


def shard_of(account_id: str, shards: int) -> int:
    """The shard (0 .. shards-1) that holds ``account_id``: stable across processes and runs."""
    return zlib.crc32(account_id.encode()) % shards


@dataclass
class EngineStats:
    """Running totals (what the demo reports)."""

    attempts: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    outcomes_by_channel: dict[str, Counter[str]] = field(default_factory=dict)
    denied: Counter[str] = field(default_factory=Counter)
    results: Counter[str] = field(default_factory=Counter)
    recordings: int = 0
    recordings_failed: int = 0
    rule_breaks_seeded: int = 0
    collected: Decimal = Decimal("0")
    handoffs: Counter[str] = field(default_factory=Counter)
    planned: int = 0

    def merge(self, other: EngineStats) -> None:
        """Add ``other``'s totals to these (engines of several shards)."""
        for mine, theirs in ((self.attempts, other.attempts), (self.outcomes, other.outcomes),
                             (self.denied, other.denied), (self.results, other.results),
                             (self.handoffs, other.handoffs)):
            mine.update(theirs)
        for channel, counts in other.outcomes_by_channel.items():
            self.outcomes_by_channel.setdefault(channel, Counter()).update(counts)
        self.recordings += other.recordings
        self.recordings_failed += other.recordings_failed
        self.rule_breaks_seeded += other.rule_breaks_seeded
        self.collected += other.collected
        self.planned += other.planned


class Engine:
    """Everything one process of contact-engine needs."""

    def __init__(self, *, settings: Settings, db: AsyncEngine, redis: aioredis.Redis, gates: GateRouter,
                 queue: DispatchQueue, adapters: Mapping[Channel, ChannelAdapter], clock: Clock,
                 network: SimulatedNetwork | None, recordings: RecordingStore) -> None:
        self.settings = settings
        self.db = db
        self.redis = redis
        self.gates = gates
        self.queue = queue
        self.adapters = dict(adapters)
        self.clock = clock
        self.network = network
        self.recordings = recordings
        self.accounts = AccountRepository(db)
        self.audit = AuditRepository(db)
        self.intents = IntentRepository(db)
        self.stats = EngineStats()
        self._cache: OrderedDict[str, Account] = OrderedDict()
        self._cache_max = 0
        self._country: dict[str, str | None] = {}
        self._early: list[ProviderReport] = []
        self._early_seen: dict[tuple[str, str, str], float] = {}
        self._synth: Any = None
        #: (i, n): this engine plans and hands off only the accounts of shard i of n
        self.shard: tuple[int, int] | None = None

    # -- construction ----------------------------------------------------------------
    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings, *, clock: Clock | None = None, simulate: bool = True,
                   seed: int = 7, audio: bool = True, shared_network: bool = False, time_scale: float = 1.0,
                   rate_per_s: float | None = None,
                   adapters: Mapping[Channel, ChannelAdapter] | None = None) -> AsyncIterator[Engine]:
        """Open the store and Redis, build gates and providers; close them on exit.

        Args:
            simulate: run channels that have no configured provider on the simulator.
            seed: the simulator's seed.
            audio: synthesise call audio for simulated recordings.
            shared_network: keep the simulator's state in Redis (several processes).
            time_scale: multiplies simulated call durations (tests run calls in seconds).
            rate_per_s: pace the simulated provider (contacts per second).
            adapters: adapters to use instead of the configured ones (tests).
        """
        clock = clock or SystemClock()
        async with AsyncExitStack() as stack:
            db = await stack.enter_async_context(open_database(settings))
            redis = await stack.enter_async_context(open_redis(settings))
            prefix = settings.redis_key_prefix
            gates = await GateRouter.create(settings.gate, redis=redis, key_prefix=prefix)
            stack.push_async_callback(gates.aclose)
            queue = DispatchQueue(redis, DispatchKeys(prefix))
            await queue.ensure_group()
            chosen: dict[Channel, ChannelAdapter] = dict(adapters or {})
            late: list[Engine] = []

            async def sink(report: ProviderReport) -> None:  # e.g. SMTP delivery reports
                await late[0].handle_reports([report])

            if adapters is None:
                from contact_engine.channels.factory import build_channels
                from contact_engine.channels.twilio.state import RedisTwilioState

                # call contexts in Redis: the webhook process answers the calls workers place
                built = await build_channels(settings, stack, state=RedisTwilioState(redis, prefix), sink=sink)
                chosen.update(built.adapters)
            network = None
            missing = [c for c in (Channel.VOICE, Channel.SMS, Channel.EMAIL) if c not in chosen]
            if missing and simulate:
                state = RedisNetworkState(redis, prefix) if shared_network else MemoryNetworkState()
                network = SimulatedNetwork(OutcomeModel(seed), state, recordings=audio, time_scale=time_scale)
                pacing = TokenBucket(rate_per_s) if rate_per_s else None
                sim = SimulatedChannel(network, clock.now, pacing=pacing)
                for c in missing:
                    chosen[c] = sim
            for adapter in {id(a): a for a in chosen.values()}.values():
                stack.push_async_callback(adapter.aclose)
            engine = cls(settings=settings, db=db, redis=redis, gates=gates, queue=queue, adapters=chosen,
                         clock=clock, network=network, recordings=RecordingStore(settings.effective_recordings_dir))
            late.append(engine)
            yield engine

    # -- accounts ----------------------------------------------------------------------
    def owns(self, account_id: str) -> bool:
        """Whether this engine's shard holds ``account_id`` (always, without shards)."""
        return self.shard is None or shard_of(account_id, self.shard[1]) == self.shard[0]

    def cache_accounts(self, max_size: int) -> None:
        """Keep up to ``max_size`` accounts in memory between planning and dispatch.

        Only for one process that owns every change (the simulation): the engine drops an
        account from the cache whenever it changes it; changes made by other processes
        would not be seen.
        """
        self._cache_max = max_size

    def prime(self, accounts: Sequence[Account]) -> None:
        """Put accounts just written (an import) into the cache."""
        for account in accounts:
            self._remember(account)

    def _remember(self, account: Account) -> None:
        self._country[account.id] = jurisdiction_of(account)
        if self._cache_max:
            self._cache[account.id] = account
            self._cache.move_to_end(account.id)
            while len(self._cache) > self._cache_max:
                self._cache.popitem(last=False)

    def _forget(self, ids: Any) -> None:
        for i in ids:
            self._cache.pop(i, None)

    async def load_accounts(self, ids: Sequence[str]) -> dict[str, Account]:
        """Accounts by id (from the cache when enabled)."""
        out: dict[str, Account] = {}
        missing = []
        for i in ids:
            hit = self._cache.get(i)
            if hit is None:
                missing.append(i)
            else:
                out[i] = hit
        if missing:
            for acct in (await self.accounts.get_many(missing)).values():
                self._remember(acct)
                out[acct.id] = acct
        return out

    # -- content -----------------------------------------------------------------------
    def compose(self, intent: Intent, account: Account, now: datetime) -> OutboundContact:
        """Render the intent's script for its party (third parties never hear the debt)."""
        party = next((p for p in account.parties if p.id == intent.party_id), None)
        third_party = party is None or party.role is not Role.DEBTOR
        debtor = next((p for p in account.parties if p.role is Role.DEBTOR), None)
        s = self.settings.scripts
        zh = intent.language.lower().startswith("zh")
        zone = address_zone(account.address)  # the planner's zone too
        local = now.astimezone(zone) if zone else now
        variables = {
            "name": (debtor.name if debtor and debtor.name else ("客户" if zh else "customer")),
            "creditor": s.creditor_zh if zh else s.creditor_en, "agent": s.agent_id,
            "amount": f"{account.balance:,.2f}", "currency": "元" if zh and account.currency == "CNY" else account.currency,
            "due_date": account.due_date.isoformat(), "callback": s.callback_number,
            "account_tail": account.id[-4:],
            # read by the simulated provider only
            "sim_local_hour": str(local.hour), "sim_dpd": str(account.days_past_due(local.date())),
            "sim_balance": str(account.balance),
        }
        rendered = render(intent.script, intent.language, variables, third_party=third_party)
        return OutboundContact(
            attempt_id=intent.id, account_id=intent.account_id, party_id=intent.party_id,
            channel=intent.channel, mode=intent.mode, to=intent.contact_point, language=rendered.language,
            script=intent.script, body=rendered.body, subject=rendered.subject, third_party=third_party,
            variables=variables,
        )

    def dispatcher(self, name: str) -> Dispatcher:
        """A dispatcher for worker ``name`` (unique per process)."""
        return Dispatcher(name=name, queue=self.queue, gates=self.gates, audit=self.audit,
                          accounts=self.load_accounts, adapters=self.adapters, intents=self.intents,
                          compose=self.compose)

    # -- planning ----------------------------------------------------------------------
    async def plan(self, campaign: Campaign, day: date, steps: tuple[Step, ...] | None = None,
                   *, batch: int = 2000) -> int:
        """Plan ``steps`` (default all) of ``campaign`` for local ``day``; returns new intents queued."""
        statuses = [AccountStatus.ACTIVE]
        if "promise_pending" not in campaign.stop_when:
            statuses.append(AccountStatus.PROMISE)
        now = self.clock.now()
        queued = 0
        pending: list[Intent] = []

        async def flush() -> int:
            fresh = await self.intents.add_many(pending, now)
            keep = [i for i in pending if i.id in fresh]
            await self.queue.schedule(keep)
            pending.clear()
            return len(keep)

        ids = await self.accounts.due_ids(sorted(campaign.due_dates(day, steps)), statuses=statuses)
        if self.shard is not None:
            ids = [i for i in ids if self.owns(i)]
        for start in range(0, len(ids), batch):
            loaded = await self.load_accounts(ids[start:start + batch])
            for account_id in ids[start:start + batch]:
                if account_id in loaded:
                    pending.extend(plan_account(campaign, loaded[account_id], day, steps))
            if len(pending) >= batch:
                queued += await flush()
        if pending:
            queued += await flush()
        self.stats.planned += queued
        return queued

    async def apply_handoffs(self, campaign: Campaign, day: date) -> Counter[str]:
        """Move accounts past a hand-off to their queue (automated contact stops); audited."""
        moved: Counter[str] = Counter()
        status_of = {"collector": AccountStatus.COLLECTOR_QUEUE, "legal": AccountStatus.LEGAL}
        now = self.clock.now()
        for h in sorted(campaign.handoffs, key=lambda h: -h.dpd_from):
            cutoff = day - timedelta(days=h.dpd_from)
            target = status_of[h.queue]
            open_states = [AccountStatus.ACTIVE.value, AccountStatus.PROMISE.value]
            if target is AccountStatus.LEGAL:
                open_states.append(AccountStatus.COLLECTOR_QUEUE.value)
            async with self.db.begin() as conn:
                ids = [r[0] for r in await conn.execute(
                    select(accounts_table.c.id).where(accounts_table.c.due_date <= cutoff,
                                                      accounts_table.c.status.in_(open_states)))
                       if self.owns(r[0])]
                if not ids:
                    continue
                for start in range(0, len(ids), 900):
                    chunk = ids[start:start + 900]
                    await conn.execute(update(accounts_table).where(accounts_table.c.id.in_(chunk))
                                       .values(status=target.value, updated_at=now))
                await conn.execute(insert(events_table), [
                    {"at": now, "kind": f"handoff.{h.queue}", "actor": f"campaign:{campaign.id}",
                     "account_id": i, "data": {"dpd_from": h.dpd_from, "day": day.isoformat()}} for i in ids])
            moved[h.queue] += len(ids)
            self._forget(ids)
        self.stats.handoffs.update(moved)
        return moved

    # -- reports -------------------------------------------------------------------------
    async def handle_reports(self, reports: Sequence[ProviderReport]) -> None:
        """Store, commit and apply provider reports (webhooks and the simulator alike)."""
        if not reports:
            return
        stored = await self.audit.attempts_by_id([r.attempt_id for r in reports])
        unknown = [a["account_id"] for a in stored.values() if a["account_id"] not in self._country]
        if unknown:
            for acct in (await self.accounts.get_many(unknown)).values():
                self._country[acct.id] = jurisdiction_of(acct)
        rows: list[dict[str, Any]] = []
        statuses: dict[str, AccountStatus] = {}
        holds: dict[str, set[HoldKind]] = {}
        payments: list[tuple[str, Decimal, datetime, str]] = []
        commits = []
        recordings = []
        for r in reports:
            attempt = stored.get(r.attempt_id)
            if attempt is None:
                self._park(r)
                continue
            detail = {k: v for k, v in r.detail.items() if k != "transcript"}
            rows.append({"attempt_id": r.attempt_id, "at": r.at, "status": r.status,
                         "outcome": r.outcome.value if r.outcome else None, "provider_ref": r.provider_ref,
                         "duration_s": r.duration_s, "detail": detail})
            if not r.final:
                continue
            assert r.outcome is not None
            self.stats.outcomes[r.outcome.value] += 1
            self.stats.outcomes_by_channel.setdefault(attempt["channel"], Counter())[r.outcome.value] += 1
            acct = attempt["account_id"]
            if attempt["reservation_id"]:
                commits.append((self._country.get(acct), attempt["reservation_id"], r.outcome, r.at))
            if r.outcome is Outcome.PROMISE_TO_PAY:
                statuses[acct] = AccountStatus.PROMISE
            elif r.outcome in _HOLD_OF:
                holds.setdefault(acct, set()).add(_HOLD_OF[r.outcome])
            if r.detail.get("payment"):
                payments.append((acct, Decimal(str(r.detail["payment"])), r.at, "call"))
            if r.detail.get("rule_break"):
                self.stats.rule_breaks_seeded += 1
            if r.recording_ref:
                recordings.append((r, attempt))
        await self.gates.commit_many(commits)
        # stamped after the gate has the outcomes: from then on every decision sees them
        received = self.clock.now()
        async with self.db.begin() as conn:  # outcomes and their effects commit together
            await self.audit.append_batch(outcomes=[{**row, "received_at": received} for row in rows], conn=conn)
            collected = await self.accounts.apply_effects(statuses=statuses, holds=holds,
                                                          payments_due=payments, conn=conn)
        self.stats.collected += collected
        self._forget(list(statuses) + list(holds) + [p[0] for p in payments])
        if recordings:
            await self._store_recordings([r for r, _attempt in recordings])

    def _park(self, report: ProviderReport) -> None:
        """Keep a report that arrived before its attempt was stored (a provider that
        reports while the send is still returning); ``flush_early`` tries it again."""
        key = (report.attempt_id, report.status, report.provider_ref)
        now = asyncio.get_running_loop().time()
        first = self._early_seen.setdefault(key, now)
        if now - first > EARLY_REPORT_TTL_S:
            log.error("report for unknown attempt %s (%s) dropped after %d s", report.attempt_id,
                      report.provider, EARLY_REPORT_TTL_S)
            del self._early_seen[key]
            return
        if len(self._early) >= EARLY_REPORTS_MAX:
            log.error("too many reports waiting for their attempts: report for %s (%s) dropped",
                      report.attempt_id, report.provider)
            del self._early_seen[key]
            return
        self._early.append(report)

    async def flush_early(self) -> None:
        """Handle again the reports that came before their attempts were stored."""
        if not self._early:
            return
        parked, self._early = self._early, []
        await self.handle_reports(parked)
        waiting = {(r.attempt_id, r.status, r.provider_ref) for r in self._early}
        self._early_seen = {k: v for k, v in self._early_seen.items() if k in waiting}

    async def _store_recordings(self, reports: Sequence[ProviderReport]) -> None:
        """Fetch simulated recordings' audio (two at a time: synthesis and resampling run
        outside the event loop) and store each with its checksum; one row each."""
        sem = asyncio.Semaphore(2)

        async def one(report: ProviderReport) -> dict[str, Any] | None:
            transcript = report.detail.get("transcript")
            if transcript is None:
                return None
            async with sem:
                try:
                    audio = await asyncio.to_thread(self._render_audio, transcript)
                except Exception as exc:  # synthesis is optional: the call still counts
                    self.stats.recordings_failed += 1
                    log.warning("recording of %s not synthesised: %s", report.attempt_id, exc)
                    return None
                stored = await self.recordings.put(report.attempt_id, audio, ".wav")
            return {"id": uuid.uuid4().hex, "attempt_id": report.attempt_id, "provider": report.provider,
                    "provider_ref": report.recording_ref, "media_url": None, "path": str(stored.path),
                    "sha256": stored.sha256, "size_bytes": stored.size_bytes, "duration_s": report.duration_s,
                    "channels": 1, "status": "stored", "tries": 1, "last_error": None,
                    "provider_deleted": False, "created_at": report.at, "stored_at": self.clock.now()}

        rows = [r for r in await asyncio.gather(*(one(r) for r in reports)) if r is not None]
        if rows:
            async with self.db.begin() as conn:
                await conn.execute(insert(recordings_table), rows)
        self.stats.recordings += len(rows)

    def _render_audio(self, transcript: Sequence[Mapping[str, str]]) -> bytes:
        if self._synth is None:
            from contact_engine.recordings.synth import SpeechSynthesizer

            self._synth = SpeechSynthesizer()
        from contact_engine.recordings.synth import Utterance

        return bytes(self._synth.render([Utterance(u["speaker"], u["text"], u["language"]) for u in transcript]))

    async def handle_network(self, now: datetime, limit: int = 5000) -> int:
        """Deliver the simulator's due events: reports, payments, broken promises."""
        if self.network is None:
            return 0
        handled = 0
        while True:
            due = await self.network.due(now, limit)
            if not due:
                return handled
            handled += len(due)
            await self.handle_reports([report_of(e) for e in due if e["kind"] == "report"])
            pays = [(e["account_id"], Decimal(e["amount"]), datetime.fromisoformat(e["at"]), "promise")
                    for e in due if e["kind"] == "payment"]
            broken = {e["account_id"]: (AccountStatus.PROMISE, AccountStatus.ACTIVE)
                      for e in due if e["kind"] == "promise_broken"}
            if pays or broken:
                self._forget([p[0] for p in pays] + list(broken))
                self.stats.collected += await self.accounts.apply_effects(payments_due=pays, only_if_status=broken)

    # -- audit ---------------------------------------------------------------------------
    async def history(self) -> list[HistoryEntry]:
        """The placed attempts with their final outcomes, as the auditor reads them."""
        out = []
        for r in await self.audit.attempt_log():
            placed, known = r["placed_at"], r["outcome_at"]
            if placed.tzinfo is None:
                placed = placed.replace(tzinfo=UTC)
            if known is not None and known.tzinfo is None:
                known = known.replace(tzinfo=UTC)
            out.append(HistoryEntry(at=placed, channel=Channel(r["channel"]), mode=Mode(r["mode"]),
                                    party_id=r["party_id"], contact_point=r["contact_point"],
                                    outcome=Outcome(r["outcome"]) if r["outcome"] else None,
                                    account_id=r["account_id"], outcome_at=known))
        return out

    async def run_audit(self, initial: Mapping[str, Account] | None = None) -> list[Violation]:
        """Re-check the stored attempt log with the independent auditor, per jurisdiction.

        ``initial``: the accounts as imported (holds that outcomes added later are derived
        from the log by the auditor itself); default: the accounts as stored now.
        """
        log_entries = await self.history()
        if initial is None:
            initial = await self.accounts.get_many([e.account_id for e in log_entries])
        by_country: dict[str | None, list[HistoryEntry]] = {}
        for e in log_entries:
            by_country.setdefault(jurisdiction_of(initial[e.account_id]), []).append(e)
        violations: list[Violation] = []
        for country, entries in by_country.items():
            gate = self.gates.gates.get(country) if country else None
            if gate is None:
                violations.extend(Violation("NO-JURISDICTION", e.account_id, e.party_id, e.at,
                                            "attempt on an account without packs") for e in entries)
                continue
            violations.extend(audit(entries, initial, gate.packs))
        return violations

