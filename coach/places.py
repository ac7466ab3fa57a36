"""Time zones and emergency numbers: what a person's zone tells about where they are."""

from __future__ import annotations

from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# CLINICAL.md: 112 (EU and much of the world), 911 (US, Canada; Mexico too), 999 (UK), 000
# (Australia), 111 (New Zealand). A zone's country comes from tzdata's zone.tab; other
# countries use the operator's default.
_NUMBER_BY_COUNTRY = {
    "GB": "999",
    "US": "911",
    "CA": "911",
    "MX": "911",
    "AU": "000",
    "NZ": "111",
}
_EU_COUNTRIES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE "
    "IS NO LI CH".split()
)
# Link names that zone.tab does not list.
_LEGACY_COUNTRY = {
    "GB": "GB",
    "Europe/Belfast": "GB",
    "Europe/Jersey": "JE",
    "Europe/Guernsey": "GG",
    "Europe/Isle_of_Man": "IM",
}


@cache
def _country_by_zone() -> dict[str, str]:
    table: dict[str, str] = dict(_LEGACY_COUNTRY)
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _coordinates, zone, *_ = line.split("\t")
            table.setdefault(zone, country)
    return table


def country_for_zone(zone: str | None) -> str | None:
    """The ISO country code of a time zone ("Europe/Berlin" -> "DE"), None when it names none."""
    if not zone:
        return None
    if zone.startswith("US/"):
        return "US"
    if zone.startswith("Canada/"):
        return "CA"
    return _country_by_zone().get(zone)


def emergency_number_for_zone(zone: str, default: str) -> str:
    country = country_for_zone(zone)
    if country is None:
        return default
    if country in _NUMBER_BY_COUNTRY:
        return _NUMBER_BY_COUNTRY[country]
    # Crown dependencies use 999 like the UK; EU/EEA countries answer 112.
    if country in ("JE", "GG", "IM"):
        return "999"
    return "112" if country in _EU_COUNTRIES else default


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
        # Cities as Spanish, German and French speakers write them.
        "londres": "Europe/London",
        "münchen": "Europe/Berlin",
        "muenchen": "Europe/Berlin",
        "köln": "Europe/Berlin",
        "koeln": "Europe/Berlin",
        "frankfurt": "Europe/Berlin",
        "düsseldorf": "Europe/Berlin",
        "stuttgart": "Europe/Berlin",
        "leipzig": "Europe/Berlin",
        "dresden": "Europe/Berlin",
        "wien": "Europe/Vienna",
        "graz": "Europe/Vienna",
        "salzburg": "Europe/Vienna",
        "zürich": "Europe/Zurich",
        "genf": "Europe/Zurich",
        "genève": "Europe/Zurich",
        "geneve": "Europe/Zurich",
        "bern": "Europe/Zurich",
        "basel": "Europe/Zurich",
        "lyon": "Europe/Paris",
        "marseille": "Europe/Paris",
        "toulouse": "Europe/Paris",
        "nice": "Europe/Paris",
        "bordeaux": "Europe/Paris",
        "lille": "Europe/Paris",
        "nantes": "Europe/Paris",
        "strasbourg": "Europe/Paris",
        "bruxelles": "Europe/Brussels",
        "bruselas": "Europe/Brussels",
        "brüssel": "Europe/Brussels",
        "québec": "America/Toronto",
        "quebec": "America/Toronto",
        "sevilla": "Europe/Madrid",
        "valencia": "Europe/Madrid",
        "bilbao": "Europe/Madrid",
        "málaga": "Europe/Madrid",
        "malaga": "Europe/Madrid",
        "zaragoza": "Europe/Madrid",
        "palma": "Europe/Madrid",
        "las palmas": "Atlantic/Canary",
        "tenerife": "Atlantic/Canary",
        "ciudad de méxico": "America/Mexico_City",
        "cdmx": "America/Mexico_City",
        "méxico": "America/Mexico_City",
        "mexico": "America/Mexico_City",
        "guadalajara": "America/Mexico_City",
        "nueva york": "America/New_York",
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
