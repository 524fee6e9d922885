"""The complaint acknowledgement deadline: 5 business days in the complainant's calendar.

Every expected deadline below was worked out by hand from the rule in business_days.py (the day
of receipt is day 0; the deadline is local midnight after the 5th business day) and the public
calendars named in each case, not computed by the code under test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from streams.policy.business_days import (
    add_business_days,
    calendar_for,
    deadline,
    zone_for,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


CASES = [
    # US: Friday before Memorial Day (Mon 25 May 2026): Tue-Fri, Mon 1 Jun; New York midnight.
    ("US", None, None, "2026-05-22T10:00:00-04:00", "2026-06-02T04:00:00+00:00"),
    # US, an ordinary week a week earlier: Mon 18 - Fri 22, overdue from Saturday.
    ("US", None, None, "2026-05-15T10:00:00-04:00", "2026-05-23T04:00:00+00:00"),
    # US-MA keeps Patriots' Day (Mon 20 Apr 2026); the federal calendar does not.
    ("US", None, None, "2026-04-17T11:00:00-04:00", "2026-04-25T04:00:00+00:00"),
    ("US", "US-MA", None, "2026-04-17T11:00:00-04:00", "2026-04-28T04:00:00+00:00"),
    # GB: Scotland's one-off holiday on Mon 15 Jun 2026; England works that day.
    ("GB", "GB-SCT", None, "2026-06-10T10:00:00+01:00", "2026-06-18T23:00:00+00:00"),
    ("GB", "GB-ENG", None, "2026-06-10T10:00:00+01:00", "2026-06-17T23:00:00+00:00"),
    # IE: St Brigid's Day, Mon 2 Feb 2026 (Dublin is on GMT in winter).
    ("IE", None, None, "2026-01-30T12:00:00+00:00", "2026-02-10T00:00:00+00:00"),
    # CA: Canada Day, Wed 1 Jul 2026; no timezone: St John's (UTC-2:30 in summer), the earliest.
    ("CA", None, None, "2026-06-29T12:00:00-02:30", "2026-07-08T02:30:00+00:00"),
    # CA with the complainant's own zone.
    ("CA", None, "America/Vancouver", "2026-06-29T08:00:00-07:00", "2026-07-08T07:00:00+00:00"),
    # IN: Gandhi Jayanti, Fri 2 Oct 2026; midnight IST.
    ("IN", None, None, "2026-10-01T11:30:00+05:30", "2026-10-09T18:30:00+00:00"),
    # CH: Zurich keeps Good Friday (3 Apr) and Easter Monday (6 Apr 2026); the federal calendar
    # keeps neither.
    ("CH", "CH-ZH", None, "2026-04-02T10:00:00+02:00", "2026-04-13T22:00:00+00:00"),
    ("CH", None, None, "2026-04-02T10:00:00+02:00", "2026-04-09T22:00:00+00:00"),
    # OM: Friday-Saturday weekend. Thursday 4 Jun: Sun 7 - Thu 11, overdue from Friday 00:00.
    ("OM", None, None, "2026-06-04T09:00:00+04:00", "2026-06-11T20:00:00+00:00"),
    # OM: received on a Saturday (weekend): Sunday is the first business day.
    ("OM", None, None, "2026-06-06T09:00:00+04:00", "2026-06-11T20:00:00+00:00"),
    # OM: Islamic New Year, Thu 18 Jun 2026, then the weekend: Tue, Wed, Sun, Mon, Tue.
    ("OM", None, None, "2026-06-15T09:00:00+04:00", "2026-06-23T20:00:00+00:00"),
]


@pytest.mark.parametrize(("country", "region", "timezone", "at", "expected"), CASES)
def test_deadline_by_country(
    country: str, region: str | None, timezone: str | None, at: str, expected: str
) -> None:
    assert deadline(utc(at), country, region, timezone) == utc(expected)


def test_the_day_of_receipt_never_counts_even_a_business_day() -> None:
    monday_morning = deadline(utc("2026-06-08T00:00:01-04:00"), "US")
    monday_night = deadline(utc("2026-06-08T23:59:59-04:00"), "US")
    assert monday_morning == monday_night == utc("2026-06-16T04:00:00+00:00")


def test_the_local_date_decides_not_the_utc_one() -> None:
    moment = utc("2026-06-05T02:00:00+00:00")  # Thursday evening in New York, Friday in London
    assert deadline(moment, "US") == utc("2026-06-12T04:00:00+00:00")
    assert deadline(moment, "GB") == utc("2026-06-12T23:00:00+00:00")


def test_oman_works_on_sunday_and_rests_on_friday() -> None:
    om, us = calendar_for("OM"), calendar_for("US")
    sunday, friday = date(2026, 6, 7), date(2026, 6, 12)
    assert om.is_business_day(sunday) and not om.is_business_day(friday)
    assert not us.is_business_day(sunday) and us.is_business_day(friday)


def test_an_unknown_region_or_country_gives_the_stricter_calendar() -> None:
    at = utc("2026-04-17T11:00:00-04:00")
    # A subdivision the package does not know for the country: the national calendar.
    assert deadline(at, "US", "US-ZZ") == deadline(at, "US")
    # A region of another country is not used either.
    assert deadline(at, "US", "CH-ZH") == deadline(at, "US")
    # No country: Saturday-Sunday, no holidays, UTC+14 (the earliest midnight).
    assert str(zone_for(None)) == "Etc/GMT-14"
    # Friday 10:00 UTC is Saturday 00:00 there: Mon 25 - Fri 29, overdue from Saturday 00:00.
    assert deadline(utc("2026-05-22T10:00:00+00:00"), None) == utc("2026-05-29T10:00:00+00:00")


def test_an_invalid_timezone_falls_back_to_the_country_zone() -> None:
    at = utc("2026-05-15T10:00:00-04:00")
    assert deadline(at, "US", None, "Mars/Olympus") == deadline(at, "US")


def test_counting_stops_at_the_calendar_end_without_overflow() -> None:
    assert add_business_days(date(9999, 12, 30), 5, calendar_for("US")) == date.max
    late = datetime(9999, 12, 30, tzinfo=UTC)
    assert deadline(late, "US") >= late
