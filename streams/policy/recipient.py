"""Where the recipient is, for the jurisdiction rules: their local time and their state or province.

Local time (quiet hours, J2):
- the intent's `timezone`, an IANA name read with `zoneinfo` (the system's tz database, else the
  `tzdata` package); a name zoneinfo does not know means the local time cannot be told. For a
  phone number whose prefix names zones that do not include it, those zones count as well;
- otherwise, for a phone number, every time zone its prefix maps to in phonenumbers' timezone data
  (`phonenumbers.timezone.time_zones_for_number`): `+1 415` is America/Los_Angeles alone, `+1 800`
  (toll-free) maps to every NANP zone, `+44 7911` to London and the Crown dependencies. The intent
  must be inside the window in all of them. `Etc/Unknown` means the local time cannot be told;
- any other address (email, social_dm, post) gives no time zone of its own.

Country: a phone number's own (`phonenumbers.region_code_for_number`), which context.py sets
beside the declared jurisdiction when they differ (both rule sets apply).

State or province (a subdivision's quiet hours replace its country's): the intent's `region` when
given (and, when the number's area code names another, that one too: quiet_hours.py); otherwise,
for a North American number (+1) of the US or Canada, the one its area code is
in: phonenumbers' English geocoder (`phonenumbers.geocoder.description_for_number`) describes the
number as a state or province ("Florida", "Ontario", "Washington State") or a place in one ("San
Francisco, CA"), which the tables below turn into an ISO 3166-2 code (US-FL, CA-ON, US-CA).
Non-geographic numbers (toll-free 8XX, 5XX, 900) have no description: the state cannot be told.
Elsewhere only `region` gives a subdivision.

Both come from the phonenumbers release installed (its metadata version is its package version,
`phonenumbers.__version__`); lookups are cached per number, so the hot path parses a number once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as number_timezones

from streams.policy.addresses import parsed_number
from streams.policy.quick_init import quick_init

UNKNOWN_ZONE: Final = "Etc/Unknown"
_DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

US_STATES: Final = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "Washington State": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
    "Washington D.C.": "DC", "District of Columbia": "DC",
}  # fmt: skip
CA_PROVINCES: Final = {
    "Alberta": "AB", "British Columbia": "BC", "British Colombia": "BC", "Manitoba": "MB",
    "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL", "Newfoundland": "NL", "Nova Scotia": "NS", "Ontario": "ON",
    "Prince Edward Island": "PE", "Quebec": "QC", "Québec": "QC", "Saskatchewan": "SK",
    "Northwest Territories": "NT", "Nunavut": "NU", "Yukon": "YT",
}  # fmt: skip
# "British Colombia" is how phonenumbers' data spells some BC prefixes. Descriptions naming several
# provinces ("Northwest Territories/Nunavut/Yukon") or only the country map to nothing.
_NAMES: Final = {"US": US_STATES, "CA": CA_PROVINCES}
_CODE_SUFFIX: Final = re.compile(r",\s*([A-Z]{2})$")


@quick_init
@dataclass(frozen=True, slots=True)
class NumberFacts:
    """What a phone number's prefix says about where its holder is."""

    zone_names: tuple[str, ...]
    zones: tuple[tuple[str, ZoneInfo], ...] | None  # None: the number does not tell the time zone
    subdivision: str | None  # ISO 3166-2, US and Canadian numbers only
    description: str
    country: str | None = None  # ISO 3166-1 of the number (+1 613 → CA); None: non-geographic


