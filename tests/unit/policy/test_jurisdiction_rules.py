"""The jurisdiction rules through the whole engine: local time and state, bases, US opt-outs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.policy.config import PolicyConfig
from streams.policy.context import Context
from streams.policy.engine import new_context
from streams.policy.jurisdictions import TableError, load_override
from streams.policy.recipient import number_facts, subdivision_from_description, zone
from streams.policy.records import SendIntent, Verdict, parse_record
from streams.policy.rules import quiet_hours
from streams.policy.state import EMPTY_STATE
from streams.policy.times import add_months, epoch_ms, parse_instant

from .support import verdicts

PROMO = "Summer plans: 20% off all data bundles this week. Reply STOP to opt out."


def grant(address: str, at: str, *, channel: str = "sms", jurisdiction: str = "US",
          **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"type": "consent", "id": f"c-{address}-{channel}-{at}", "at": at, "channel": channel,
            "address": address, "party": "company", "purpose": "marketing", "action": "grant",
            "jurisdiction": jurisdiction, "evidence": {"source": "web_form"}, **extra}  # fmt: skip


def promo(address: str, at: str, *, channel: str = "sms", jurisdiction: str = "US",
          **extra: Any) -> dict[str, Any]:  # fmt: skip
    record = {"type": "intent", "id": f"m-{at}", "at": at, "channel": channel, "address": address,
              "sender": "company", "category": "promotional", "has_opt_out": True,
              "jurisdiction": jurisdiction, **extra}  # fmt: skip
    if channel in ("sms", "mms", "email"):
        record.setdefault("body", PROMO if channel != "email" else "15% off. Unsubscribe: x.com/u")
    return record


def decided(*records: dict[str, Any], config: PolicyConfig | None = None) -> Verdict:
    return verdicts(records, config or PolicyConfig())[-1]


def ctx_for(raw: dict[str, Any]) -> Context:
    intent = parse_record(raw)
    assert isinstance(intent, SendIntent)
    return new_context(intent, EMPTY_STATE, {}, PolicyConfig())


SF, MIAMI, DALLAS, ANCHORAGE = "+14155550101", "+13055550162", "+12145550100", "+19075550100"
TOLL_FREE, FREEPHONE, OTTAWA = "+18005550100", "+80012345678", "+16135550164"
EARLY = "2026-06-01T00:00:00Z"


# ---------------------------------------------------------------------------- where and when


def test_number_facts_come_from_phonenumbers() -> None:
    sf = number_facts(SF)
    assert (sf.zone_names, sf.subdivision) == (("America/Los_Angeles",), "US-CA")
    assert number_facts(MIAMI).subdivision == "US-FL"
    assert number_facts(DALLAS).subdivision == "US-TX"
    assert number_facts(OTTAWA).subdivision == "CA-ON"
    toll_free = number_facts(TOLL_FREE)
    assert toll_free.subdivision is None and len(toll_free.zone_names) > 10
    assert number_facts(FREEPHONE).zones is None, "Etc/Unknown: the local time cannot be told"
    assert number_facts("+447911123456").subdivision is None, "only NANP numbers name a state"


def test_state_names_and_codes_map_to_iso_3166_2() -> None:
    assert subdivision_from_description("US", "San Francisco, CA") == "US-CA"
    assert subdivision_from_description("US", "Washington State") == "US-WA"
    assert subdivision_from_description("US", "Washington D.C.") == "US-DC"
    assert subdivision_from_description("CA", "British Columbia") == "CA-BC"
    assert subdivision_from_description("US", "") is None
    assert subdivision_from_description("US", "Atlantis, ZZ") is None
    assert subdivision_from_description("CA", "Northwest Territories/Nunavut/Yukon") is None
    assert subdivision_from_description("GB", "London") is None


def test_local_time_from_the_intents_timezone_first() -> None:
    ctx = ctx_for(promo(SF, "2026-06-01T12:00:00Z", timezone="Asia/Tokyo"))
    (local,) = ctx.local_times()  # type: ignore[misc]
    assert (local.zone, local.weekday, local.minute) == ("Asia/Tokyo", 0, 21 * 60)
    assert str(local) == "Mon 21:00 Asia/Tokyo"


def test_local_time_from_every_zone_of_the_prefix() -> None:
    times = ctx_for(promo(ANCHORAGE, "2026-06-01T12:00:00Z")).local_times()
    assert isinstance(times, tuple)
    assert {t.zone for t in times} == {"America/Adak", "America/Anchorage"}


@pytest.mark.parametrize(
    ("raw", "says"),
    [(promo(SF, EARLY, timezone="Mars/Olympus"), "'Mars/Olympus' is not an IANA time zone"),
     (promo(SF, EARLY, timezone="../../etc/passwd"), "is not an IANA time zone"),
     (promo(FREEPHONE, EARLY), "maps to Etc/Unknown"),
     (promo("bob@example.com", EARLY, channel="email"), "an address on email has no time zone")],
)  # fmt: skip
def test_when_the_local_time_cannot_be_told_it_says_why(raw: dict[str, Any], says: str) -> None:
    reason = ctx_for(raw).local_times()
    assert isinstance(reason, str) and says in reason
    assert zone("Mars/Olympus") is None


# ---------------------------------------------------------------------------- quiet hours


def test_local_time_unknown_fails_closed_with_a_detail() -> None:
    verdict = decided(grant(FREEPHONE, EARLY), promo(FREEPHONE, "2026-06-01T18:00:00Z"))
    assert (verdict.decision, verdict.reasons) == ("deny", ("QUIET_HOURS",))
    assert verdict.detail == ("QUIET_HOURS: the recipient's local time cannot be told: the "
                              "number's prefix maps to Etc/Unknown and the intent gives no "
                              "timezone")  # fmt: skip
    bad_zone = decided(grant(SF, EARLY), promo(SF, "2026-06-01T18:00:00Z", timezone="Nowhere/X"))
    assert bad_zone.reason == "QUIET_HOURS" and "Nowhere/X" in (bad_zone.detail or "")


def test_no_window_means_no_check_even_when_the_local_time_is_unknown() -> None:
    email = decided(grant("bob@example.com", EARLY, channel="email", basis="soft_opt_in",
                          jurisdiction="GB"),
                    promo("bob@example.com", "2026-06-01T03:00:00Z", channel="email",
                          jurisdiction="GB", timezone="Nowhere/X"))  # fmt: skip
    assert email.reason == "CONSENT_VALID"
    uk_sms = decided(
        grant("+447911123456", EARLY, jurisdiction="GB"),
        promo("+447911123456", "2026-06-01T02:00:00Z", jurisdiction="GB"),
    )
    assert uk_sms.reason == "CONSENT_VALID", "no statutory window in the UK"


def test_a_window_on_a_channel_without_time_zone_denies(tmp_path: Path) -> None:
    path = tmp_path / "email-window.toml"
    path.write_text(
        "[GB]\n[[GB.quiet_hours]]\nchannels = ['email']\nsource = 'test rule'\n"
        "windows = [{days = 'mon-sun', start = '08:00', end = '20:00'}]\n"
    )
    config = PolicyConfig(jurisdiction_table=path)
    records = [grant("bob@example.com", EARLY, channel="email", basis="soft_opt_in",
                     jurisdiction="GB"),
               promo("bob@example.com", "2026-06-01T12:00:00Z", channel="email",
                     jurisdiction="GB")]  # fmt: skip
    verdict = decided(*records, config=config)
    assert verdict.reason == "QUIET_HOURS"
    assert "an address on email has no time zone" in (verdict.detail or "")
    records[-1]["timezone"] = "Europe/London"
    assert decided(*records, config=config).reason == "CONSENT_VALID"


def test_only_promotional_intents_keep_quiet_hours() -> None:
    night = {
        "type": "intent",
        "id": "t",
        "at": "2026-06-01T10:00:00Z",
        "channel": "sms",
        "address": SF,
        "sender": "company",
        "category": "transactional",
        "has_opt_out": False,
        "jurisdiction": "US",
        "body": "Your order has shipped.",
    }
    assert decided(night).reason == "TRANSACTIONAL"


def test_the_intents_region_wins_over_the_area_code() -> None:
    at = "2026-06-02T03:30:00Z"  # 20:30 PDT: inside the federal window, outside Florida's
    assert decided(grant(SF, EARLY), promo(SF, at)).reason == "CONSENT_VALID"
    assert decided(grant(SF, EARLY), promo(SF, at, region="US-FL")).reason == "QUIET_HOURS"
    assert (
        decided(grant(MIAMI, EARLY), promo(MIAMI, "2026-06-02T00:30:00Z", region="US-NY")).reason
        == "CONSENT_VALID"
    )


def test_a_state_window_replaces_the_federal_one() -> None:
    # Texas on Sunday: 12:00-21:00 replaces the federal 08:00-21:00
    sunday_10 = "2026-06-07T15:00:00Z"  # 10:00 CDT
    assert decided(grant(DALLAS, EARLY), promo(DALLAS, sunday_10)).reason == "QUIET_HOURS"
    assert decided(grant(SF, EARLY), promo(SF, "2026-06-07T17:00:00Z")).reason == "CONSENT_VALID"


def test_an_unknown_state_must_fit_every_window_it_could_be_under() -> None:
    new_york = {"timezone": "America/New_York"}
    monday_10 = "2026-06-01T14:00:00Z"
    sunday_10 = "2026-06-07T14:00:00Z"
    assert decided(grant(TOLL_FREE, EARLY), promo(TOLL_FREE, monday_10, **new_york)).reason == (
        "CONSENT_VALID"
    )
    sunday = decided(grant(TOLL_FREE, EARLY), promo(TOLL_FREE, sunday_10, **new_york))
    assert sunday.reason == "QUIET_HOURS"
    assert sunday.detail == ("QUIET_HOURS: Sun 10:00 America/New_York is outside US-MS sms hours "
                             "(none on Sunday)")  # fmt: skip
    windows = quiet_hours.windows(ctx_for(promo(TOLL_FREE, sunday_10, **new_york)))
    assert {w.jurisdiction for w in windows} == {"US", "US-FL", "US-WA", "US-OK", "US-MD",
                                                 "US-MS", "US-TX"}  # fmt: skip


def test_a_canadian_number_in_a_us_intent_has_no_us_state() -> None:
    windows = quiet_hours.windows(ctx_for(promo(OTTAWA, EARLY)))
    assert len(windows) == 7, "the state is unknown, so every US window binds"


def test_every_zone_of_the_prefix_must_be_inside() -> None:
    # 08:30 in Anchorage is 07:30 in Adak
    at = "2026-06-01T16:30:00Z"
    verdict = decided(grant(ANCHORAGE, EARLY), promo(ANCHORAGE, at))
    assert verdict.reason == "QUIET_HOURS" and "America/Adak" in (verdict.detail or "")
    assert decided(grant(ANCHORAGE, EARLY), promo(ANCHORAGE, at, timezone="America/Anchorage")
                   ).reason == "CONSENT_VALID"  # fmt: skip


def test_daylight_saving_time_is_the_zones_own() -> None:
    # 13:30 UTC is 08:30 EST in January and 09:30 EDT in July; 12:30 UTC: 07:30 EST, 08:30 EDT
    ny = "+12125550163"
    assert decided(grant(ny, "2026-01-01T00:00:00Z"), promo(ny, "2026-01-12T12:30:00Z")
                   ).reason == "QUIET_HOURS"  # fmt: skip
    assert decided(grant(ny, EARLY), promo(ny, "2026-07-13T12:30:00Z")).reason == "CONSENT_VALID"


def test_quiet_hours_join_other_reasons_last() -> None:
    verdict = decided(promo(SF, "2026-06-01T10:00:00Z", has_opt_out=False))
    assert verdict.reasons == ("NO_CONSENT", "MISSING_OPT_OUT", "QUIET_HOURS")


# ---------------------------------------------------------------------------- consent bases


def test_the_latest_grants_reasons_when_none_is_valid() -> None:
    ca = "+16135550175"
    records = [grant(ca, "2023-01-01T12:00:00Z", jurisdiction="CA", basis="implied_purchase"),
               grant(ca, "2025-06-01T12:00:00Z", jurisdiction="CA", basis="implied_inquiry"),
               promo(ca, "2026-06-17T16:00:00Z", jurisdiction="CA")]  # fmt: skip
    assert decided(*records).reasons == ("CONSENT_EXPIRED",)


def test_a_lapse_is_counted_in_calendar_months_and_ends_inclusive() -> None:
    ca = "+16135550175"
    start = "2024-02-29T12:00:00Z"
    end = epoch_ms(parse_instant("2026-02-28T12:00:00Z", "at"))
    assert add_months(epoch_ms(parse_instant(start, "at")), 24) == end
    on_time = [
        grant(ca, start, jurisdiction="CA", basis="implied_purchase"),
        promo(ca, "2026-02-28T12:00:00Z", jurisdiction="CA"),
    ]
    assert decided(*on_time).reason == "CONSENT_VALID"
    on_time[-1]["at"] = "2026-02-28T12:00:00.001Z"
    assert decided(*on_time).reason == "CONSENT_EXPIRED"


def test_implied_consent_from_an_opt_out_is_gone() -> None:
    ca = "+16135550175"
    records = [grant(ca, "2026-06-01T12:00:00Z", jurisdiction="CA", basis="implied_purchase"),
               {"type": "optout", "id": "o", "at": "2026-06-02T12:00:00Z", "channel": "sms",
                "address": ca, "method": "sms_keyword", "jurisdiction": "CA"},
               promo(ca, "2026-06-03T16:00:00Z", jurisdiction="CA")]  # fmt: skip
    assert decided(*records).reason == "OPTED_OUT"


def test_soft_opt_in_needs_no_confirmation_but_express_email_still_does() -> None:
    gb = "erin@example.co.uk"
    soft = [
        grant(gb, EARLY, channel="email", jurisdiction="GB", basis="soft_opt_in"),
        promo(gb, "2026-06-02T12:00:00Z", channel="email", jurisdiction="GB"),
    ]
    assert decided(*soft).reason == "CONSENT_VALID"
    express = [grant(gb, EARLY, channel="email", jurisdiction="GB"), soft[-1]]
    assert decided(*express).reason == "CONSENT_UNCONFIRMED"


# ---------------------------------------------------------------------------- US opt-outs


def optout(address: str, at: str, *, channel: str = "sms", jurisdiction: str | None = "US",
           **extra: Any) -> dict[str, Any]:  # fmt: skip
    record = {"type": "optout", "id": f"o-{channel}-{at}", "at": at, "channel": channel,
              "address": address, "method": "sms_keyword", **extra}  # fmt: skip
    if jurisdiction is not None:
        record["jurisdiction"] = jurisdiction
    return record


def confirmation(address: str, at: str, *, channel: str = "sms", jurisdiction: str = "US"
                 ) -> dict[str, Any]:  # fmt: skip
    return {
        "type": "intent",
        "id": f"k-{channel}-{at}",
        "at": at,
        "channel": channel,
        "address": address,
        "sender": "company",
        "category": "optout_confirmation",
        "has_opt_out": False,
        "jurisdiction": jurisdiction,
        "body": "You are unsubscribed.",
    }


def test_us_opt_out_on_one_call_or_text_channel_covers_the_others() -> None:
    for opted, sent in (("sms", "voice"), ("voice", "mms"), ("mms", "sms")):
        records = [grant(SF, EARLY, channel=sent),
                   optout(SF, "2026-06-01T17:00:00Z", channel=opted),
                   promo(SF, "2026-06-01T18:00:00Z", channel=sent)]  # fmt: skip
        assert decided(*records).reason == "OPTED_OUT", (opted, sent)
    whatsapp = [
        grant(SF, EARLY, channel="whatsapp"),
        optout(SF, "2026-06-01T17:00:00Z"),
        promo(SF, "2026-06-01T18:00:00Z", channel="whatsapp"),
    ]
    assert decided(*whatsapp).reason == "CONSENT_VALID", "whatsapp is not in the group"


def test_us_confirmation_window_is_five_minutes_inclusive() -> None:
    base = optout(SF, "2026-06-01T17:00:00Z")
    assert decided(base, confirmation(SF, "2026-06-01T17:05:00Z")).reason == "OPTOUT_CONFIRMATION"
    late = decided(base, confirmation(SF, "2026-06-01T17:05:00.001Z"))
    assert late.reason == "CONFIRMATION_NOT_ALLOWED"


def test_the_configured_window_still_holds_outside_the_us() -> None:
    gb = "+447911123456"
    base = optout(gb, "2026-06-01T17:00:00Z", jurisdiction="GB")
    ok = confirmation(gb, "2026-06-02T17:00:00Z", jurisdiction="GB")
    assert decided(base, ok).reason == "OPTOUT_CONFIRMATION"
    hour = PolicyConfig(optout_confirmation_window=timedelta(hours=1))
    assert decided(base, ok, config=hour).reason == "CONFIRMATION_NOT_ALLOWED"


# ---------------------------------------------------------------------------- lenient opt-outs


@pytest.mark.parametrize(
    "changes",
    [{"method": "carrier_pigeon"}, {"method": None}, {"jurisdiction": None},
     {"method": "text STOP", "jurisdiction": "U.S."}],
)  # fmt: skip
def test_an_opt_out_whose_channel_and_address_read_is_honoured(changes: dict[str, Any]) -> None:
    raw = optout(SF, "2026-06-01T17:00:00Z")
    raw.update(changes)
    raw = {k: v for k, v in raw.items() if v is not None}
    records = [grant(SF, EARLY), raw, promo(SF, "2026-06-01T18:00:00Z")]
    assert decided(*records).reason == "OPTED_OUT"


def test_an_opt_out_whose_address_does_not_read_stays_invalid() -> None:
    raw = optout("(415) 555-0101", "2026-06-01T17:00:00Z", jurisdiction=None)
    records = [grant(SF, EARLY), raw, promo(SF, "2026-06-01T18:00:00Z")]
    assert decided(*records).reason == "CONSENT_VALID"


def test_a_bad_override_path_fails_loudly() -> None:
    with pytest.raises(TableError):
        load_override(Path("/nonexistent/consentgate/table.toml"))
