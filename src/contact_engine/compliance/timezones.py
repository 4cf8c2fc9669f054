"""Candidate time zones of a party, from its address and its phone number.

A contact window must hold in every candidate zone (Reg F comment 6(b)(1)(i)-1: when the
location is ambiguous, contact only at times convenient in all of them). No candidate at
all means the gate denies with ``TZ-UNKNOWN``: fail closed.
"""

from __future__ import annotations

import importlib.resources
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

from contact_engine.domain import Address

# US states (and DC, territories) -> every zone in use there. Split states list all of
# theirs, so the window must hold in each (conservative when only the state is known).
US_STATE_ZONES: dict[str, tuple[str, ...]] = {
    "AL": ("America/Chicago",), "AK": ("America/Anchorage", "America/Adak"),
    "AZ": ("America/Phoenix",), "AR": ("America/Chicago",), "CA": ("America/Los_Angeles",),
    "CO": ("America/Denver",), "CT": ("America/New_York",), "DE": ("America/New_York",),
    "DC": ("America/New_York",), "FL": ("America/New_York", "America/Chicago"),
    "GA": ("America/New_York",), "HI": ("Pacific/Honolulu",),
    "ID": ("America/Boise", "America/Los_Angeles"), "IL": ("America/Chicago",),
    "IN": ("America/Indiana/Indianapolis", "America/Chicago"), "IA": ("America/Chicago",),
    "KS": ("America/Chicago", "America/Denver"), "KY": ("America/New_York", "America/Chicago"),
    "LA": ("America/Chicago",), "ME": ("America/New_York",), "MD": ("America/New_York",),
    "MA": ("America/New_York",), "MI": ("America/Detroit", "America/Menominee"),
    "MN": ("America/Chicago",), "MS": ("America/Chicago",), "MO": ("America/Chicago",),
    "MT": ("America/Denver",), "NE": ("America/Chicago", "America/Denver"),
    "NV": ("America/Los_Angeles",), "NH": ("America/New_York",), "NJ": ("America/New_York",),
    "NM": ("America/Denver",), "NY": ("America/New_York",), "NC": ("America/New_York",),
    "ND": ("America/Chicago", "America/Denver"), "OH": ("America/New_York",),
    "OK": ("America/Chicago",), "OR": ("America/Los_Angeles", "America/Boise"),
    "PA": ("America/New_York",), "RI": ("America/New_York",), "SC": ("America/New_York",),
    "SD": ("America/Chicago", "America/Denver"), "TN": ("America/Chicago", "America/New_York"),
    "TX": ("America/Chicago", "America/Denver"), "UT": ("America/Denver",),
    "VT": ("America/New_York",), "VA": ("America/New_York",),
    "WA": ("America/Los_Angeles",), "WV": ("America/New_York",), "WI": ("America/Chicago",),
    "WY": ("America/Denver",), "PR": ("America/Puerto_Rico",), "GU": ("Pacific/Guam",),
    "VI": ("America/St_Thomas",),
}


@lru_cache(maxsize=1)
def _country_zones() -> dict[str, tuple[str, ...]]:
    """Country code -> zones, from the tzdata package's zone.tab (no network)."""
    text = importlib.resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text()
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        cc, _coords, zone = line.split("\t")[:3]
        out.setdefault(cc, []).append(zone)
    return {cc: tuple(zones) for cc, zones in out.items()}


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=65536)
def address_zones(country: str | None, region: str | None, timezone: str | None) -> tuple[str, ...]:
    """Zones the address points at; empty when it does not determine any."""
    if timezone:
        return (timezone,) if valid_zone(timezone) else ()
    if not country:
        return ()
    cc = country.upper()
    if cc == "US":
        return US_STATE_ZONES.get((region or "").upper().strip(), ())
    if cc == "CN":  # one legal zone for the whole mainland (UTC+8)
        return ("Asia/Shanghai",)
    zones = _country_zones().get(cc, ())
    return zones if len(zones) == 1 else ()


def address_zone(address: Address) -> ZoneInfo | None:
    """The one zone an address names (None when it names none or several)."""
    zones = address_zones(address.country, address.region, address.timezone)
    return ZoneInfo(zones[0]) if len(zones) == 1 else None


_PHONE_ZONE_CACHE: dict[str, tuple[str, ...]] = {}
#: numbers remembered at most (about 150 bytes each); the cache starts over when full
PHONE_ZONE_CACHE_MAX = 200_000


def phone_zones(e164: str) -> tuple[str, ...]:
    """Zones of a phone number from its prefix; empty when unknown (or not a valid number).

    Cached by the whole number: parsing and typing a number costs tens of microseconds
    and the gate asks for the same numbers again and again. (A prefix is not enough: an
    invalid number has no zone even where a valid one with its prefix has.)
    """
    found = _PHONE_ZONE_CACHE.get(e164)
    if found is None:
        found = _phone_zones(e164)
        if len(_PHONE_ZONE_CACHE) >= PHONE_ZONE_CACHE_MAX:
            _PHONE_ZONE_CACHE.clear()
        _PHONE_ZONE_CACHE[e164] = found
    return found


def _phone_zones(e164: str) -> tuple[str, ...]:
    try:
        num = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = pn_timezone.time_zones_for_number(num)
    return tuple(z for z in zones if z != "Etc/Unknown" and valid_zone(z))


def is_phone(contact_point: str) -> bool:
    return contact_point.startswith("+")


def candidate_zones(address: Address, contact_point: str) -> tuple[tuple[str, ...], str | None]:
    """(all candidate zones, primary zone) for contacting ``contact_point``.

    The primary zone (for counting local calendar days) is the address zone when known,
    else the phone number's.
    """
    a = address_zones(address.country, address.region, address.timezone)
    p = phone_zones(contact_point) if is_phone(contact_point) else ()
    return _combined(a, p)


@lru_cache(maxsize=4096)  # distinct zone-set pairs are few; the gate asks once per attempt
def _combined(a: tuple[str, ...], p: tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
    """candidate_zones' answer for address zones ``a`` and phone zones ``p``."""
    return tuple(sorted(set(a) | set(p))), a[0] if a else (p[0] if p else None)
