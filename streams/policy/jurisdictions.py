"""The jurisdiction table: every parameter of the jurisdiction rules (contract part 2, J1-J4) as
data, loaded once into a validated, frozen form that the rules only look things up in.

Where it comes from: `jurisdictions.toml` next to this module, shipped in the package (the
contract's defaults, each row with its legal source and the research's confidence). `PolicyConfig.
jurisdiction_table` (env `CONSENTGATE_JURISDICTION_TABLE`) may name a TOML file of the same format
laid over it: a section the file gives for a jurisdiction replaces that section of the shipped
entry (an empty list removes it), a jurisdiction the shipped table lacks is added, and with
`inherit_shipped = false` the file is the whole table. docs/jurisdictions.md documents the format.

One entry per country (`US`, ISO 3166-1 alpha-2) or subdivision (`US-FL`, ISO 3166-2); a
subdivision may only set quiet hours, which replace its country's for the channels it lists. Per
entry, lists of tables, each row naming its `source` (required) and `confidence`:

- `quiet_hours`: `channels` and `windows`, each window `{days, start, end}` in the recipient's local
  time; `days` like "mon-fri", "sat,sun" or ["mon", "tue"]; a window includes `start` and excludes
  `end` ("HH:MM", end may be "24:00"); a window never crosses midnight (write two) and a weekday no
  window names is closed all day.
- `consent_bases`: `basis` (implied_purchase, implied_inquiry, soft_opt_in; express counts
  everywhere and is not listed), `lapse` (ISO-8601 duration from the grant's `at`, e.g. "P2Y",
  "P6M"; absent: no lapse), `parties` ("any" or "first"), `channels` (absent: every channel).
- `optout_confirmation`: `channels` and `within` (ISO-8601 duration, fixed units: "PT5M").
- `covered_together`: `channels` that one opt-out covers together.

Loading reads files once per process (the shipped table and each override path are cached); a
problem raises TableError naming the file, the key and what is wrong. Nothing here runs per
decision except dictionary lookups on the frozen result.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import pycountry

from streams.policy.addresses import CHANNELS
from streams.policy.config import PolicyConfig
from streams.policy.times import add_months

TABLE_RESOURCE: Final = "jurisdictions.toml"
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES: Final = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
CONFIGURABLE_BASES: Final = ("implied_purchase", "implied_inquiry", "soft_opt_in")
PARTIES: Final = ("any", "first")
SECTIONS: Final = ("quiet_hours", "consent_bases", "optout_confirmation", "covered_together")

_COUNTRY: Final = re.compile(r"[A-Z]{2}")
_SUBDIVISION: Final = re.compile(r"([A-Z]{2})-[A-Z0-9]{1,3}")
_TIME: Final = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")
_DURATION: Final = re.compile(
    r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?"
)


class TableError(ValueError):
    """A jurisdiction table that cannot be used: which file, which key, what is wrong."""

    def __init__(self, origin: str, key: str, message: str) -> None:
        super().__init__(f"{origin}: {key}: {message}" if key else f"{origin}: {message}")
        self.origin = origin
        self.key = key
        self.message = message


# ---------------------------------------------------------------------------- the frozen form


@dataclass(frozen=True, slots=True)
class Period:
    """An ISO-8601 duration: calendar months (years are 12) plus a fixed part in milliseconds."""

    text: str
    months: int
    fixed_ms: int

    def end_ms(self, start_ms: int) -> int:
        """The instant this period after `start_ms` ends (epoch milliseconds, UTC calendar)."""
        end = add_months(start_ms, self.months) if self.months else start_ms
        return end + self.fixed_ms

    def __str__(self) -> str:
        return self.text

    @property
    def words(self) -> str:
        """`P2Y` → "2 years", `PT5M` → "5 minutes", for people."""
        match = _DURATION.fullmatch(self.text)
        assert match is not None
        units = ("year", "month", "week", "day", "hour", "minute", "second")
        parts = [
            f"{n} {unit}{'' if n == '1' else 's'}"
            for n, unit in zip(match.groups(), units, strict=True)
            if n is not None and int(n)
        ]
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Interval:
    """Minutes after local midnight: [start, end)."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local-time windows on some channels: outside them, no promotional message (J2)."""

    jurisdiction: str
    source: str
    confidence: str | None
    channels: tuple[str, ...]
    days: tuple[tuple[Interval, ...], ...]  # seven entries, Monday first
    day_texts: tuple[str, ...] = field(default=(), compare=False)  # "08:00-21:00" or "closed"
    # channel -> per weekday " is outside US sms hours 08:00-21:00", for verdict details
    outside_texts: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    spans: tuple[tuple[tuple[int, int], ...], ...] = field(default=(), compare=False)  # as ints

    def allows(self, weekday: int, minute: int) -> bool:
        """Whether local minute-of-day `minute` on `weekday` (Monday 0) is inside a window."""
        return any(start <= minute < end for start, end in self.spans[weekday])

    def day_text(self, weekday: int) -> str:
        return self.day_texts[weekday]

    def summary(self) -> str:
        """ "Mon-Sat 09:00-21:00; Sun 12:00-21:00", grouping consecutive days alike."""
        groups: list[tuple[int, int, str]] = []
        for day in range(7):
            text = self.day_text(day)
            if groups and groups[-1][2] == text:
                groups[-1] = (groups[-1][0], day, text)
            else:
                groups.append((day, day, text))
        if len(groups) == 1:
            return f"every day {groups[0][2]}"
        return "; ".join(
            f"{_day(a)}{'' if a == b else '-' + _day(b)} {text}" for a, b, text in groups
        )


