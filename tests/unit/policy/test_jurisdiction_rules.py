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
from tests.builders import PHONE, consent, intent, optout

from .support import verdicts


def decided(*records: dict[str, Any], config: PolicyConfig | None = None) -> Verdict:
    return verdicts(records, config or PolicyConfig())[-1]


def promo_after_consent(address: str, at: str, **changes: Any) -> Verdict:
    """The verdict on a promotional intent at `at` to a recipient who consented at `EARLY`."""
    return decided(consent(address=address, at=EARLY), intent(address=address, at=at, **changes))


def ctx_for(raw: dict[str, Any]) -> Context:
    parsed = parse_record(raw)
    assert isinstance(parsed, SendIntent)
    return new_context(parsed, EMPTY_STATE, {}, PolicyConfig())


SF, MIAMI, DALLAS, ANCHORAGE = PHONE, "+13055550162", "+12145550100", "+19075550100"
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
    # The prefix (+1 415: Los Angeles) contradicts Tokyo, so its zone counts as well (issue 11 §6).
    ctx = ctx_for(intent(address=SF, at="2026-06-01T12:00:00Z", timezone="Asia/Tokyo"))
    local, prefix = ctx.local_times()  # type: ignore[misc]
    assert (local.zone, local.weekday, local.minute) == ("Asia/Tokyo", 0, 21 * 60)
    assert str(local) == "Mon 21:00 Asia/Tokyo"
    assert str(prefix) == "Mon 05:00 America/Los_Angeles"


def test_local_time_from_every_zone_of_the_prefix() -> None:
    times = ctx_for(intent(address=ANCHORAGE, at="2026-06-01T12:00:00Z")).local_times()
    assert isinstance(times, tuple)
    assert {t.zone for t in times} == {"America/Adak", "America/Anchorage"}


@pytest.mark.parametrize(
    ("raw", "says"),
    [(intent(address=SF, timezone="Mars/Olympus"), "'Mars/Olympus' is not an IANA time zone"),
     (intent(address=SF, timezone="../../etc/passwd"), "is not an IANA time zone"),
     (intent(address=FREEPHONE), "maps to Etc/Unknown"),
     (intent(address="bob@example.com", channel="email"), "an address on email has no time zone")],
)  # fmt: skip
def test_when_the_local_time_cannot_be_told_it_says_why(raw: dict[str, Any], says: str) -> None:
    reason = ctx_for(raw).local_times()
    assert isinstance(reason, str) and says in reason
    assert zone("Mars/Olympus") is None


# ---------------------------------------------------------------------------- quiet hours


def test_local_time_unknown_fails_closed_with_a_detail() -> None:
    verdict = promo_after_consent(FREEPHONE, "2026-06-01T18:00:00Z")
    assert (verdict.decision, verdict.reasons) == ("deny", ("QUIET_HOURS",))
    assert verdict.detail == ("QUIET_HOURS: the recipient's local time cannot be told: the "
                              "number's prefix maps to Etc/Unknown and the intent gives no "
                              "timezone")  # fmt: skip
    bad_zone = promo_after_consent(SF, "2026-06-01T18:00:00Z", timezone="Nowhere/X")
    assert bad_zone.reason == "QUIET_HOURS" and "Nowhere/X" in (bad_zone.detail or "")


def test_no_window_means_no_check_even_when_the_local_time_is_unknown() -> None:
    email = decided(consent(address="bob@example.com", at=EARLY, channel="email",
                            basis="soft_opt_in", jurisdiction="GB"),
                    intent(address="bob@example.com", at="2026-06-01T03:00:00Z", channel="email",
                          jurisdiction="GB", timezone="Nowhere/X"))  # fmt: skip
    assert email.reason == "CONSENT_VALID"
    uk_sms = decided(
        consent(address="+447911123456", at=EARLY, jurisdiction="GB"),
        intent(address="+447911123456", at="2026-06-01T02:00:00Z", jurisdiction="GB"),
    )
    assert uk_sms.reason == "CONSENT_VALID", "no statutory window in the UK"


def test_a_window_on_a_channel_without_time_zone_denies(tmp_path: Path) -> None:
    path = tmp_path / "email-window.toml"
    path.write_text(
        "[GB]\n[[GB.quiet_hours]]\nchannels = ['email']\nsource = 'test rule'\n"
        "windows = [{days = 'mon-sun', start = '08:00', end = '20:00'}]\n"
    )
    config = PolicyConfig(jurisdiction_table=path)
    records = [consent(address="bob@example.com", at=EARLY, channel="email", basis="soft_opt_in",
                     jurisdiction="GB"),
               intent(address="bob@example.com", at="2026-06-01T12:00:00Z", channel="email",
                     jurisdiction="GB")]  # fmt: skip
    verdict = decided(*records, config=config)
    assert verdict.reason == "QUIET_HOURS"
    assert "an address on email has no time zone" in (verdict.detail or "")
    records[-1]["timezone"] = "Europe/London"
    assert decided(*records, config=config).reason == "CONSENT_VALID"