@dataclass(frozen=True, slots=True)
class LocalTime:
    """The intent's instant on the recipient's clock, in one of their possible time zones."""

    zone: str
    moment: datetime

    @property
    def weekday(self) -> int:
        return self.moment.weekday()

    @property
    def minute(self) -> int:
        return self.moment.hour * 60 + self.moment.minute

    def __str__(self) -> str:
        moment = self.moment
        return f"{_DAYS[moment.weekday()]} {moment.hour:02d}:{moment.minute:02d} {self.zone}"


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo | None:
    """The IANA zone `name`, or None when zoneinfo does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


@lru_cache(maxsize=4096)
def _zones_named(names: tuple[str, ...]) -> tuple[tuple[str, ZoneInfo], ...] | None:
    """The zones of a prefix's names, built once per distinct list and shared by every number
    with it, so that number_facts entries stay small (a toll-free number names every NANP zone)."""
    if not names or UNKNOWN_ZONE in names:
        return None
    found = tuple((n, z) for n in names if (z := zone(n)) is not None)
    return found if len(found) == len(names) else None


_CALLING_CODE_ZONES: dict[int, tuple[str, ...]] = {}  # at most one per calling code


def _calling_code_zones(number: phonenumbers.PhoneNumber) -> tuple[str, ...]:
    """`time_zones_for_number` of a valid number that is not geographical (a mobile outside the
    few countries whose mobiles have a place, a toll-free number): the zones of its calling code,
    the same for every such number, so asked once per calling code."""
    code = number.country_code or 0
    found = _CALLING_CODE_ZONES.get(code)
    if found is None:
        found = _CALLING_CODE_ZONES[code] = tuple(number_timezones.time_zones_for_number(number))
    return found


@lru_cache(maxsize=131072)
def number_facts(e164: str) -> NumberFacts:
    """Time zones and subdivision of a normalized (E.164) number, from phonenumbers' data. Cached
    per number: keys are E.164 (at most 16 characters) and entries share their zone tuples, so
    the cache stays within a few hundred bytes an entry (~50 MiB when full).

    The number is classified once, by its normalization (`parsed_number` keeps its type and
    region): phonenumbers' `time_zones_for_number` and `description_for_number` each classify it
    again before the same prefix lookups, which this makes directly for a geographical
    (fixed-line or mobile) number, the common case."""
    try:
        number, kind, country = parsed_number(e164)
    except phonenumbers.NumberParseException:
        return NumberFacts((), None, None, "", None)
    calling_code = number.country_code or 0  # a parsed number always has one
    geographical = phonenumbers.is_number_type_geographical(kind, calling_code)
    if geographical:
        names = tuple(number_timezones.time_zones_for_geographical_number(number))
    elif kind == phonenumbers.PhoneNumberType.UNKNOWN:
        names = tuple(number_timezones.time_zones_for_number(number))
    else:
        names = _calling_code_zones(number)
    zones = _zones_named(names)
    description = ""
    subdivision = None
    if country in _NAMES:
        if geographical:
            description = geocoder.description_for_valid_number(number, "en")
        else:
            description = geocoder.description_for_number(number, "en")
        subdivision = subdivision_from_description(country, description)
    found_country = country if country and country != "001" else None
    return NumberFacts(names, zones, subdivision, description, found_country)


def zones_for(
    channel: str, address: str, timezone: str | None, phone: bool
) -> tuple[tuple[str, ZoneInfo], ...] | str:
    """Every time zone the recipient may be in, by name: `timezone` (the intent's), else the zones
    of a phone number's prefix. A string saying why when that cannot be told. A declared
    `timezone` the number's prefix contradicts (a +1 415 number declared America/New_York) does
    not replace the prefix's zones: both count (issue 11 §6, a declared field cannot switch a
    window off). A prefix that names no zone, or several including the declared one (toll-free),
    does not contradict it."""
    if timezone is not None:
        found = zone(timezone)
        if found is None:
            return f"the intent's timezone {timezone[:64]!a} is not an IANA time zone"
        declared = ((timezone, found),)
        if phone:
            facts = number_facts(address)
            if facts.zones is not None and timezone not in facts.zone_names:
                return declared + facts.zones
        return declared
    if not phone:
        return f"an address on {channel} has no time zone and the intent gives none"
    facts = number_facts(address)
    if facts.zones is None:
        shown = ", ".join(facts.zone_names) or "no time zone"
        return f"the number's prefix maps to {shown} and the intent gives no timezone"
    return facts.zones


def subdivision_from_description(country: str, description: str) -> str | None:
    """`("US", "San Francisco, CA")` → US-CA; `("CA", "Ontario")` → CA-ON; else None."""
    names = _NAMES.get(country)
    if names is None or not description:
        return None
    code = names.get(description.strip())
    if code is None:
        match = _CODE_SUFFIX.search(description)
        if match is not None and match.group(1) in names.values():
            code = match.group(1)
    return None if code is None else f"{country}-{code}"
