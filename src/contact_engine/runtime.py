"""How contact-engine's processes run their event loop.

``run`` runs a coroutine on uvloop's event loop when uvloop is installed (a Linux and
macOS dependency of the project), else on asyncio's own; the engine behaves the same on
both, uvloop only spends less time in the loop itself. ``tune_gc`` makes Python's cycle
collector run less often: the engine allocates many short-lived objects per contact,
which die by reference counting, while the long-lived ones (an account cache, policy
packs, imported modules) would otherwise be traversed again and again.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: the cycle collector's thresholds in long-running commands (Python's default: 700, 10, 10)
GC_THRESHOLDS = (50_000, 20, 100)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when uvloop is installed, else None (asyncio's default loop)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is installed wherever it builds
        return None
    return uvloop.new_event_loop


def loop_name() -> str:
    """The event loop ``run`` uses: ``uvloop`` or ``asyncio``."""
    return "uvloop" if loop_factory() is not None else "asyncio"


def tune_gc() -> None:
    """Move what exists now out of the collector's sight and raise its thresholds.

    For long-running commands, called after start-up: objects that exist now (modules,
    settings, compiled policies) are never collected (``gc.freeze``); objects in
    reference cycles created later are still collected, less often.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run(coro: Coroutine[Any, Any, T], *, long_running: bool = False) -> T:
    """Run ``coro`` to completion on a new event loop (uvloop's when installed).

    ``long_running``: a process that serves or simulates for long (worker, scheduler,
    serve, demo, a shard, a benchmark): the cycle collector is tuned first (``tune_gc``).
    """
    if long_running:
        tune_gc()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(coro)
