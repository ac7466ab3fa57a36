"""Time zones and emergency numbers: what a person's zone tells about where they are."""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# CLINICAL.md: 112 (EU and much of the world), 911 (US, Canada), 999 (UK), 000 (Australia),
# 111 (New Zealand). Zones not listed use the operator's default.
_NUMBER_BY_ZONE_PREFIX: tuple[tuple[str, str], ...] = (
    ("Europe/London", "999"),
    ("Europe/Belfast", "999"),
    ("Europe/Dublin", "112"),
    ("Europe/", "112"),
    ("Australia/", "000"),
    ("Pacific/Auckland", "111"),
    ("Pacific/Chatham", "111"),
    ("America/New_York", "911"),
    ("America/Chicago", "911"),
    ("America/Denver", "911"),
    ("America/Phoenix", "911"),
    ("America/Los_Angeles", "911"),
    ("America/Anchorage", "911"),
    ("America/Detroit", "911"),
    ("America/Indiana/", "911"),
    ("America/Kentucky/", "911"),
    ("America/Boise", "911"),
    ("America/Toronto", "911"),
    ("America/Vancouver", "911"),
    ("America/Edmonton", "911"),
    ("America/Winnipeg", "911"),
    ("America/Halifax", "911"),
    ("America/St_Johns", "911"),
    ("America/Regina", "911"),
    ("Pacific/Honolulu", "911"),
    ("US/", "911"),
    ("Canada/", "911"),
)


def emergency_number_for_zone(zone: str, default: str) -> str:
    for prefix, number in _NUMBER_BY_ZONE_PREFIX:
        if zone == prefix or (prefix.endswith("/") and zone.startswith(prefix)):
            return number
    return default


@cache
def _zones_by_key() -> dict[str, str]:
    """Lower-case lookup keys -> IANA name: the full name and its city part ("paris")."""
    index: dict[str, str] = {}
    for name in sorted(available_timezones()):
        if name.startswith(("Etc/", "SystemV/")) or name in {"Factory", "localtime"}:
            continue
        index.setdefault(name.lower(), name)
        city = name.rsplit("/", 1)[-1].replace("_", " ").lower()
        index.setdefault(city, name)
    for alias, name in {
        "utc": "UTC",
        "gmt": "Europe/London",
        "uk": "Europe/London",
        "nyc": "America/New_York",
        "la": "America/Los_Angeles",
        "san francisco": "America/Los_Angeles",
        "washington": "America/New_York",
        "boston": "America/New_York",
        "seattle": "America/Los_Angeles",
        "munich": "Europe/Berlin",
        "hamburg": "Europe/Berlin",
        "barcelona": "Europe/Madrid",
        "milan": "Europe/Rome",
        "manchester": "Europe/London",
        "edinburgh": "Europe/London",
        "melbourne": "Australia/Melbourne",
        "wellington": "Pacific/Auckland",
        "delhi": "Asia/Kolkata",
        "mumbai": "Asia/Kolkata",
        "beijing": "Asia/Shanghai",
        "montreal": "America/Toronto",
    }.items():
        index.setdefault(alias, name)
    return index


def find_zone(text: str) -> str | None:
    """An IANA zone from what a person typed: "Europe/Paris", "paris", "New York"."""
    key = " ".join(text.strip().lower().replace("_", " ").split())
    if not key or len(key) > 64:
        return None
    found = _zones_by_key().get(key) or _zones_by_key().get(key.replace(" ", "_"))
    if found:
        return found
    try:
        ZoneInfo(text.strip())
        return text.strip()
    except (ZoneInfoNotFoundError, ValueError):
        return None