def test_only_promotional_intents_keep_quiet_hours() -> None:
    night = intent(address=SF, at="2026-06-01T10:00:00Z", category="transactional",
                   has_opt_out=False, body="Your order has shipped.")  # fmt: skip
    assert decided(night).reason == "TRANSACTIONAL"


def test_the_intents_region_binds_with_the_area_code() -> None:
    at = "2026-06-02T03:30:00Z"  # 20:30 PDT: inside the federal window, outside Florida's
    assert promo_after_consent(SF, at).reason == "CONSENT_VALID"
    assert promo_after_consent(SF, at, region="US-FL").reason == "QUIET_HOURS"
    # A Florida number declared New York: Florida's window still binds (issue 11 §6).
    assert (
        promo_after_consent(MIAMI, "2026-06-02T00:30:00Z", region="US-NY").reason == "QUIET_HOURS"
    )
    assert (
        promo_after_consent(MIAMI, "2026-06-01T23:30:00Z", region="US-NY").reason == "CONSENT_VALID"
    )


def test_a_state_window_replaces_the_federal_one() -> None:
    # Texas on Sunday: 12:00-21:00 replaces the federal 08:00-21:00
    sunday_10 = "2026-06-07T15:00:00Z"  # 10:00 CDT
    assert promo_after_consent(DALLAS, sunday_10).reason == "QUIET_HOURS"
    assert promo_after_consent(SF, "2026-06-07T17:00:00Z").reason == "CONSENT_VALID"


def test_an_unknown_state_must_fit_every_window_it_could_be_under() -> None:
    new_york = {"timezone": "America/New_York"}
    monday_10 = "2026-06-01T14:00:00Z"
    sunday_10 = "2026-06-07T14:00:00Z"
    assert promo_after_consent(TOLL_FREE, monday_10, **new_york).reason == ("CONSENT_VALID")
    sunday = promo_after_consent(TOLL_FREE, sunday_10, **new_york)
    assert sunday.reason == "QUIET_HOURS"
    assert sunday.detail == ("QUIET_HOURS: Sun 10:00 America/New_York is outside US-MS sms hours "
                             "(none on Sunday)")  # fmt: skip
    windows = quiet_hours.windows(ctx_for(intent(address=TOLL_FREE, at=sunday_10, **new_york)))
    assert {w.jurisdiction for w in windows} == {"US", "US-FL", "US-WA", "US-OK", "US-MD",
                                                 "US-MS", "US-TX"}  # fmt: skip


def test_a_canadian_number_in_a_us_intent_has_no_us_state() -> None:
    windows = quiet_hours.windows(ctx_for(intent(address=OTTAWA, at=EARLY)))
    assert len(windows) == 7, "the state is unknown, so every US window binds"


def test_every_zone_of_the_prefix_must_be_inside() -> None:
    # 08:30 in Anchorage is 07:30 in Adak
    at = "2026-06-01T16:30:00Z"
    verdict = promo_after_consent(ANCHORAGE, at)
    assert verdict.reason == "QUIET_HOURS" and "America/Adak" in (verdict.detail or "")
    in_anchorage = promo_after_consent(ANCHORAGE, at, timezone="America/Anchorage")
    assert in_anchorage.reason == "CONSENT_VALID"


def test_daylight_saving_time_is_the_zones_own() -> None:
    # 13:30 UTC is 08:30 EST in January and 09:30 EDT in July; 12:30 UTC: 07:30 EST, 08:30 EDT
    ny = "+12125550163"
    winter = decided(consent(address=ny, at="2026-01-01T00:00:00Z"),
                     intent(address=ny, at="2026-01-12T12:30:00Z"))  # fmt: skip
    assert winter.reason == "QUIET_HOURS"
    assert promo_after_consent(ny, "2026-07-13T12:30:00Z").reason == "CONSENT_VALID"


def test_quiet_hours_join_other_reasons_last() -> None:
    verdict = decided(intent(address=SF, at="2026-06-01T10:00:00Z", has_opt_out=False))
    assert verdict.reasons == ("NO_CONSENT", "MISSING_OPT_OUT", "QUIET_HOURS")


# ---------------------------------------------------------------------------- consent bases


def test_the_latest_grants_reasons_when_none_is_valid() -> None:
    ca = "+16135550175"
    records = [
        consent(address=ca, at="2023-01-01T12:00:00Z", jurisdiction="CA", basis="implied_purchase"),
        consent(address=ca, at="2025-06-01T12:00:00Z", jurisdiction="CA", basis="implied_inquiry"),
        intent(address=ca, at="2026-06-17T16:00:00Z", jurisdiction="CA"),
    ]
    assert decided(*records).reasons == ("CONSENT_EXPIRED",)


