"""Time zones from what a person types, and the emergency number their zone implies."""

from __future__ import annotations

from importlib import resources

import pytest

from coach.places import emergency_number_for_zone, find_zone

DEFAULT = "DEFAULT-NUMBER"


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("paris", "Europe/Paris"),
        ("Paris", "Europe/Paris"),
        ("  paris  ", "Europe/Paris"),
        ("Europe/Paris", "Europe/Paris"),
        ("europe/paris", "Europe/Paris"),
        ("new york", "America/New_York"),
        ("New York", "America/New_York"),
        ("New_York", "America/New_York"),
        ("America/New_York", "America/New_York"),
        ("Tokyo", "Asia/Tokyo"),
        ("london", "Europe/London"),
        ("toronto", "America/Toronto"),
        ("sydney", "Australia/Sydney"),
        ("auckland", "Pacific/Auckland"),
        ("munich", "Europe/Berlin"),
    ],
)
def test_find_zone(typed: str, zone: str) -> None:
    assert find_zone(typed) == zone


@pytest.mark.parametrize(
    "typed",
    [
        "asdf qwerty",
        "",
        "   ",
        "Mars/Olympus_Mons",
        "../../etc/passwd",
        "/etc/localtime",
        "Europe/" + "x" * 80,
        "paris " * 2000,
        "x" * 100_000,
    ],
)
def test_find_zone_rejects_garbage_and_very_long_input(typed: str) -> None:
    assert find_zone(typed) is None


@pytest.mark.parametrize(
    ("zone", "number"),
    [
        ("Europe/London", "999"),
        ("Europe/Berlin", "112"),
        ("Europe/Paris", "112"),
        ("America/New_York", "911"),
        ("America/Los_Angeles", "911"),
        ("America/Toronto", "911"),
        ("Australia/Sydney", "000"),
        ("Australia/Perth", "000"),
        ("Pacific/Auckland", "111"),
    ],
)
def test_emergency_number_for_zone(zone: str, number: str) -> None:
    assert emergency_number_for_zone(zone, DEFAULT) == number


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "Africa/Nairobi", "UTC", "not/a_zone"])
def test_unlisted_zones_use_the_operator_default(zone: str) -> None:
    assert emergency_number_for_zone(zone, DEFAULT) == DEFAULT


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("London", "999"),
        ("Berlin", "112"),
        ("New York", "911"),
        ("Toronto", "911"),
        ("Sydney", "000"),
        ("Auckland", "111"),
        ("Tokyo", DEFAULT),
    ],
)
def test_typed_city_gives_its_emergency_number(typed: str, number: str) -> None:
    zone = find_zone(typed)
    assert zone is not None
    assert emergency_number_for_zone(zone, DEFAULT) == number


# CLINICAL.md: 911 (US, Canada), 999 (UK), 000 (Australia), 111 (New Zealand). The tz database's
# own zone.tab says which country each zone is in.
_NUMBER_BY_COUNTRY = {"US": "911", "CA": "911", "GB": "999", "AU": "000", "NZ": "111"}


def _zones_of(country: str) -> list[str]:
    table = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    zones = []
    for line in table.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        code, _coords, zone, *_ = line.split("\t")
        if code == country and not zone.startswith("Antarctica/"):
            zones.append(zone)
    return zones


@pytest.mark.parametrize(
    "country",
    [
        pytest.param(
            "US",
        ),
        pytest.param(
            "CA",
        ),
        "GB",
        "AU",
        "NZ",
    ],
)
def test_every_zone_of_a_country_gets_its_number(country: str) -> None:
    zones = _zones_of(country)
    assert zones
    wrong = [
        z for z in zones if emergency_number_for_zone(z, DEFAULT) != _NUMBER_BY_COUNTRY[country]
    ]
    assert wrong == []
