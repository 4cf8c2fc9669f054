"""Every Redis key name of the dispatch component, in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DispatchKeys:
    """Key names under one prefix (e.g. ``"ce:"``)."""

    prefix: str = "ce:"

    @property
    def delayed(self) -> str:
        """Sorted set: intent payloads scored by not_before (epoch seconds)."""
        return f"{self.prefix}dispatch:delayed"

    @property
    def stream(self) -> str:
        """Stream of due intents."""
        return f"{self.prefix}dispatch:stream"

    @property
    def group(self) -> str:
        """Consumer group name of the workers."""
        return "workers"

    def claim(self, intent_id: str) -> str:
        """Idempotency key: SET NX of the intent id before calling the provider."""
        return f"{self.prefix}dispatch:claim:{intent_id}"

    @property
    def leader(self) -> str:
        """Leader lock of the one active scheduler (SET NX PX)."""
        return f"{self.prefix}dispatch:leader"

    @property
    def stats(self) -> str:
        """Hash of dispatch counters (entries reclaimed from stopped workers, ...)."""
        return f"{self.prefix}dispatch:stats"

    def alive(self, worker: str) -> str:
        """Heartbeat of a running worker (expires soon after the worker stops)."""
        return f"{self.prefix}dispatch:alive:{worker}"