def test_a_lapse_is_counted_in_calendar_months_and_ends_inclusive() -> None:
    ca = "+16135550175"
    start = "2024-02-29T12:00:00Z"
    end = epoch_ms(parse_instant("2026-02-28T12:00:00Z", "at"))
    assert add_months(epoch_ms(parse_instant(start, "at")), 24) == end
    on_time = [
        consent(address=ca, at=start, jurisdiction="CA", basis="implied_purchase"),
        intent(address=ca, at="2026-02-28T12:00:00Z", jurisdiction="CA"),
    ]
    assert decided(*on_time).reason == "CONSENT_VALID"
    on_time[-1]["at"] = "2026-02-28T12:00:00.001Z"
    assert decided(*on_time).reason == "CONSENT_EXPIRED"


def test_implied_consent_from_an_opt_out_is_gone() -> None:
    ca = "+16135550175"
    records = [
        consent(address=ca, at="2026-06-01T12:00:00Z", jurisdiction="CA", basis="implied_purchase"),
        optout(address=ca, at="2026-06-02T12:00:00Z", jurisdiction="CA"),
        intent(address=ca, at="2026-06-03T16:00:00Z", jurisdiction="CA"),
    ]
    assert decided(*records).reason == "OPTED_OUT"


def test_soft_opt_in_needs_no_confirmation_but_express_email_still_does() -> None:
    gb = "erin@example.co.uk"
    soft = [
        consent(address=gb, at=EARLY, channel="email", jurisdiction="GB", basis="soft_opt_in"),
        intent(address=gb, at="2026-06-02T12:00:00Z", channel="email", jurisdiction="GB"),
    ]
    assert decided(*soft).reason == "CONSENT_VALID"
    express = [consent(address=gb, at=EARLY, channel="email", jurisdiction="GB"), soft[-1]]
    assert decided(*express).reason == "CONSENT_UNCONFIRMED"


# ---------------------------------------------------------------------------- US opt-outs


def confirmation(**changes: Any) -> dict[str, Any]:
    return intent(category="optout_confirmation", has_opt_out=False,
                  body="You are unsubscribed.", **changes)  # fmt: skip


def test_us_opt_out_on_one_call_or_text_channel_covers_the_others() -> None:
    for opted, sent in (("sms", "voice"), ("voice", "mms"), ("mms", "sms")):
        records = [consent(address=SF, at=EARLY, channel=sent),
                   optout(address=SF, at="2026-06-01T17:00:00Z", channel=opted),
                   intent(address=SF, at="2026-06-01T18:00:00Z", channel=sent)]  # fmt: skip
        assert decided(*records).reason == "OPTED_OUT", (opted, sent)
    whatsapp = [
        consent(address=SF, at=EARLY, channel="whatsapp"),
        optout(address=SF, at="2026-06-01T17:00:00Z"),
        intent(address=SF, at="2026-06-01T18:00:00Z", channel="whatsapp"),
    ]
    assert decided(*whatsapp).reason == "CONSENT_VALID", "whatsapp is not in the group"


def test_us_confirmation_window_is_five_minutes_inclusive() -> None:
    base = optout(address=SF, at="2026-06-01T17:00:00Z")
    assert (
        decided(base, confirmation(address=SF, at="2026-06-01T17:05:00Z")).reason
        == "OPTOUT_CONFIRMATION"
    )
    late = decided(base, confirmation(address=SF, at="2026-06-01T17:05:00.001Z"))
    assert late.reason == "CONFIRMATION_NOT_ALLOWED"


def test_the_configured_window_still_holds_outside_the_us() -> None:
    gb = "+447911123456"
    base = optout(address=gb, at="2026-06-01T17:00:00Z", jurisdiction="GB")
    ok = confirmation(address=gb, at="2026-06-02T17:00:00Z", jurisdiction="GB")
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
    raw = optout(address=SF, at="2026-06-01T17:00:00Z")
    raw.update(changes)
    raw = {k: v for k, v in raw.items() if v is not None}
    records = [consent(address=SF, at=EARLY), raw, intent(address=SF, at="2026-06-01T18:00:00Z")]
    assert decided(*records).reason == "OPTED_OUT"


def test_an_opt_out_whose_address_does_not_read_stays_invalid() -> None:
    raw = optout(address="(415) 555-0101", at="2026-06-01T17:00:00Z", omit=["jurisdiction"])
    records = [consent(address=SF, at=EARLY), raw, intent(address=SF, at="2026-06-01T18:00:00Z")]
    assert decided(*records).reason == "CONSENT_VALID"


def test_a_bad_override_path_fails_loudly() -> None:
    with pytest.raises(TableError):
        load_override(Path("/nonexistent/consentgate/table.toml"))
