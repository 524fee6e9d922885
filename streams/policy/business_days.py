"""Business-day deadlines in the complainant's calendar (issue 15 §4: the DPO acknowledges a
complaint within 5 business days, policy §10).

**The rule** (`deadline`), for a complaint received at instant `at`:
1. Read `at` as a local date in the complainant's time zone (`zone_for`): the record's `timezone`
   when it is a valid IANA name, else the country's zone in COUNTRY_ZONES, else UTC+14.
2. The day of receipt is day 0 and never counts, business day or not: counting starts on the
   next local calendar day.
3. A business day is a local date that is neither a weekend day of the country (the `holidays`
   package's `weekend`: Friday and Saturday in Oman, Saturday and Sunday elsewhere) nor one of its
   public holidays (`holidays.country_holidays(country, subdiv=...)`, default category `public`,
   with the subdivision of the record's ISO 3166-2 `region` when the package knows it).
4. The deadline is the end of the 5th business day: the instant local midnight begins the next
   calendar day. An ack dated before it is in time; once the clock reaches it, the complaint is
   overdue.

So a US complaint on Monday 2026-06-01 at 10:00 New York time has Tue-Fri and Mon 8 June as its
business days, and is overdue from 2026-06-09T00:00-04:00; one received on Saturday counts
Monday to Friday.

Strict where unsure (fail closed: an early reminder harms nobody, a late one breaks the policy):
a country the package does not know has a Saturday-Sunday weekend and no holidays; a region the
package does not know for that country gives the national calendar (fewer holidays); a country
with several zones and no `timezone` uses its easternmost mainland zone (the earliest midnight);
an unknown country, UTC+14 (the earliest midnight on Earth). Calendars are built lazily and cached
per (country, subdivision): the package computes each year once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from streams.policy.times import MAX_INSTANT

ACK_BUSINESS_DAYS: Final = 5
SAT_SUN: Final = frozenset({5, 6})  # date.weekday(): Monday is 0
# Easternmost mainland zone of the countries the jurisdiction table ships (its earliest midnight).
COUNTRY_ZONES: Final = {
    "US": "America/New_York",
    "CA": "America/St_Johns",
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "IN": "Asia/Kolkata",
    "CH": "Europe/Zurich",
    "OM": "Asia/Muscat",
}
EARLIEST_ZONE: Final = "Etc/GMT-14"  # UTC+14 (POSIX signs are inverted)
# No run of non-business days is this long anywhere; bounds the loop whatever the data says.
_MAX_SCAN_DAYS: Final = 90


class Calendar:
    """The weekend and public holidays of one country (and subdivision)."""

    __slots__ = ("_holidays", "country", "subdivision", "weekend")

    def __init__(self, country: str, subdivision: str | None = None) -> None:
        self.country = country
        self.subdivision = subdivision
        self._holidays: Any = None
        self.weekend: frozenset[int] = SAT_SUN
        try:
            found = holidays.country_holidays(country, subdiv=subdivision)
        except (NotImplementedError, KeyError, ValueError):  # a country the package lacks
            return
        self._holidays = found
        self.weekend = frozenset(getattr(found, "weekend", SAT_SUN)) or SAT_SUN

    def holiday(self, day: date) -> str | None:
        """The holiday's name, or None."""
        if self._holidays is None:
            return None
        try:
            name: str | None = self._holidays.get(day)
        except (ValueError, OverflowError, NotImplementedError):  # years the package cannot do
            return None
        return name

    def is_business_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and self.holiday(day) is None


@lru_cache(maxsize=512)
def calendar_for(country: str | None, region: str | None = None) -> Calendar:
    """The calendar of `country` (ISO 3166-1 alpha-2), with the subdivision of `region` (ISO
    3166-2, `US-CA`, `CH-ZH`, `GB-SCT`) when the package knows it for that country."""
    if country is None:
        return Calendar("ZZ")
    subdivision = None
    if region is not None and region.upper().startswith(f"{country}-"):
        code = region.upper().split("-", 1)[1]
        known = _subdivisions(country)
        if code in known:
            subdivision = code
    return Calendar(country, subdivision)


def _subdivisions(country: str) -> frozenset[str]:
    try:
        cls = holidays.country_holidays(country).__class__
    except (NotImplementedError, KeyError, ValueError):
        return frozenset()
    return frozenset(getattr(cls, "subdivisions", ()) or ())


@lru_cache(maxsize=256)
def zone_for(country: str | None, timezone: str | None = None) -> tzinfo:
    """The complainant's zone (see the module docstring, step 1)."""
    if timezone is not None:
        try:
            return ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    name = COUNTRY_ZONES.get(country or "", EARLIEST_ZONE)
    return ZoneInfo(name)


def add_business_days(start: date, count: int, calendar: Calendar) -> date:
    """The `count`-th business day after `start` (`start` itself never counts)."""
    day, found = start, 0
    for _ in range(count * _MAX_SCAN_DAYS):
        if day >= date.max:
            return date.max
        day += timedelta(days=1)
        if calendar.is_business_day(day):
            found += 1
            if found == count:
                return day
    return day


def deadline(
    at: datetime,
    country: str | None,
    region: str | None = None,
    timezone: str | None = None,
    days: int = ACK_BUSINESS_DAYS,
) -> datetime:
    """When a complaint received at `at` becomes overdue (UTC): the end of the `days`-th business
    day after its local date (module docstring)."""
    zone = zone_for(country, timezone)
    local_day = at.astimezone(zone).date()
    last = add_business_days(local_day, days, calendar_for(country, region))
    if last >= date.max - timedelta(days=1):
        return MAX_INSTANT
    midnight = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)
    return min(midnight.astimezone(UTC), MAX_INSTANT)
