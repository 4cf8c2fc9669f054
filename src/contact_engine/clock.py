"""Clocks: the system clock and a simulated clock for time travel in demos and tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where the engine reads the time and waits."""

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SimulatedClock:
    """A clock that only moves when told to; ``sleep`` advances it instantly."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("a clock does not run backwards")
        self._now += delta

    def set(self, instant: datetime) -> None:
        instant = instant.astimezone(UTC)
        if instant < self._now:
            raise ValueError("a clock does not run backwards")
        self._now = instant

    async def sleep(self, seconds: float) -> None:
        self.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)


class ShiftedClock:
    """Wall-clock time moved to another instant: ``start`` was the time at epoch ``anchor``.

    Every process given the same (start, anchor) shares one consistent clock: staging
    runs and the multi-process tests place "10:00 local time" whenever they run. With
    ``scale`` > 1 the clock runs faster than real time.
    """

    def __init__(self, start: datetime, anchor: float, scale: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("ShiftedClock needs a timezone-aware start")
        if scale <= 0:
            raise ValueError("scale must be positive")
        self._start = start.astimezone(UTC)
        self._anchor = anchor
        self._scale = scale

    def now(self) -> datetime:
        import time

        return self._start + timedelta(seconds=(time.time() - self._anchor) * self._scale)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self._scale)