@dataclass(frozen=True, slots=True)
class BasisRule:
    """A basis other than express that counts as consent here (J1), and for how long."""

    jurisdiction: str
    source: str
    confidence: str | None
    basis: str
    lapse: Period | None
    parties: str
    channels: frozenset[str] | None

    def accepts(self, channel: str, first_party: bool) -> bool:
        if self.parties == "first" and not first_party:
            return False
        return self.channels is None or channel in self.channels

    def scope(self) -> str:
        who = "the first party only" if self.parties == "first" else "any party"
        where = "every channel" if self.channels is None else ", ".join(sorted(self.channels))
        return f"{who}; {where}"


@dataclass(frozen=True, slots=True)
class ConfirmationWindow:
    """How long after an opt-out its one confirmation may go, on some channels (J4)."""

    jurisdiction: str
    source: str
    confidence: str | None
    channels: tuple[str, ...]
    within: Period

    @property
    def within_ms(self) -> int:
        return self.within.fixed_ms


@dataclass(frozen=True, slots=True)
class CoveredTogether:
    """Channels one opt-out covers together (J3)."""

    jurisdiction: str
    source: str
    confidence: str | None
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """One country or subdivision: its rows, and the lookups the rules make, built once."""

    code: str
    name: str
    quiet_hours: tuple[QuietHours, ...] = ()
    consent_bases: tuple[BasisRule, ...] = ()
    optout_confirmation: tuple[ConfirmationWindow, ...] = ()
    covered_together: tuple[CoveredTogether, ...] = ()
    notes: str | None = None
    window_for: Mapping[str, QuietHours] = field(default_factory=dict, compare=False)
    basis_rule: Mapping[str, BasisRule] = field(default_factory=dict, compare=False)
    confirmation_for: Mapping[str, ConfirmationWindow] = field(default_factory=dict, compare=False)
    covering: Mapping[str, CoveredTogether] = field(default_factory=dict, compare=False)

    @property
    def country(self) -> str:
        return self.code[:2]

    @property
    def is_subdivision(self) -> bool:
        return len(self.code) > 2


@dataclass(frozen=True, slots=True)
class Binding:
    """Which quiet hours bind an intent of one country on one channel, worked out at load time:
    `national` where no subdivision window applies, `regional[code]` in a subdivision with its own,
    `unknown` (every window it could be under) where the subdivision cannot be told."""

    national: tuple[QuietHours, ...]
    regional: Mapping[str, tuple[QuietHours, ...]]
    unknown: tuple[QuietHours, ...]

    def windows(self, subdivision: str | None) -> tuple[QuietHours, ...]:
        if subdivision is None:
            return self.unknown
        return self.regional.get(subdivision, self.national)


@dataclass(frozen=True, slots=True, eq=False)
class JurisdictionTable:
    """Every entry by code, and where the table was read from (with digests, for audit)."""

    entries: Mapping[str, Jurisdiction]
    origins: tuple[str, ...]
    version: str | None = None
    subdivisions: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    # (country, channel) -> the quiet hours that bind there, for the quiet-hours rule
    bindings: Mapping[tuple[str, str], Binding] = field(default_factory=dict, compare=False)
    windowed_channels: frozenset[str] = frozenset()  # channels with quiet hours anywhere

    def get(self, code: str) -> Jurisdiction | None:
        return self.entries.get(code)

    def codes(self) -> tuple[str, ...]:
        return tuple(sorted(self.entries))


