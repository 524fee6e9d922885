"""What every importer shares: a streaming CSV reader, times, ids, evidence and rejections.

The reader never holds more than one row: `csv.reader` over a text stream over the file (or over
one member of a ZIP, as Mailchimp exports come), with a byte counter underneath for the progress
bar. A row is handed on with the line it starts on, so a rejected row can be found in the file.

Ids come from the record's content (format, party, channel, normalized address, action, time),
never from a counter or a clock: importing the same export twice yields the same ids, and the gate
ignores an id it already applied.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from streams.policy.addresses import InvalidAddress, normalize_address

# Bounds on what a row may carry into a record: an export is outside input.
MAX_EVIDENCE_VALUE = 256
MAX_EVIDENCE_FIELDS = 24
MAX_REJECT_FIELD = 200
EARLIEST_YEAR = 1990
LATEST_YEAR = 2100

Record = dict[str, Any]


class Rejected(ValueError):
    """This row cannot become records; the message says why (no address in it)."""


class HeaderError(ValueError):
    """The file's header lacks what its format needs: nothing in it can be read."""


@dataclass(frozen=True, slots=True)
class ImportContext:
    """What the command line says about every row of a run."""

    format: str
    party: str
    jurisdiction: str
    source_file: str


class Header:
    """A file's columns, looked up case-insensitively and without surrounding space."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = [name.strip() for name in names]
        self.index: dict[str, int] = {}
        for position, name in enumerate(self.names):
            self.index.setdefault(name.lower(), position)

    def has(self, *names: str) -> bool:
        return any(name.lower() in self.index for name in names)

    def require(self, fmt: str, *names: str) -> None:
        missing = [name for name in names if name.lower() not in self.index]
        if missing:
            raise HeaderError(
                f"not a {fmt} export: column {', '.join(missing)} missing "
                f"(header has {', '.join(self.names[:12]) or 'no columns'})"
            )


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: where it starts, and its values by column."""

    source: str
    line: int
    header: Header
    values: Sequence[str]
    error: str = ""  # set when the CSV layer could not read the row: mapping rejects it

    def get(self, *names: str) -> str:
        """The first non-empty value among `names` (stripped), or ''."""
        for name in names:
            position = self.header.index.get(name.lower())
            if position is not None and position < len(self.values):
                value = self.values[position].strip()
                if value:
                    return value
        return ""

    def original(self, names: Sequence[str]) -> dict[str, str]:
        """The named columns this row fills, as written (bounded), for a record's evidence."""
        found: dict[str, str] = {}
        for name in names:
            value = self.get(name)
            if value and len(found) < MAX_EVIDENCE_FIELDS:
                found[name] = value[:MAX_EVIDENCE_VALUE]
        return found


# --------------------------------------------------------------------------------------------
# Reading


class CountingReader(io.RawIOBase):
    """Counts the bytes read through it: how far the progress bar is."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.count += size
        return size


@dataclass
class Source:
    """An export file (CSV, or a ZIP of CSVs), read row by row."""

    path: Path
    total_bytes: int = 0
    _counters: list[CountingReader] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.total_bytes = self._size()

    @property
    def bytes_read(self) -> int:
        return sum(counter.count for counter in self._counters)

    def _size(self) -> int:
        if zipfile.is_zipfile(self.path):
            with zipfile.ZipFile(self.path) as archive:
                return sum(info.file_size for info in _csv_members(archive))
        return self.path.stat().st_size

    def tables(self) -> Iterator[tuple[str, Header, Iterator[Row]]]:
        """Each CSV in the file with its header and its rows, one at a time."""
        if zipfile.is_zipfile(self.path):
            with zipfile.ZipFile(self.path) as archive:
                for info in _csv_members(archive):
                    with archive.open(info) as raw:
                        yield from self._table(info.filename, raw)
        else:
            with open(self.path, "rb") as raw:
                yield from self._table(self.path.name, raw)

    def _table(self, name: str, raw: IO[bytes]) -> Iterator[tuple[str, Header, Iterator[Row]]]:
        counter = CountingReader(raw)
        self._counters.append(counter)
        # utf-8-sig: spreadsheet exports start with a byte-order mark; undecodable bytes become
        # U+FFFD so one bad row is rejected instead of ending the run.
        text = io.TextIOWrapper(
            io.BufferedReader(counter, 1 << 16), encoding="utf-8-sig", errors="replace", newline=""
        )
        reader = csv.reader(text)
        try:
            names = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise HeaderError(f"{name}: header unreadable: {exc}") from None
        header = Header(names)
        yield name, header, _rows(name, header, reader)


def _csv_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return sorted(
        (i for i in archive.infolist() if i.filename.lower().endswith(".csv") and not i.is_dir()),
        key=lambda i: i.filename,
    )


def _rows(name: str, header: Header, reader: Any) -> Iterator[Row]:
    """Rows with the line each starts on; a malformed row is yielded as a `Rejected`."""
    width = len(header.names)
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _bad_row(name, start, header, f"CSV syntax: {exc}")
            continue
        if not values or (len(values) == 1 and not values[0].strip()):
            continue
        if len(values) > width and any(v.strip() for v in values[width:]):
            yield _bad_row(name, start, header, f"{len(values)} fields, header has {width}")
            continue
        yield Row(name, start, header, values)


def _bad_row(name: str, line: int, header: Header, reason: str) -> Row:
    return Row(name, line, header, (), error=reason)


# --------------------------------------------------------------------------------------------
# Values

_EPOCH = re.compile(r"^\d{9,13}(\.\d+)?$")


def parse_time(text: str, column: str) -> datetime:
    """A UTC instant from an export's time: `2015-03-16 14:40:47` (Mailchimp; no zone written,
    read as UTC), ISO-8601 with or without an offset, or Unix seconds or milliseconds (SendGrid
    suppressions). Rejects what it cannot read or what lies outside 1990-2100."""
    value = text.strip()
    try:
        if _EPOCH.match(value):
            number = float(value)
            moment = datetime.fromtimestamp(number / 1000 if number >= 1e12 else number, UTC)
        else:
            moment = datetime.fromisoformat(value.replace(" UTC", "Z"))
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
            moment = moment.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise Rejected(f"{column}: not a time: {value[:40]!r}") from None
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise Rejected(f"{column}: {moment.year} is outside {EARLIEST_YEAR}-{LATEST_YEAR}")
    return moment


def iso(moment: datetime) -> str:
    """The contract's text form of an instant: UTC, `Z`, milliseconds only when there are any."""
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def address_of(row: Row, channel: str, jurisdiction: str, *columns: str) -> str:
    """The row's normalized address on `channel`, or `Rejected` (the reason names no address)."""
    raw = row.get(*columns)
    if not raw:
        raise Rejected(f"no address ({' or '.join(columns)} empty)")
    if "\ufffd" in raw:
        raise Rejected("address is not valid UTF-8")
    try:
        return normalize_address(channel, raw, jurisdiction)
    except InvalidAddress:
        raise Rejected(f"{channel} address does not parse") from None


