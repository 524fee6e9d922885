"""Instants as the core keeps them: aware UTC datetimes at millisecond precision (Avro's
`timestamp-millis`), and epoch milliseconds inside state, where ints are cheap to compare and
encode. Sub-millisecond digits are truncated on the way in, so JSON and Avro inputs decide alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS: Final = timedelta(milliseconds=1)


def parse_instant(value: object, field: str) -> datetime:
    """An aware UTC datetime from ISO-8601 text (with `Z` or an offset) or an aware datetime."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{field} {value!r} is not an ISO-8601 instant") from None
    elif isinstance(value, datetime):
        moment = value
    else:
        raise ValueError(f"{field} must be an ISO-8601 instant, got {type(value).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{field} {value!r} has no time zone offset (write Z for UTC)")
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // ONE_MS


def from_epoch_ms(ms: int) -> datetime:
    return EPOCH + ms * ONE_MS


def format_instant(moment: datetime) -> str:
    """`2026-06-01T16:00:00.000Z`: fixed width, so text order is time order."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def add_months(ms: int, months: int) -> int:
    """`ms` moved `months` calendar months on in UTC; a day the target month lacks becomes its last
    day (31 Jan + 1 month = 28 or 29 Feb), as people count "a year" or "six months"."""
    moment = from_epoch_ms(ms)
    total = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    day = min(moment.day, _days_in(year, month))
    return epoch_ms(moment.replace(year=year, month=month, day=day))


def _days_in(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (datetime(year, month + 1, 1) - datetime(year, month, 1)).days
