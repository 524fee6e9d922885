"""The jurisdiction table: every shipped entry well-formed, overrides without code, clear errors."""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import replace
from importlib import resources
from pathlib import Path

import pytest

from streams.policy.addresses import CHANNELS
from streams.policy.config import PolicyConfig
from streams.policy.jurisdictions import (
    CONFIGURABLE_BASES,
    JurisdictionTable,
    TableError,
    load_override,
    parse_table,
    shipped_table,
    table_for,
)
from streams.policy.recipient import US_STATES
from streams.settings import Settings

from .support import verdicts

TABLE = shipped_table()
ENTRIES = sorted(TABLE.entries.values(), key=lambda e: e.code)
US_CODES = set(US_STATES.values())
SOURCE_WORDS = re.compile(r"CFR|FCC|CASL|PECR|S\.I\.|UWG|CRTC|TRAI|Stat\.|Code|RCW|O\.S\.|Act")


def test_the_table_ships_inside_the_package() -> None:
    resource = resources.files("streams.policy").joinpath("jurisdictions.toml")
    assert resource.is_file()
    pyproject = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())
    assert "*.toml" in pyproject["tool"]["setuptools"]["package-data"]["*"]


def test_the_contract_defaults_are_all_there() -> None:
    assert set(TABLE.entries) >= {"US", "US-FL", "US-WA", "US-OK", "US-MD", "US-MS", "US-TX",
                                  "CA", "IN", "GB", "IE", "CH"}  # fmt: skip
    assert TABLE.version


PART_ONE_ONLY = frozenset({"OM"})


@pytest.mark.parametrize("code", sorted(PART_ONE_ONLY))
def test_countries_with_only_part_one_rules_are_listed(code: str) -> None:
    assert code in TABLE.entries


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.code)
def test_every_entry_is_well_formed(entry) -> None:  # type: ignore[no-untyped-def]
    code = entry.code
    assert re.fullmatch(r"[A-Z]{2}(-[A-Z0-9]{1,3})?", code)
    if code.startswith("US-"):
        assert code[3:] in US_CODES, f"{code} is not a US state"
    assert entry.name and entry.name != code
    if entry.is_subdivision:
        assert entry.country in TABLE.entries, "a subdivision's country is in the table too"
        assert not (entry.consent_bases or entry.optout_confirmation or entry.covered_together)
    if code in PART_ONE_ONLY:  # listed so its intents are valid; no rules beyond part 1
        assert not (entry.quiet_hours or entry.consent_bases or entry.optout_confirmation)
    else:
        assert entry.quiet_hours or entry.consent_bases or entry.optout_confirmation
    for window in entry.quiet_hours:
        assert window.channels and set(window.channels) <= CHANNELS
        assert len(window.days) == 7
        assert any(window.days), "a window open on no day at all is a ban, not a window"
        for day in window.days:
            for interval in day:
                assert 0 <= interval.start < interval.end <= 24 * 60
            for a, b in itertools.pairwise(day):
                assert a.end <= b.start, "intervals of one day are ordered and apart"
        _sourced(window)
    for basis in entry.consent_bases:
        assert basis.basis in CONFIGURABLE_BASES
        assert basis.parties in ("any", "first")
        assert basis.channels is None or (basis.channels and basis.channels <= CHANNELS)
        if basis.lapse is not None:
            assert basis.lapse.months > 0 or basis.lapse.fixed_ms > 0
            assert basis.lapse.end_ms(0) > 0
        _sourced(basis)
    for window in entry.optout_confirmation:
        assert set(window.channels) <= CHANNELS and window.within_ms > 0
        assert window.within.months == 0
        _sourced(window)
    for group in entry.covered_together:
        assert len(group.channels) >= 2 and set(group.channels) <= CHANNELS
        _sourced(group)


def _sourced(row: object) -> None:
    source = row.source  # type: ignore[attr-defined]
    assert SOURCE_WORDS.search(source), f"{source!r} cites no legal source"
    assert row.confidence, "every shipped row says how sure the research is"  # type: ignore[attr-defined]