def record_id(
    ctx: ImportContext, party: str | None, channel: str, address: str, action: str, at: str
) -> str:
    """An id from what the record says: the same export row always gives the same id."""
    material = "\x1f".join((ctx.format, party or "*", channel, address, action, at))
    return "imp-" + hashlib.blake2b(material.encode(), digest_size=16).hexdigest()


def evidence(ctx: ImportContext, row: Row, columns: Sequence[str], **extra: str) -> dict[str, str]:
    """`source: import`, where the row came from, and the tool's own consent columns as written.
    Names, merge fields and the like are left out: evidence keeps what proves consent."""
    found = {
        "source": "import",
        "import_format": ctx.format,
        "import_file": f"{ctx.source_file}:{row.source}:{row.line}"[:MAX_EVIDENCE_VALUE],
        **extra,
    }
    for name, value in row.original(columns).items():
        found[f"{ctx.format}.{name}"] = value
    return found


def consent_record(
    ctx: ImportContext,
    row: Row,
    *,
    channel: str,
    address: str,
    action: str,
    at: datetime,
    columns: Sequence[str],
    **extra: str,
) -> Record:
    when = iso(at)
    return {
        "type": "consent",
        "id": record_id(ctx, ctx.party, channel, address, action, when),
        "at": when,
        "channel": channel,
        "address": address,
        "party": ctx.party,
        "purpose": "marketing",
        "action": action,
        "evidence": evidence(ctx, row, columns, **extra),
        "jurisdiction": ctx.jurisdiction,
    }


def optout_record(
    ctx: ImportContext,
    *,
    channel: str,
    address: str,
    at: datetime,
    method: str = "other",
    every_party: bool = False,
) -> Record:
    """An opt-out from the importing party, or from every party (a spam complaint)."""
    when = iso(at)
    party = None if every_party else ctx.party
    return {
        "type": "optout",
        "id": record_id(ctx, party, channel, address, f"optout:{method}", when),
        "at": when,
        "channel": channel,
        "address": address,
        "party": party,
        "method": method,
        "jurisdiction": ctx.jurisdiction,
    }


def grant_and_confirm(
    ctx: ImportContext,
    row: Row,
    *,
    channel: str,
    address: str,
    optin: datetime | None,
    confirm: datetime | None,
    columns: Sequence[str],
) -> list[Record]:
    """The consent records a subscribed row proves.

    Opt-in and confirmation times: a grant and a confirm (double opt-in). Opt-in only: a grant.
    Confirmation only (an admin added the contact, no signup was recorded): a grant at that time
    and no confirm, since nothing shows the recipient confirmed. Neither: nothing to date the
    consent by, so the row is rejected."""
    if optin is not None:
        records = [
            consent_record(
                ctx,
                row,
                channel=channel,
                address=address,
                action="grant",
                at=optin,
                columns=columns,
            )
        ]
        if confirm is not None:
            records.append(
                consent_record(
                    ctx,
                    row,
                    channel=channel,
                    address=address,
                    action="confirm",
                    at=confirm,
                    columns=columns,
                )
            )
        return records
    if confirm is not None:
        return [
            consent_record(
                ctx,
                row,
                channel=channel,
                address=address,
                action="grant",
                at=confirm,
                columns=columns,
                import_note="no_optin_time",
            )
        ]
    raise Rejected("subscribed, but no opt-in or confirmation time to date the consent by")


def optional_time(row: Row, *columns: str) -> datetime | None:
    for column in columns:
        value = row.get(column)
        if value:
            return parse_time(value, column)
    return None


Mapper = Callable[[Row], list[Record]]
MapperFactory = Callable[[ImportContext, Header], Mapper]


def row_fields_for_reject(row: Row) -> Mapping[str, str]:
    """A rejected row's values by column, bounded, for the rejects file the operator reads."""
    return {
        name or f"column{i + 1}": row.values[i][:MAX_REJECT_FIELD]
        for i, name in enumerate(row.header.names[: MAX_EVIDENCE_FIELDS * 2])
        if i < len(row.values) and row.values[i]
    }
