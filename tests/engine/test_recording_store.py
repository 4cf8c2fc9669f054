"""The recording store: checksummed, atomic, never overwrites."""

from __future__ import annotations

import hashlib
from pathlib import Path

from contact_engine.recordings.store import RecordingStore


async def test_put_stores_checksum_and_never_overwrites(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    first = await store.put("abc123", b"RIFF-one", ".wav")
    assert first.sha256 == hashlib.sha256(b"RIFF-one").hexdigest() and first.size_bytes == 8
    assert first.path.read_bytes() == b"RIFF-one" and first.path.parent.name == "ab"
    again = await store.put("abc123", b"RIFF-one", ".wav")
    assert again.path == first.path  # the same bytes: the stored copy
    other = await store.put("abc123", b"RIFF-two", ".wav")
    assert other.path != first.path and first.path.read_bytes() == b"RIFF-one"
    assert other.path.read_bytes() == b"RIFF-two"
    assert store.verify(first.path, first.sha256) and not store.verify(first.path, other.sha256)
    assert sorted(p.name for p in first.path.parent.iterdir()) == sorted([first.path.name, other.path.name])


async def test_unsafe_ids_stay_inside_the_store(tmp_path: Path) -> None:
    stored = await RecordingStore(tmp_path / "rec").put("../../etc/passwd", b"x", "wav")
    assert (tmp_path / "rec").resolve() in stored.path.resolve().parents
    assert stored.path.name.endswith(".wav")
