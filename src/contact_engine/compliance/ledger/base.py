"""The ledger contract shared by the Redis ledger and its in-memory twin.

Two primitives carry every gate operation:

* :meth:`Ledger.reserve`: check every flag and counter group of one decision and, only if
  all pass, increment the counters, take the in-flight lock and store the reservation,
  atomically.
* :meth:`Ledger.apply`: apply a list of counter and flag operations atomically, guarded by
  a reservation key that is deleted (so commit and release happen at most once).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

# Group, ReserveRequest and ReserveResult are NamedTuples (immutable, like frozen
# dataclasses) because the gate builds several per decision on its hot path and a frozen
# dataclass costs several times more to construct.


class Group(NamedTuple):
    """Passes when ``sum(keys) < limit`` (op "lt") or ``sum(keys) >= limit`` (op "ge").

    Bucket ``i`` is the key ``stem + days[i]``. ``first_day``: when the buckets are
    consecutive local days (``days`` their yyyymmdd, oldest first), the first one's day
    number since 1970-01-01, so that a ledger may build the keys itself (the batch script
    does: a 30-day window is one stem, not 30 key names); -1 for any other suffixes.
    """

    stem: str
    days: tuple[str, ...]
    limit: int
    op: str = "lt"
    counts: bool = False  # increment the last bucket when the reservation succeeds
    ttl_s: int = 0
    first_day: int = -1

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple([self.stem + d for d in self.days])

    @property
    def incr(self) -> str | None:
        """The bucket incremented when the reservation succeeds (None: none)."""
        return self.stem + self.days[-1] if self.counts else None


class ReserveRequest(NamedTuple):
    now: int  # epoch seconds
    flags_key: str = ""  # the hash holding the flags
    flags: tuple[str, ...] = ()  # fields that deny while present: "p" or a lapse epoch > now
    groups: tuple[Group, ...] = ()
    lock: str | None = None  # deny while present; taken on success
    lock_ttl_s: int = 900
    reservation_key: str | None = None
    payload: str = ""
    reservation_ttl_s: int = 7 * 86400
    dry_run: bool = False


class ReserveResult(NamedTuple):
    ok: bool
    failed_flags: tuple[int, ...] = ()  # indexes into flags
    failed_groups: tuple[int, ...] = ()  # indexes into groups
    lock_held: bool = False


@dataclass(frozen=True, slots=True)
class Op:
    """One write: incr / decr (floored at 0) a counter, set / del a key, hset a flag."""

    kind: str  # "incr" | "decr" | "set" | "del" | "hset"
    key: str
    value: str = ""
    ttl_s: int = 0
    field: str = ""


@dataclass(slots=True)
class Snapshot:
    values: dict[str, str | None] = field(default_factory=dict)


class Ledger(ABC):
    @abstractmethod
    async def reserve(self, req: ReserveRequest) -> ReserveResult: ...

    async def reserve_many(self, reqs: Sequence[ReserveRequest]) -> list[ReserveResult]:
        return [await self.reserve(r) for r in reqs]

    async def reserve_chunks(self, chunks: Iterable[Sequence[ReserveRequest]]
                             ) -> list[ReserveResult]:
        """Reserve chunk after chunk, in order (each reservation atomic on its own).

        ``chunks`` may be a lazy generator: a ledger may send a chunk to the server and
        produce the next one while the server works, reading the replies at the end."""
        out: list[ReserveResult] = []
        for chunk in chunks:
            out += await self.reserve_many(chunk)
        return out

    @abstractmethod
    async def apply(self, guard: str | None, ops: Sequence[Op]) -> bool:
        """Apply ``ops``; with a guard, only if the guard key existed (it is deleted)."""

    async def apply_many(self, items: Sequence[tuple[str | None, Sequence[Op]]]) -> list[bool]:
        """``apply`` for many (guard, ops) pairs, each atomic on its own, in order."""
        return [await self.apply(guard, ops) for guard, ops in items]

    @abstractmethod
    async def get_many(self, keys: Sequence[str]) -> list[str | None]: ...

    @abstractmethod
    async def get_fields(self, key: str, fields: Sequence[str]) -> list[str | None]: ...

    async def read_many(self, items: Sequence[tuple[str, Sequence[str], Sequence[str]]]
                        ) -> list[tuple[list[str | None], list[str | None]]]:
        """For each (hash key, fields, keys): the fields' values and the keys' values.

        What explaining a batch of denials reads; a ledger may read it all in one round
        trip."""
        return [(await self.get_fields(h, f), await self.get_many(k)) for h, f, k in items]

    async def aclose(self) -> None:  # noqa: B027 - optional
        """Release connections."""
