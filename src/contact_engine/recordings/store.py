"""The recording store: call audio on disk, checksummed, never overwritten.

A recording is evidence. ``put`` writes to a temporary file in the target folder, fsyncs
it, then renames it into place (atomic on POSIX) and fsyncs the folder, so a crash leaves
either the whole file or nothing. A second ``put`` for the same attempt with the same bytes
returns the stored copy; with different bytes it is stored beside the first under a name
carrying its checksum: nothing is ever replaced. ``verify`` recomputes the sha256.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9_-]")  # no dots: an id can never climb out of the store


@dataclass(frozen=True, slots=True)
class StoredRecording:
    """Where a recording lies and what it must hash to."""

    path: Path
    sha256: str
    size_bytes: int


def sha256_of(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class RecordingStore:
    """Recordings under ``root``, sharded by the first two characters of the attempt id."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _target(self, attempt_id: str, suffix: str) -> Path:
        if not attempt_id:
            raise ValueError("a recording needs an attempt id")
        name = _SAFE.sub("_", attempt_id)
        return self.root / name[:2] / f"{name}.{_SAFE.sub('', suffix)}"

    def put_sync(self, attempt_id: str, data: bytes, suffix: str = ".wav") -> StoredRecording:
        """Store ``data`` durably (blocking); see the module docstring."""
        digest = hashlib.sha256(data).hexdigest()
        target = self._target(attempt_id, suffix)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            if sha256_of(target) == digest:
                return StoredRecording(target, digest, target.stat().st_size)
            target = target.with_name(f"{target.stem}.{digest[:12]}{target.suffix}")
            if target.exists() and sha256_of(target) == digest:
                return StoredRecording(target, digest, target.stat().st_size)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return StoredRecording(target, digest, len(data))

    async def put(self, attempt_id: str, data: bytes, suffix: str = ".wav") -> StoredRecording:
        """Store ``data`` durably without blocking the event loop."""
        return await asyncio.to_thread(self.put_sync, attempt_id, data, suffix)

    def verify(self, path: Path | str, sha256: str) -> bool:
        """True when the file exists and still hashes to ``sha256``."""
        p = Path(path)
        return p.is_file() and sha256_of(p) == sha256
