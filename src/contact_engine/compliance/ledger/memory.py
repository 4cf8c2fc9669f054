"""The in-memory ledger: the same contract as the Redis ledger, for simulation, dry runs
and ``gate check``. Single-process; atomic because it never awaits mid-operation."""

from __future__ import annotations

from collections.abc import Sequence

from contact_engine.compliance.ledger.base import Ledger, Op, ReserveRequest, ReserveResult


class MemoryLedger(Ledger):
    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._expiry: dict[str, float] = {}
        self.now: float = 0.0  # the ledger's notion of time for expiry (set by reserve)

    def _get(self, key: str) -> str | None:
        exp = self._expiry.get(key)
        if exp is not None and exp <= self.now:
            self._data.pop(key, None)
            self._expiry.pop(key, None)
        return self._data.get(key)

    def _set(self, key: str, value: str, ttl_s: int) -> None:
        self._data[key] = value
        if ttl_s > 0:
            self._expiry[key] = self.now + ttl_s
        else:
            self._expiry.pop(key, None)

    def _int(self, key: str) -> int:
        v = self._get(key)
        return int(v) if v is not None else 0

    async def reserve(self, req: ReserveRequest) -> ReserveResult:
        self.now = max(self.now, req.now)
        failed_flags = tuple(
            i for i, f in enumerate(req.flags)
            if (v := self._get(f"{req.flags_key}\x00{f}")) is not None
            and (v == "p" or float(v) > req.now)
        )
        failed_groups = []
        for i, g in enumerate(req.groups):
            total = sum(self._int(k) for k in g.keys)
            if (total >= g.limit) if g.op == "lt" else (total < g.limit):
                failed_groups.append(i)
        lock_held = req.lock is not None and self._get(req.lock) is not None
        ok = not failed_flags and not failed_groups and not lock_held
        if ok and not req.dry_run:
            for g in req.groups:
                if g.incr:
                    had = self._get(g.incr) is not None
                    self._set(g.incr, str(self._int(g.incr) + 1), 0)
                    if not had and g.ttl_s:
                        self._expiry[g.incr] = self.now + g.ttl_s
            if req.lock:
                self._set(req.lock, "1", req.lock_ttl_s)
            if req.reservation_key:
                self._set(req.reservation_key, req.payload, req.reservation_ttl_s)
        return ReserveResult(ok, failed_flags, tuple(failed_groups), lock_held)

    async def apply(self, guard: str | None, ops: Sequence[Op]) -> bool:
        if guard is not None:
            if self._get(guard) is None:
                return False
            self._data.pop(guard, None)
            self._expiry.pop(guard, None)
        for op in ops:
            if op.kind == "incr":
                had = self._get(op.key) is not None
                self._data[op.key] = str(self._int(op.key) + 1)
                if not had and op.ttl_s:
                    self._expiry[op.key] = self.now + op.ttl_s
            elif op.kind == "decr":
                v = self._int(op.key)
                if v > 0:
                    self._data[op.key] = str(v - 1)
            elif op.kind == "hset":
                self._data[f"{op.key}\x00{op.field}"] = op.value
            elif op.kind == "set":
                self._set(op.key, op.value, op.ttl_s)
            elif op.kind == "del":
                self._data.pop(op.key, None)
                self._expiry.pop(op.key, None)
        return True

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        return [self._get(k) for k in keys]

    async def get_fields(self, key: str, fields: Sequence[str]) -> list[str | None]:
        return [self._get(f"{key}\x00{f}") for f in fields]

    def advance(self, now: float) -> None:
        self.now = max(self.now, now)