# ---------------------------------------------------------------------------- two at once


@lru_cache(maxsize=256)
def combined(table: JurisdictionTable, declared: str, other: str) -> Jurisdiction:
    """The stricter union of two countries' rules, for an intent whose declared jurisdiction and
    number disagree (issue 11 §6: both rule sets apply). Opt-outs cover the union of both
    groupings; an opt-out confirmation gets the shorter window; a basis counts only where both
    list it (consent_basis and consent_expiry check each country, this entry's `basis_rule` is for
    reading). Quiet hours are the quiet-hours rule's: it resolves both countries' windows."""
    a, b = table.entries[declared], table.entries[other]
    covering: dict[str, CoveredTogether] = {}
    for channel in {*a.covering, *b.covering}:
        rows = [row for row in (a.covering.get(channel), b.covering.get(channel)) if row]
        channels = tuple(dict.fromkeys(c for row in rows for c in row.channels))
        covering[channel] = CoveredTogether(
            "+".join(r.jurisdiction for r in rows), "; ".join(r.source for r in rows), None,
            channels,
        )  # fmt: skip
    confirmation: dict[str, ConfirmationWindow] = {}
    for channel in {*a.confirmation_for, *b.confirmation_for}:
        windows = [
            r for r in (a.confirmation_for.get(channel), b.confirmation_for.get(channel)) if r
        ]
        confirmation[channel] = min(windows, key=_within_ms)
    bases = {basis: rule for basis, rule in a.basis_rule.items() if basis in b.basis_rule}
    return Jurisdiction(
        declared, f"{a.name} and {b.name}", (*a.quiet_hours, *b.quiet_hours),
        tuple(bases.values()), tuple(confirmation.values()), tuple(covering.values()),
        f"both rule sets: {declared} declared, {other} from the number",
        a.window_for, MappingProxyType(bases), MappingProxyType(confirmation),
        MappingProxyType(covering),
    )  # fmt: skip


def _within_ms(row: ConfirmationWindow) -> int:
    return row.within_ms


# ---------------------------------------------------------------------------- ISO 3166 codes


@lru_cache(maxsize=4096)
def iso_country(code: str) -> str | None:
    """`code` as an ISO 3166-1 alpha-2 country when it names one in alpha-2 or alpha-3, in any
    case (`us`, `USA` → US), else None. For reading opt-outs leniently: an intent's jurisdiction
    must be written as the table writes it (alpha-2)."""
    text = code.strip().upper()
    if not text.isascii() or not text.isalpha():
        return None
    if len(text) == 2:
        found = pycountry.countries.get(alpha_2=text)
    elif len(text) == 3:
        found = pycountry.countries.get(alpha_3=text)
    else:
        return None
    return None if found is None else str(found.alpha_2)


@lru_cache(maxsize=4096)
def iso_subdivision_country(code: str) -> str | None:
    """The country of ISO 3166-2 subdivision `code` (`US-FL` → US), or None when ISO 3166-2 (as
    the installed `pycountry` has it) knows no such subdivision."""
    found = pycountry.subdivisions.get(code=code)
    return None if found is None else str(found.country_code)


# ---------------------------------------------------------------------------- loading


@lru_cache(maxsize=1)
def shipped_table() -> JurisdictionTable:
    """The table shipped in the package (the contract's defaults)."""
    text = resources.files(__package__).joinpath(TABLE_RESOURCE).read_text(encoding="utf-8")
    return parse_table(text, f"shipped {TABLE_RESOURCE}")


def table_for(config: PolicyConfig) -> JurisdictionTable:
    """The table `config` names: the shipped one, or it with the override file laid over it."""
    path = config.jurisdiction_table
    if path is None:
        return shipped_table()
    return load_override(path)


@lru_cache(maxsize=8)
def load_override(path: Path) -> JurisdictionTable:
    """The shipped table with the TOML file at `path` laid over it. Read once per process."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TableError(
            str(path), "", f"cannot read the jurisdiction table: {exc.strerror}"
        ) from None
    except UnicodeDecodeError as exc:
        raise TableError(str(path), "", f"not UTF-8 text: {exc.reason}") from None
    return parse_table(text, str(path), base=shipped_table())


def parse_table(text: str, origin: str, base: JurisdictionTable | None = None) -> JurisdictionTable:
    """Validate TOML `text` into a table; with `base`, lay it over `base` (see the module doc)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TableError(origin, "", f"not valid TOML: {exc}") from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return _Loader(origin).table(document, f"{origin} (sha256 {digest})", base)


