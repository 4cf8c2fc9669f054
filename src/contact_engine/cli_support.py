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
    """Run one coroutine to completion for a CLI command (``runtime.run``: on uvloop when
    installed; ``long_running`` tunes the cycle collector first)."""
    return runtime.run(coro, long_running=long_running)
