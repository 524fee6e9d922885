"""J2: no promotional message outside the recipient's local calling hours.

Which window binds: the jurisdiction table's quiet hours for the intent's jurisdiction and
channel; where a subdivision (a US state) has its own for that channel, it replaces the
country's. The subdivision is the intent's `region`, else the one the number's area code is in
(recipient.py). When it cannot be told (a toll-free number, say) the intent must be inside every
window it could be under: the country's and each subdivision's.

Local time (recipient.py): the intent's `timezone`, else every zone the number's prefix maps to;
the intent must be inside the window in all of them.

Declared fields cannot switch a window off (issue 11 §6): where a number's own country differs
from the declared jurisdiction, the windows of both countries bind; a declared `region` that the
number's area code contradicts binds together with the area code's state; a declared `timezone`
the number's prefix contradicts counts together with the prefix's zones. An instant whose local
time would fall outside years 1-9999 fails closed. A window includes its start and excludes its
end. Where a window applies and the local time cannot be told (an unknown zone name, a prefix
mapped to Etc/Unknown, an email address), the gate fails closed: QUIET_HOURS, with the verdict's
detail saying why. A channel with no window (email everywhere; sms in Canada) is not checked.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo

from streams.policy.addresses import PHONE_CHANNELS
from streams.policy.context import Context
from streams.policy.findings import Why
from streams.policy.jurisdictions import JurisdictionTable, QuietHours
from streams.policy.reasons import QUIET_HOURS
from streams.policy.recipient import number_facts, zones_for
from streams.policy.rules.cases import allow, at, consent, deny, intent

RULE_ID: Final = QUIET_HOURS
_PREFIX: Final = tuple(
    f"{RULE_ID}: {day} " for day in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
)
_HHMM: Final = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(24 * 60))
ALLOWS: Final[tuple[str, ...]] = ()
APPLIES_TO: Final = frozenset({"promotional"})
STATEMENT: Final = (
    "A promotional message goes only inside the recipient's local calling hours: US sms, mms and "
    "voice 08:00-21:00 (47 CFR 64.1200(c)(1)), replaced by a state's own under its mini-TCPA "
    "statute (FL, WA, OK, MD 08:00-20:00; MS not on Sunday; TX Mon-Sat 09:00-21:00, Sun "
    "12:00-21:00); CA voice and fax weekdays 09:00-21:30, weekends 10:00-18:00 (CRTC Unsolicited "
    "Telecommunications Rules); IN sms and voice 09:00-21:00 (TRAI TCCCPR 2018) (policy 4 and 6: "
    "'as required by applicable law')."
)


def windows(ctx: Context) -> tuple[QuietHours, ...]:
    """The windows that bind this intent (none: no quiet hours on this channel here)."""
    intent = ctx.intent
    if intent.channel not in ctx.table.windowed_channels:
        return ()
    return _resolved(ctx.table, intent.jurisdiction, intent.channel, intent.address,
                     intent.region, intent.timezone)[0]  # fmt: skip


@lru_cache(maxsize=65536)
def _resolved(
    table: JurisdictionTable,
    jurisdiction: str,
    channel: str,
    address: str,
    region: str | None,
    timezone: str | None,
) -> tuple[tuple[QuietHours, ...], tuple[tuple[str, ZoneInfo], ...] | str]:
    """The binding windows and the recipient's time zones (or why they cannot be told), worked
    out once per recipient and kept: decide() then only converts the instant and compares.

    Declared fields add windows, never remove them (issue 11 §6): a number's own country (when
    the table has it) brings its windows beside the declared jurisdiction's, and a declared
    `region` the number's area code contradicts binds together with the area code's state."""
    phone = channel in PHONE_CHANNELS
    facts = number_facts(address) if phone else None
    countries = [jurisdiction]
    if facts is not None and facts.country not in (None, jurisdiction):
        countries.append(facts.country)
    found: list[QuietHours] = []
    for country in countries:
        binding = table.bindings.get((country, channel))
        if binding is None:
            continue
        if binding.regional:
            codes = {region} if region is not None and country == jurisdiction else set()
            told = facts.subdivision if facts is not None else None
            if told is not None and told.startswith(country + "-"):
                codes.add(told)
            chosen = binding.windows(None) if not codes else tuple(
                w for code in sorted(codes) for w in binding.windows(code))  # fmt: skip
        else:
            chosen = binding.national
        found.extend(w for w in chosen if w not in found)
    if not found:
        return (), ()
    return tuple(found), zones_for(channel, address, timezone, phone)


def check(ctx: Context) -> str | None:
    intent = ctx.intent
    if intent.channel not in ctx.table.windowed_channels:  # email, most often: nothing to do
        return None
    binding, zones = _resolved(ctx.table, intent.jurisdiction, intent.channel, intent.address,
                               intent.region, intent.timezone)  # fmt: skip
    if not binding:
        return None
    if isinstance(zones, str):
        ctx.note(f"{RULE_ID}: the recipient's local time cannot be told: {zones}")
        return RULE_ID
    at = intent.at
    for name, tz in zones:
        try:  # times.local_time, inlined: this is the hot path
            local = at.astimezone(tz)
        except (OverflowError, ValueError):  # the first or last hours of year 1 or 9999
            ctx.note(f"{RULE_ID}: the intent's time in {name} is outside years 1-9999")
            return RULE_ID
        weekday = local.weekday()
        minute = local.hour * 60 + local.minute
        for window in binding:
            for start, end in window.spans[weekday]:
                if start <= minute < end:
                    break
            else:
                # Concatenation of precomputed parts: a campaign at night denies by the thousand.
                ctx.note(_PREFIX[weekday] + _HHMM[minute] + " " + name
                         + window.outside_texts[intent.channel][weekday])  # fmt: skip
                return RULE_ID
    return None


def explain(ctx: Context) -> Why:
    intent = ctx.intent
    binding = windows(ctx)
    if not binding:
        return Why(f"no quiet hours for {intent.channel} in {intent.jurisdiction}")
    own = ctx.table.bindings.get((intent.jurisdiction, intent.channel))
    regional = {} if own is None else own.regional
    code, how = ctx.subdivision()
    if len({w.jurisdiction[:2] for w in binding}) > 1:
        whose = (f"the number's country and the declared {intent.jurisdiction} both bind: "
                 f"{', '.join(w.jurisdiction for w in binding)}")  # fmt: skip
    elif not regional:
        whose = f"the {intent.jurisdiction} window"
    elif code is not None and code.startswith(intent.jurisdiction):
        whose = (f"{code} (from {how}) has its own window" if code in regional
                 else f"{code} (from {how}) has none of its own: the {intent.jurisdiction} "
                 "window")  # fmt: skip
    else:
        whose = (f"state unknown ({how}): every window it could be under, "
                 f"{', '.join(w.jurisdiction for w in binding)}")  # fmt: skip
    times = ctx.local_times()
    if isinstance(times, str):
        return Why(f"{whose}; the recipient's local time cannot be told: {times} (fail closed)")
    lines = []
    for window in binding:
        for local in times:
            inside = window.allows(local.weekday, local.minute)
            lines.append(
                f"{local} is {'inside' if inside else 'OUTSIDE'} "
                f"{window.jurisdiction} {intent.channel} hours {window.day_text(local.weekday)} "
                f"({window.source})"
            )
    how_local = "the intent's timezone" if intent.timezone else "the number's prefix"
    return Why(f"{whose}; local time from {how_local}: " + "; ".join(lines))


SF = "+14155550101"  # America/Los_Angeles
MIAMI = "+13055550162"  # Florida: America/New_York
DALLAS = "+12145550100"  # Texas: America/Chicago
OTTAWA = "+16135550164"  # Ontario: America/Toronto
DELHI = "+919812345678"  # Asia/Calcutta
TOLL_FREE = "+18005550100"  # every NANP zone, no state


def _sms(minutes: float, address: str = SF, **extra: Any) -> tuple[dict[str, Any], ...]:
    """A grant and a promotional sms `minutes` after the cases' base (Monday 18:00 UTC)."""
    return consent(-24 * 60, address=address, **extra), intent(minutes, address=address, **extra)