def test_contract_values() -> None:
    us = TABLE.entries["US"]
    assert us.window_for["sms"].summary() == "every day 08:00-21:00"
    assert us.confirmation_for["voice"].within_ms == 5 * 60_000
    assert us.covering["mms"].channels == ("sms", "mms", "voice")
    for state in ("US-FL", "US-WA", "US-OK", "US-MD"):
        assert TABLE.entries[state].window_for["voice"].summary() == "every day 08:00-20:00"
    assert TABLE.entries["US-MS"].window_for["sms"].summary() == "Mon-Sat 08:00-20:00; Sun closed"
    assert TABLE.entries["US-TX"].window_for["mms"].summary() == (
        "Mon-Sat 09:00-21:00; Sun 12:00-21:00"
    )
    canada = TABLE.entries["CA"]
    assert set(canada.window_for) == {"voice", "fax"}
    assert canada.window_for["fax"].summary() == "Mon-Fri 09:00-21:30; Sat-Sun 10:00-18:00"
    assert str(canada.basis_rule["implied_purchase"].lapse) == "P2Y"
    assert str(canada.basis_rule["implied_inquiry"].lapse) == "P6M"
    assert set(TABLE.entries["IN"].window_for) == {"sms", "voice"}
    for country, lapse in (("GB", None), ("IE", "P12M"), ("CH", None)):
        soft = TABLE.entries[country].basis_rule["soft_opt_in"]
        assert (soft.parties, soft.channels) == ("first", frozenset({"email", "sms", "mms"}))
        assert (None if soft.lapse is None else str(soft.lapse)) == lapse


