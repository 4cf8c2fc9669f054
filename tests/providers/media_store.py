"""A minimal stand-in for ``recordings.store.RecordingStore`` (same ``put`` contract).

The recording store is another component built at the same time; the fetcher depends only
on its ``put(attempt_id, data, suffix) -> (path, sha256, size_bytes)`` contract.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Stored:
    path: Path
    sha256: str
    size_bytes: int


class DirStore:
    """Writes ``<root>/<attempt_id><suffix>``; ``stored`` is set after each put."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stored = asyncio.Event()

    async def put(self, attempt_id: str, data: bytes, suffix: str) -> Stored:
        path = self.root / f"{attempt_id}{suffix}"

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

        await asyncio.to_thread(write)
        self.stored.set()
        return Stored(path, hashlib.sha256(data).hexdigest(), len(data))