H = 60
CASES: Final = (
    allow("US sms at 11:00 in San Francisco", "CONSENT_VALID", *_sms(0)),
    allow("US sms at 08:00 sharp (start included)", "CONSENT_VALID", *_sms(-3 * H)),
    allow("email has no window", "CONSENT_VALID",
          consent(-60, channel="email"), consent(-59, channel="email", action="confirm"),
          intent(10 * H, channel="email")),
    allow("Florida 19:59 by the intent's region", "CONSENT_VALID", *_sms(6 * H - 1, region="US-FL",
          timezone="America/New_York", address=SF)),
    allow("Texas Sunday 12:00", "CONSENT_VALID", *_sms(-H + 6 * 24 * H, address=DALLAS)),
    allow("Canadian sms has no window", "CONSENT_VALID",
          *_sms(6 * H, address=OTTAWA, jurisdiction="CA")),
    allow("India 13:30 IST", "CONSENT_VALID", *_sms(-10 * H, address=DELHI, jurisdiction="IN")),
    deny("US sms at 21:00 sharp (end excluded)", RULE_ID, *_sms(10 * H)),
    deny("US sms at 07:59", RULE_ID, *_sms(-3 * H - 1)),
    deny("Florida 20:00 by the number's area code", RULE_ID, *_sms(6 * H, address=MIAMI)),
    deny("a declared timezone the prefix contradicts: both clocks count (LA 18:30 is fine, "
         "New York 21:30 is not)", RULE_ID, *_sms(7 * H + 30, timezone="America/New_York")),
    deny("a declared timezone the prefix contradicts: both clocks count (New York 09:00 is "
         "fine, LA 06:00 is not)", RULE_ID, *_sms(-5 * H, timezone="America/New_York")),
    deny("a declared region the area code contradicts: both states' windows (Florida's 20:00 "
         "end binds a Florida number declared Texas)", RULE_ID,
         *_sms(6 * H + 30, address=MIAMI, region="US-TX", timezone="America/New_York")),
    deny("a US number declared Canada: US sms hours still bind", RULE_ID,
         *_sms(10 * H, jurisdiction="CA")),
    deny("Texas Sunday 11:59", RULE_ID, *_sms(-H - 1 + 6 * 24 * H, address=DALLAS)),
    deny("Mississippi Sunday", RULE_ID,
         *_sms(6 * 24 * H, region="US-MS", timezone="America/Chicago")),
    deny("Canadian voice on Saturday evening", RULE_ID,
         consent(-60, channel="voice", address=OTTAWA, jurisdiction="CA"),
         intent(5 * 24 * H + 5 * H, channel="voice", address=OTTAWA, jurisdiction="CA")),
    deny("India 21:30 IST", RULE_ID, *_sms(-2 * H, address=DELHI, jurisdiction="IN")),
    deny("unknown time zone name: fail closed", RULE_ID, *_sms(0, timezone="Mars/Olympus")),
    deny("toll-free number: every NANP zone must be inside", RULE_ID, *_sms(0, address=TOLL_FREE)),
)  # fmt: skip
assert at(0) == "2026-06-01T18:00:00Z", "the cases above assume the base time"