def test_the_table_is_parsed_once_and_frozen() -> None:
    assert shipped_table() is TABLE
    assert table_for(PolicyConfig()) is TABLE
    with pytest.raises(TypeError):
        TABLE.entries["XX"] = TABLE.entries["US"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        TABLE.entries["US"].name = "x"  # type: ignore[misc]


# ---------------------------------------------------------------------------- overrides

OVERRIDE = """
table_version = "test-1"

[US-FL]
name = "Florida, stricter"
[[US-FL.quiet_hours]]
channels = ["sms", "mms", "voice"]
windows = [{ days = "mon-sun", start = "09:00", end = "19:00" }]
source = "test override of Fla. Stat. 501.616(6)"

[US-CT]
name = "Connecticut"
[[US-CT.quiet_hours]]
channels = ["sms", "mms", "voice"]
windows = [
  { days = ["mon", "tue", "wed", "thu", "fri"], start = "09:00", end = "20:00" },
  { days = "sat,sun", start = "09:00", end = "20:00" },
]
source = "Conn. Gen. Stat. 42-288a(c)"
confidence = "secondary"
"""


def _override(tmp_path: Path, text: str = OVERRIDE, name: str = "table.toml") -> PolicyConfig:
    """A config naming a fresh override file (a file is read once per process, by path)."""
    path = tmp_path / name
    path.write_text(text)
    return replace(PolicyConfig(), jurisdiction_table=path)


def _promo(address: str, at: str, **extra: object) -> list[dict[str, object]]:
    return [
        {"type": "consent", "id": "c1", "at": "2026-06-01T12:00:00Z", "channel": "sms",
         "address": address, "party": "company", "purpose": "marketing", "action": "grant",
         "jurisdiction": "US", "evidence": {"source": "web_form"}},
        {"type": "intent", "id": "m1", "at": at, "channel": "sms", "address": address,
         "sender": "company", "category": "promotional", "has_opt_out": True,
         "jurisdiction": "US", "body": "20% off. Reply STOP to opt out.", **extra},
    ]  # fmt: skip


MIAMI = "+13055550162"
HARTFORD = "+18605550100"


def test_an_override_file_changes_a_window_and_adds_a_state(tmp_path: Path) -> None:
    config = _override(tmp_path)
    table = table_for(config)
    assert table.version == "test-1"
    assert table.entries["US-FL"].window_for["sms"].summary() == "every day 09:00-19:00"
    assert table.entries["US-FL"].name == "Florida, stricter"
    assert "US-CT" in table.entries and "US-TX" in table.entries, "the rest is inherited"
    assert len(table.origins) == 2 and "table.toml" in table.origins[1]
    # 19:30 in Miami: inside the shipped Florida window, outside the override's
    late = _promo(MIAMI, "2026-06-01T23:30:00Z")
    assert [v.reason for v in verdicts(late)] == ["CONSENT_VALID"]
    assert [v.reason for v in verdicts(late, config)] == ["QUIET_HOURS"]
    # 20:30 in Hartford: the federal window allowed it, Connecticut's does not
    hartford = _promo(HARTFORD, "2026-06-02T00:30:00Z")
    assert [v.reason for v in verdicts(hartford)] == ["CONSENT_VALID"]
    assert [v.reason for v in verdicts(hartford, config)] == ["QUIET_HOURS"]


def test_the_override_is_named_in_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(OVERRIDE)
    settings = Settings.from_env({"CONSENTGATE_JURISDICTION_TABLE": str(path)})
    assert settings.policy.jurisdiction_table == path
    assert "US-CT" in table_for(settings.policy).entries
    assert Settings.from_env({}).policy.jurisdiction_table is None


def test_an_empty_section_removes_and_inherit_false_replaces(tmp_path: Path) -> None:
    table = table_for(_override(tmp_path, "[US]\nquiet_hours = []\n"))
    assert "sms" not in table.entries["US"].window_for
    assert table.entries["US"].confirmation_for, "other sections are kept"
    alone = table_for(_override(tmp_path, 'inherit_shipped = false\n[GB]\nname = "UK"\n', "b.toml"))
    assert set(alone.entries) == {"GB"}


def test_a_country_missing_from_the_table_in_force_is_an_invalid_intent(tmp_path: Path) -> None:
    config = _override(tmp_path, "inherit_shipped = false\n")
    table = table_for(config)
    assert isinstance(table, JurisdictionTable) and not table.entries
    night = _promo(MIAMI, "2026-06-02T04:00:00Z")
    assert [v.reason for v in verdicts(night, config)] == ["INVALID_INTENT"]


BAD = [
    ("[US\n", "not valid TOML"),
    ("[USA]\n", "USA: not a jurisdiction"),
    ("colour = 1\n", "colour: not a jurisdiction"),
    ("[US-FL]\n[[US-FL.consent_bases]]\nbasis = 'soft_opt_in'\nsource = 'x'\n",
     "US-FL.consent_bases: unknown key (a subdivision may only set quiet_hours)"),
    ("[GB]\nquiet_hours = 3\n", "GB.quiet_hours: must be a list of tables"),
    ("[GB]\n[[GB.quiet_hours]]\nchannels = ['sms']\nsource = 'x'\n"
     "windows = [{days = 'mon', start = '25:00', end = '26:00'}]\n",
     "GB.quiet_hours[0].windows[0].start: '25:00' is not a local time"),
    ("[GB]\n[[GB.quiet_hours]]\nchannels = ['sms']\nsource = 'x'\n"
     "windows = [{days = 'mon', start = '22:00', end = '06:00'}]\n",
     "GB.quiet_hours[0].windows[0]: start 22:00 is not before end 06:00"),
    ("[GB]\n[[GB.quiet_hours]]\nchannels = ['sms']\nsource = 'x'\n"
     "windows = [{days = 'mon-funday', start = '08:00', end = '20:00'}]\n",
     "GB.quiet_hours[0].windows[0].days: 'mon-funday' is not a weekday"),
    ("[GB]\n[[GB.quiet_hours]]\nchannels = ['sms']\nsource = 'x'\n"
     "windows = [{days = 'sun-mon', start = '08:00', end = '20:00'}]\n", "runs backwards"),
    ("[GB]\n[[GB.quiet_hours]]\nchannels = ['sms']\nsource = 'x'\nwindows = ["
     "{days = 'mon', start = '08:00', end = '12:00'}, {days = 'mon', start = '11:00', "
     "end = '20:00'}]\n", "GB.quiet_hours[0].windows[1]: overlaps 08:00-12:00 on Monday"),
    ("[GB]\n[[GB.quiet_hours]]\nchannels = ['pigeon']\nsource = 'x'\n"
     "windows = [{days = 'mon', start = '08:00', end = '20:00'}]\n",
     "GB.quiet_hours[0].channels: 'pigeon' is not one of"),
    ("[GB]\n[[GB.quiet_hours]]\nchannels = ['sms']\n"
     "windows = [{days = 'mon', start = '08:00', end = '20:00'}]\n",
     "GB.quiet_hours[0].source: is required"),
    ("[GB]\n[[GB.quiet_hours]]\nchannels = ['sms']\nsource = 'x'\nwindows = []\n",
     "GB.quiet_hours[0].windows: must be a non-empty list"),
    ("[GB]\n[[GB.quiet_hours]]\nchannels = ['sms']\nsource = 'x'\n"
     "windows = [{days = 'mon', start = '08:00', end = '20:00', tz = 'UTC'}]\n",
     "GB.quiet_hours[0].windows[0].tz: unknown key"),
    ("[GB]\n[[GB.quiet_hours]]\nchannels = ['sms']\nsource = 'x'\n"
     "windows = [{days = 'mon', start = '08:00', end = '20:00'}]\n"
     "[[GB.quiet_hours]]\nchannels = ['sms']\nsource = 'y'\n"
     "windows = [{days = 'tue', start = '08:00', end = '20:00'}]\n",
     "GB.quiet_hours[1].channels: sms is already in an earlier row"),
    ("[GB]\n[[GB.consent_bases]]\nbasis = 'legitimate_interest'\nsource = 'x'\n",
     "GB.consent_bases[0].basis: 'legitimate_interest' is not one of"),
    ("[GB]\n[[GB.consent_bases]]\nbasis = 'express'\nsource = 'x'\n",
     "express counts everywhere"),
    ("[GB]\n[[GB.consent_bases]]\nbasis = 'soft_opt_in'\nlapse = 'two years'\nsource = 'x'\n",
     "GB.consent_bases[0].lapse: 'two years' is not an ISO-8601 duration"),
    ("[GB]\n[[GB.consent_bases]]\nbasis = 'soft_opt_in'\nlapse = 'P0D'\nsource = 'x'\n",
     "GB.consent_bases[0].lapse: 'P0D' must be longer than zero"),
    ("[GB]\n[[GB.consent_bases]]\nbasis = 'soft_opt_in'\nparties = 'some'\nsource = 'x'\n",
     "GB.consent_bases[0].parties: 'some' is not one of any, first"),
    ("[GB]\n[[GB.consent_bases]]\nbasis = 'soft_opt_in'\nsource = 'x'\n"
     "[[GB.consent_bases]]\nbasis = 'soft_opt_in'\nsource = 'y'\n",
     "GB.consent_bases[1].basis: soft_opt_in is already in an earlier row"),
    ("[GB]\n[[GB.optout_confirmation]]\nchannels = ['sms']\nwithin = 'P1M'\nsource = 'x'\n",
     "GB.optout_confirmation[0].within: use fixed units"),
    ("[GB]\n[[GB.optout_confirmation]]\nchannels = ['sms']\nsource = 'x'\n",
     "GB.optout_confirmation[0].within: is required"),
    ("[GB]\n[[GB.covered_together]]\nchannels = ['sms']\nsource = 'x'\n",
     "GB.covered_together[0].channels: needs at least 2"),
    ("[GB]\nname = ''\n", "GB.name: must be a non-empty string"),
    ("table_version = 3\n", "table_version: must be a string"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "says"), BAD, ids=[b[1][:40] for b in BAD])
def test_loading_errors_name_the_file_the_key_and_the_problem(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(TableError) as caught:
        load_override(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert says in message, message


def test_a_missing_override_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="cannot read the jurisdiction table"):
        load_override(tmp_path / "nope.toml")


def test_inherit_shipped_is_only_for_overrides() -> None:
    with pytest.raises(TableError, match="only an override file inherits"):
        parse_table("inherit_shipped = true\n", "x")


def test_the_shipped_file_parses_on_its_own() -> None:
    text = resources.files("streams.policy").joinpath("jurisdictions.toml").read_text()
    again = parse_table(text, "again")
    assert set(again.entries) == set(TABLE.entries)
    assert again.entries == TABLE.entries


def test_the_docs_describe_every_shipped_jurisdiction() -> None:
    docs = (Path(__file__).parents[3] / "docs" / "jurisdictions.md").read_text()
    for code in TABLE.entries:
        assert f"`{code}`" in docs, f"docs/jurisdictions.md does not mention {code}"
    assert "CONSENTGATE_JURISDICTION_TABLE" in docs
