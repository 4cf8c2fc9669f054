"""Helpers shared by the CLI modules of every component."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from rich.console import Console

from contact_engine import runtime

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def run(coro: Coroutine[Any, Any, T], *, long_running: bool = False) -> T:
    """Run one coroutine to completion for a CLI command (on uvloop when installed).

    ``long_running``: a process that serves or simulates for long (worker, scheduler,
    serve, demo): the cycle collector is tuned for it first (``runtime.tune_gc``).
    """
    if long_running:
        runtime.tune_gc()
    return runtime.run(coro)
