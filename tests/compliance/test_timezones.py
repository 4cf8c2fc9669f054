"""Candidate zones of a phone number, and their cache."""

from __future__ import annotations

import pytest

from contact_engine.compliance import timezones


def test_an_invalid_number_has_no_zone_even_after_a_valid_one_with_its_prefix() -> None:
    timezones._PHONE_ZONE_CACHE.clear()
    assert timezones.phone_zones("+12015550123") == ("America/New_York",)
    assert timezones.phone_zones("+1201555012") == ()  # one digit short: no number, no zone
    assert timezones.phone_zones("+8613812345678") == ("Asia/Shanghai",)
    assert timezones.phone_zones("+861381234567") == ()
    assert timezones.phone_zones("+12015550123") == ("America/New_York",)  # from the cache


def test_the_cache_starts_over_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    timezones._PHONE_ZONE_CACHE.clear()
    monkeypatch.setattr(timezones, "PHONE_ZONE_CACHE_MAX", 3)
    numbers = [f"+1201555012{d}" for d in range(5)]
    for n in numbers:
        assert timezones.phone_zones(n) == ("America/New_York",)
    assert len(timezones._PHONE_ZONE_CACHE) <= 3
    assert timezones.phone_zones(numbers[0]) == ("America/New_York",)