class _Loader:
    """Walks one TOML document, naming the key of every problem it finds."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, key: str, message: str) -> TableError:
        return TableError(self.origin, key, message)

    def table(
        self, doc: Mapping[str, Any], described: str, base: JurisdictionTable | None
    ) -> JurisdictionTable:
        version = doc.get("table_version")
        if version is not None and not isinstance(version, str):
            raise self.fail("table_version", "must be a string")
        inherit = doc.get("inherit_shipped", True)
        if not isinstance(inherit, bool):
            raise self.fail("inherit_shipped", "must be true or false")
        if base is None and "inherit_shipped" in doc:
            raise self.fail("inherit_shipped", "only an override file inherits")
        entries: dict[str, Jurisdiction] = (
            dict(base.entries) if base is not None and inherit else {}
        )
        for key, value in doc.items():
            if key in ("table_version", "inherit_shipped"):
                continue
            if not (_COUNTRY.fullmatch(key) or _SUBDIVISION.fullmatch(key)):
                raise self.fail(
                    key,
                    "not a jurisdiction (ISO 3166-1 alpha-2 like US, or ISO 3166-2 like US-FL) "
                    "nor one of table_version, inherit_shipped",
                )
            if not isinstance(value, Mapping):
                raise self.fail(key, "must be a table ([US] ...)")
            entries[key] = self.jurisdiction(key, value, entries.get(key))
        origins = (*base.origins, described) if base is not None and inherit else (described,)
        subdivisions: dict[str, list[str]] = {}
        regional: dict[tuple[str, str], dict[str, QuietHours]] = {}
        for code in sorted(entries):
            if len(code) > 2:
                subdivisions.setdefault(code[:2], []).append(code)
                for channel, window in entries[code].window_for.items():
                    regional.setdefault((code[:2], channel), {})[code] = window
        bindings: dict[tuple[str, str], Binding] = {}
        for code, entry in entries.items():
            if len(code) == 2:
                for channel, window in entry.window_for.items():
                    bindings[(code, channel)] = Binding((window,), {}, (window,))
        for (country, channel), own in regional.items():
            national = bindings.get((country, channel))
            base_windows = () if national is None else national.national
            bindings[(country, channel)] = Binding(
                base_windows,
                {code: (window,) for code, window in own.items()},
                (*base_windows, *own.values()),
            )
        return JurisdictionTable(
            MappingProxyType(dict(sorted(entries.items()))),
            origins,
            version if version is not None else (base.version if base is not None else None),
            MappingProxyType({k: tuple(v) for k, v in subdivisions.items()}),
            bindings,
            frozenset(channel for _country, channel in bindings),
        )

    def jurisdiction(
        self, code: str, raw: Mapping[str, Any], shipped: Jurisdiction | None
    ) -> Jurisdiction:
        allowed = (
            ("name", "notes", "quiet_hours") if len(code) > 2 else ("name", "notes", *SECTIONS)
        )
        for key in raw:
            if key not in allowed:
                extra = " (a subdivision may only set quiet_hours)" if key in SECTIONS else ""
                raise self.fail(f"{code}.{key}", f"unknown key{extra}; expected one of "
                                f"{', '.join(allowed)}")  # fmt: skip
        name = self.text(raw, "name", code, required=False)
        notes = self.text(raw, "notes", code, required=False)
        sections: dict[str, tuple[Any, ...]] = {}
        for section in SECTIONS:
            if section in raw:
                rows = raw[section]
                if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
                    raise self.fail(f"{code}.{section}", "must be a list of tables ([[...]])")
                parse = getattr(self, section)
                sections[section] = tuple(
                    parse(f"{code}.{section}[{n}]", code, row) for n, row in enumerate(rows)
                )
            elif shipped is not None:
                sections[section] = getattr(shipped, section)
        return self.build(
            code,
            name or (shipped.name if shipped is not None else code),
            notes if notes is not None else (shipped.notes if shipped is not None else None),
            sections,
        )

    def build(
        self, code: str, name: str, notes: str | None, sections: Mapping[str, tuple[Any, ...]]
    ) -> Jurisdiction:
        quiet: tuple[QuietHours, ...] = sections.get("quiet_hours", ())
        bases: tuple[BasisRule, ...] = sections.get("consent_bases", ())
        confirmation: tuple[ConfirmationWindow, ...] = sections.get("optout_confirmation", ())
        together: tuple[CoveredTogether, ...] = sections.get("covered_together", ())
        return Jurisdiction(
            code, name, quiet, bases, confirmation, together, notes,
            MappingProxyType(self.by_channel(code, "quiet_hours", quiet)),
            MappingProxyType(self.by_basis(code, bases)),
            MappingProxyType(self.by_channel(code, "optout_confirmation", confirmation)),
            MappingProxyType(self.by_channel(code, "covered_together", together)),
        )  # fmt: skip

    def by_channel(self, code: str, section: str, rows: tuple[Any, ...]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for n, row in enumerate(rows):
            for channel in row.channels:
                if channel in found:
                    raise self.fail(f"{code}.{section}[{n}].channels",
                                    f"{channel} is already in an earlier row")  # fmt: skip
                found[channel] = row
        return found

    def by_basis(self, code: str, rows: tuple[BasisRule, ...]) -> dict[str, BasisRule]:
        found: dict[str, BasisRule] = {}
        for n, row in enumerate(rows):
            if row.basis in found:
                raise self.fail(f"{code}.consent_bases[{n}].basis",
                                f"{row.basis} is already in an earlier row")  # fmt: skip
            found[row.basis] = row
        return found

    # -- rows

    def quiet_hours(self, key: str, code: str, raw: Mapping[str, Any]) -> QuietHours:
        self.keys(key, raw, ("channels", "windows", "source", "confidence", "note"))
        windows = raw.get("windows")
        if not isinstance(windows, list) or not windows:
            raise self.fail(f"{key}.windows", "must be a non-empty list of {days, start, end}")
        days: list[list[Interval]] = [[] for _ in WEEKDAYS]
        for n, window in enumerate(windows):
            where = f"{key}.windows[{n}]"
            if not isinstance(window, Mapping):
                raise self.fail(where, "must be a table {days = ..., start = ..., end = ...}")
            self.keys(where, window, ("days", "start", "end"))
            start = self.time(window, "start", where)
            end = self.time(window, "end", where)
            if start == 24 * 60:
                raise self.fail(f"{where}.start", "24:00 is only an end")
            if start >= end:
                raise self.fail(
                    where,
                    f"start {_hhmm(start)} is not before end {_hhmm(end)} (a window never "
                    "crosses midnight: write one window until 24:00 and one from 00:00)",
                )
            for day in self.weekdays(window.get("days"), f"{where}.days"):
                for other in days[day]:
                    if start < other.end and other.start < end:
                        raise self.fail(where, f"overlaps {other} on {WEEKDAY_NAMES[day]}")
                days[day].append(Interval(start, end))
        ordered = tuple(tuple(sorted(d, key=_start)) for d in days)
        texts = tuple(", ".join(str(i) for i in d) or "closed" for d in ordered)
        channels = self.channels(key, raw)
        return QuietHours(
            code, self.source(key, raw), self.confidence(key, raw), channels, ordered, texts,
            {c: tuple(f" is outside {code} {c} hours {t}" if d else
                      f" is outside {code} {c} hours (none on {WEEKDAY_NAMES[n]})"
                      for n, (t, d) in enumerate(zip(texts, ordered, strict=True)))
             for c in channels},
            tuple(tuple((i.start, i.end) for i in d) for d in ordered),
        )  # fmt: skip

    def consent_bases(self, key: str, code: str, raw: Mapping[str, Any]) -> BasisRule:
        self.keys(key, raw, ("basis", "lapse", "parties", "channels", "source", "confidence"))
        basis = raw.get("basis")
        if basis == "express":
            raise self.fail(f"{key}.basis", "express counts everywhere (contract part 1); list "
                            "only implied_purchase, implied_inquiry or soft_opt_in")  # fmt: skip
        if basis not in CONFIGURABLE_BASES:
            raise self.fail(f"{key}.basis",
                            f"{basis!r} is not one of {', '.join(CONFIGURABLE_BASES)}")  # fmt: skip
        lapse = None if raw.get("lapse") is None else self.period(raw["lapse"], f"{key}.lapse")
        parties = raw.get("parties", "any")
        if parties not in PARTIES:
            raise self.fail(f"{key}.parties", f"{parties!r} is not one of any, first")
        channels = (
            None if raw.get("channels") is None else frozenset(self.channels(key, raw, minimum=1))
        )
        return BasisRule(
            code, self.source(key, raw), self.confidence(key, raw), basis, lapse, parties, channels
        )

    def optout_confirmation(
        self, key: str, code: str, raw: Mapping[str, Any]
    ) -> ConfirmationWindow:
        self.keys(key, raw, ("channels", "within", "source", "confidence"))
        if raw.get("within") is None:
            raise self.fail(f"{key}.within", "is required (an ISO-8601 duration such as PT5M)")
        within = self.period(raw["within"], f"{key}.within")
        if within.months:
            raise self.fail(f"{key}.within", "use fixed units (W, D, H, M after T, S), not Y or M")
        return ConfirmationWindow(
            code, self.source(key, raw), self.confidence(key, raw), self.channels(key, raw), within
        )

    def covered_together(self, key: str, code: str, raw: Mapping[str, Any]) -> CoveredTogether:
        self.keys(key, raw, ("channels", "source", "confidence"))
        return CoveredTogether(
            code, self.source(key, raw), self.confidence(key, raw),
            self.channels(key, raw, minimum=2),
        )  # fmt: skip

    # -- values

    def keys(self, key: str, raw: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
        for name in raw:
            if name not in allowed:
                raise self.fail(
                    f"{key}.{name}", f"unknown key; expected one of {', '.join(allowed)}"
                )

    def text(self, raw: Mapping[str, Any], name: str, key: str, *, required: bool) -> str | None:
        value = raw.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key}.{name}", "must be a non-empty string")
        return " ".join(value.split())

    def source(self, key: str, raw: Mapping[str, Any]) -> str:
        if raw.get("source") is None:
            raise self.fail(f"{key}.source", "is required: every row names its legal source")
        value = self.text(raw, "source", key, required=True)
        assert value is not None
        return value

    def confidence(self, key: str, raw: Mapping[str, Any]) -> str | None:
        return self.text(raw, "confidence", key, required=False)

    def channels(self, key: str, raw: Mapping[str, Any], minimum: int = 1) -> tuple[str, ...]:
        value = raw.get("channels")
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise self.fail(f"{key}.channels", "must be a list of channel names")
        for channel in value:
            if channel not in CHANNELS:
                known = ", ".join(sorted(CHANNELS))
                raise self.fail(f"{key}.channels", f"{channel!r} is not one of {known}")
        if len(set(value)) != len(value):
            raise self.fail(f"{key}.channels", "lists a channel twice")
        if len(value) < minimum:
            raise self.fail(f"{key}.channels", f"needs at least {minimum} channel(s)")
        return tuple(value)

    def time(self, raw: Mapping[str, Any], name: str, key: str) -> int:
        value = raw.get(name)
        if not isinstance(value, str) or not _TIME.fullmatch(value):
            raise self.fail(f"{key}.{name}", f"{value!r} is not a local time HH:MM (00:00-24:00)")
        hours, minutes = value.split(":")
        return int(hours) * 60 + int(minutes)

    def weekdays(self, value: object, key: str) -> list[int]:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",")]
        elif isinstance(value, list) and all(isinstance(p, str) for p in value):
            parts = [p.strip() for p in value]
        else:
            raise self.fail(key, 'must be weekdays like "mon-fri", "sat,sun" or ["mon", "tue"]')
        found: list[int] = []
        for part in parts:
            first, dash, last = part.lower().partition("-")
            if first not in WEEKDAYS or (dash and last not in WEEKDAYS):
                raise self.fail(key, f"{part!r} is not a weekday (mon..sun) or a range of them")
            a = WEEKDAYS.index(first)
            b = WEEKDAYS.index(last) if dash else a
            if b < a:
                raise self.fail(key, f"range {part!r} runs backwards (write sat-sun, not sun-sat)")
            for day in range(a, b + 1):
                if day in found:
                    raise self.fail(key, f"{WEEKDAY_NAMES[day]} is listed twice")
                found.append(day)
        if not found:
            raise self.fail(key, "names no weekday")
        return found

    def period(self, value: object, key: str) -> Period:
        match = _DURATION.fullmatch(value) if isinstance(value, str) else None
        if match is None or value == "P" or (isinstance(value, str) and value.endswith("T")):
            raise self.fail(key, f"{value!r} is not an ISO-8601 duration such as P2Y, P6M or PT5M")
        years, months, weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        fixed = ((((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000
        total_months = years * 12 + months
        if total_months == 0 and fixed == 0:
            raise self.fail(key, f"{value!r} must be longer than zero")
        assert isinstance(value, str)
        return Period(value, total_months, fixed)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _day(index: int) -> str:
    return WEEKDAY_NAMES[index][:3]


def _start(interval: Interval) -> int:
    return interval.start
