"""Instants as the core keeps them: aware UTC datetimes at millisecond precision (Avro's
`timestamp-millis`), and epoch milliseconds inside state, where ints are cheap to compare and
encode. Sub-millisecond digits are truncated on the way in, so JSON and Avro inputs decide alike.

Edges (issue 11 §5): every instant from 0001-01-01 to 9999-12-31 with any offset (±23:59) either
reads or raises ValueError saying why, never OverflowError: an offset that would push the UTC
instant outside years 1-9999 is refused. Not instants: text without an offset (naive), epoch
numbers (seconds or milliseconds cannot be told apart), leap seconds (`23:59:60`, which Python's
datetime cannot hold), text longer than MAX_INSTANT_CHARS. Arithmetic on epoch milliseconds
(`add_months`, `from_epoch_ms`) clamps to MIN_MS..MAX_MS instead of overflowing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS: Final = timedelta(milliseconds=1)
MIN_INSTANT: Final = datetime(1, 1, 1, tzinfo=UTC)
MAX_INSTANT: Final = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
MIN_MS: Final = (MIN_INSTANT - EPOCH) // ONE_MS
MAX_MS: Final = (MAX_INSTANT - EPOCH) // ONE_MS
MAX_INSTANT_CHARS: Final = 64  # the longest ISO-8601 instant is 38; room for spaces

_LEAP_SECOND: Final = re.compile(r"T\d\d:?\d\d:?60")


def parse_instant(value: object, field: str) -> datetime:
    """An aware UTC datetime from ISO-8601 text (with `Z` or an offset) or an aware datetime."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_INSTANT_CHARS:
            raise ValueError(f"{field} is {len(value)} characters: not an ISO-8601 instant")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            if _LEAP_SECOND.search(text):
                raise ValueError(f"{field} {text!a} is a leap second, which is not kept") from None
            raise ValueError(f"{field} {text!a} is not an ISO-8601 instant") from None
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, bool):
        raise ValueError(f"{field} must be an ISO-8601 instant, got a boolean")
    elif isinstance(value, int | float):
        raise ValueError(f"{field} {value!r} is an epoch number: write an ISO-8601 instant")
    else:
        raise ValueError(f"{field} must be an ISO-8601 instant, got {type(value).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{field} {_shown(value)} has no time zone offset (write Z for UTC)")
    try:
        moment = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"{field} {_shown(value)} is outside years 1-9999 in UTC") from None
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def _shown(value: object) -> str:
    return ascii(value.strip()) if isinstance(value, str) else ascii(str(value))


def epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // ONE_MS


def from_epoch_ms(ms: int) -> datetime:
    """The instant of `ms`, clamped to years 1-9999 (a lapse that ends after 9999 shows as the
    last representable instant, which is still after every instant a record can carry)."""
    return EPOCH + min(max(ms, MIN_MS), MAX_MS) * ONE_MS


def local_time(moment: datetime, zone: tzinfo) -> datetime | None:
    """`moment` on the clock of `zone`, or None where that clock would be outside years 1-9999
    (an instant in the first or last hours of the calendar): callers fail closed."""
    try:
        return moment.astimezone(zone)
    except (OverflowError, ValueError):
        return None


def format_instant(moment: datetime) -> str:
    """`2026-06-01T16:00:00.000Z`: fixed width (years zero-padded to four digits, which strftime
    does not do on every platform), so text order is time order."""
    m = moment.astimezone(UTC)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}."
        f"{m.microsecond // 1000:03d}Z"
    )


def add_months(ms: int, months: int) -> int:
    """`ms` moved `months` calendar months on in UTC; a day the target month lacks becomes its last
    day (31 Jan + 1 month = 28 or 29 Feb), as people count "a year" or "six months". A result
    past year 9999 (or before year 1) is clamped to MAX_MS (MIN_MS) rather than overflowing."""
    moment = from_epoch_ms(ms)
    total = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    if year > 9999:
        return MAX_MS
    if year < 1:
        return MIN_MS
    day = min(moment.day, _days_in(year, month))
    return epoch_ms(moment.replace(year=year, month=month, day=day))


def _days_in(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (datetime(year, month + 1, 1) - datetime(year, month, 1)).days
