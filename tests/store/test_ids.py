"""Time-ordered row ids (store.ids)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contact_engine.store.ids import sortable_id, sortable_ids


def test_ids_sort_by_their_time_and_never_repeat() -> None:
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    batches = [sortable_ids(t0 + timedelta(milliseconds=ms), 500) for ms in (0, 1, 1000, 86_400_000)]
    for earlier, later in zip(batches, batches[1:], strict=False):
        assert max(earlier) < min(later)
    every = [i for batch in batches for i in batch]
    assert len(set(every)) == len(every) == 2000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in every)
    assert sortable_id(t0)[:12] == batches[0][0][:12] == f"{int(t0.timestamp() * 1000):012x}"


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sortable_ids(datetime(2026, 3, 2, 9, 0), 1)
