"""Candidate zones of a phone number, and their cache."""

from __future__ import annotations

import pytest

from contact_engine.compliance import timezones
from contact_engine.domain import Address


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


def test_candidate_zones_from_address_and_phone_and_their_memo() -> None:
    """Every zone of the address and of the number, sorted; the address's zone is the
    primary one, else the number's; none at all means no zone (fail closed). Asked again,
    the answers are the same (from the memo of zone-set pairs)."""
    timezones._combined.cache_clear()
    cases = [
        (Address(country="US", region="FL"), "+12125550123",
         (("America/Chicago", "America/New_York"), "America/New_York")),
        (Address(country="US", region="CA"), "+12125550123",
         (("America/Los_Angeles", "America/New_York"), "America/Los_Angeles")),
        (Address(country="CN"), "+8613812345678", (("Asia/Shanghai",), "Asia/Shanghai")),
        (Address(), "+12125550123", (("America/New_York",), "America/New_York")),
        (Address(), "a@example.com", ((), None)),
        (Address(country="US", region="XX"), "+1201555012", ((), None)),
    ]
    for _ in range(2):
        for address, point, want in cases:
            assert timezones.candidate_zones(address, point) == want
    assert timezones._combined.cache_info().currsize == len({(timezones.address_zones(a.country, a.region, a.timezone),
                                             timezones.phone_zones(p) if p.startswith("+") else ())
                                            for a, p, _w in cases})
