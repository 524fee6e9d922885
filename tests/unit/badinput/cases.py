"""Bad input, table-driven: each case names the clause it protects and the outcome it expects.

A case is a few records replayed in order (streams.policy.replay, as `consentgate replay` does),
and the expectation for its *last* line: an intent's verdict (decision and reason), or a line
error whose message says what was wrong. Whatever the input, the replay never raises.

Clauses: "issue11-§N" is issue 11's section N; "contract" is /work/shared/contract/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

T0: Final = "2026-06-01T17:00:00Z"  # grants
T1: Final = "2026-06-01T17:30:00Z"  # opt-outs
T2: Final = "2026-06-01T18:00:00Z"  # intents: Monday 11:00 in San Francisco
SF: Final = "+14155550101"
MIAMI: Final = "+13055550162"
OTTAWA: Final = "+16135550164"
DELHI: Final = "+919812345678"
MAIL: Final = "alice@example.com"
SMS_BODY: Final = "20% off this week. Reply STOP to opt out."
MAIL_BODY: Final = "15% off for members. Unsubscribe: https://example.com/u/a1"


@dataclass(frozen=True)
class Case:
    clause: str
    lines: tuple[Any, ...]  # dicts (JSON-encoded for the replay) or raw text lines
    decision: str | None = None  # the last line's verdict
    reason: str | None = None
    error: str | None = None  # a line error on the last line (or, with a verdict, any line)
    repair: str | None = None  # an opt-out/revocation line's repairs must mention this
    tags: tuple[str, ...] = field(default=())


def grant(channel: str = "sms", address: str = SF, **extra: Any) -> dict[str, Any]:
    record = {"type": "consent", "id": "c1", "at": T0, "channel": channel, "address": address,
              "party": "company", "purpose": "marketing", "action": "grant",
              "evidence": {"source": "web_form"}, "jurisdiction": "US"}  # fmt: skip
    record.update(extra)
    return {k: v for k, v in record.items() if v is not ...}


def confirm(address: str = MAIL, **extra: Any) -> dict[str, Any]:
    return grant("email", address, id="c2", action="confirm", at="2026-06-01T17:01:00Z", **extra)


def optout(channel: str = "sms", address: str = SF, **extra: Any) -> dict[str, Any]:
    record = {"type": "optout", "id": "o1", "at": T1, "channel": channel, "address": address,
              "method": "sms_keyword", "jurisdiction": "US"}  # fmt: skip
    record.update(extra)
    return {k: v for k, v in record.items() if v is not ...}


def partner(**extra: Any) -> dict[str, Any]:
    record = {"type": "partner", "id": "p1", "at": "2026-06-01T16:00:00Z", "party": "acme",
              "agreement": "signed"}  # fmt: skip
    record.update(extra)
    return {k: v for k, v in record.items() if v is not ...}


def intent(channel: str = "sms", address: str = SF, **extra: Any) -> dict[str, Any]:
    record = {"type": "intent", "id": "m1", "at": T2, "channel": channel, "address": address,
              "sender": "company", "category": "promotional", "has_opt_out": True,
              "jurisdiction": "US",
              "body": SMS_BODY if channel == "sms" else MAIL_BODY}  # fmt: skip
    record.update(extra)
    return {k: v for k, v in record.items() if v is not ...}


def valid(*lines: Any) -> tuple[Any, ...]:
    return lines


def _opted_out(clause: str, repair: str, kind: str = "sms", **changes: Any) -> Case:
    """A grant, a damaged opt-out, a promotional intent on channel `kind`: the opt-out (with
    `changes`) must still deny it."""
    address = changes.pop("address", SF if kind == "sms" else MAIL)
    key = "+14155550101" if kind == "sms" else address
    grants = (grant(kind, key),) if kind != "email" else (grant("email", key), confirm(key))
    damaged = {**optout(kind, address), **changes}
    damaged = {k: v for k, v in damaged.items() if v is not ...}
    return Case(
        f"issue11-§3 {clause}",
        (*grants, damaged, intent(kind, key)),
        "deny",
        "OPTED_OUT",
        repair=repair,
    )


def _optout_lost(clause: str, error: str, **changes: Any) -> Case:
    """An opt-out whose recipient cannot be read: a line error, and consent stands."""
    return Case(f"issue11-§3 {clause}", (grant(), optout(**changes)), error=error)


def _grant_refused(clause: str, error: str, kind: str = "sms", **changes: Any) -> Case:
    """A malformed grant (`changes` applied) is refused (a line error): the intent on channel
    `kind` after it has no consent."""
    address = SF if kind == "sms" else MAIL
    damaged = {k: v for k, v in {**grant(kind, address), **changes}.items() if v is not ...}
    return Case(
        f"issue11-§3 {clause}", (damaged, intent(kind, address)), "deny", "NO_CONSENT", error=error
    )


def _invalid(clause: str, error: str, **changes: Any) -> Case:
    """An intent the gate cannot check: INVALID_INTENT, saying why."""
    channel = changes.pop("channel", "sms")
    address = changes.pop("address", SF if channel == "sms" else MAIL)
    return Case(clause, (grant(), intent(channel, address, **changes)), "deny", "INVALID_INTENT",
                error=error)  # fmt: skip


def _decides(clause: str, decision: str, reason: str, *lines: Any) -> Case:
    return Case(clause, lines, decision, reason)


NAIVE = "2026-06-01T17:30:00"
LEAP = "2016-12-31T23:59:60Z"
ZW = "\u200b"  # zero-width space
RLO = "\u202e"  # right-to-left override
BOM = "\ufeff"
KELVIN = "\u212a"

OPTOUTS_APPLIED: Final = (
    _opted_out("opt-out with naive at is applied", "no time zone offset", at=NAIVE),
    _opted_out("opt-out with epoch-seconds at is applied", "epoch number", at=1780335000),
    _opted_out("opt-out with epoch-millis at is applied", "epoch number", at=1780335000000),
    _opted_out("opt-out with a float epoch at is applied", "epoch number", at=1780335000.5),
    _opted_out("opt-out with missing at is applied", "at missing", at=...),
    _opted_out("opt-out with null at is applied", "at missing", at=None),
    _opted_out("opt-out with leap-second at is applied", "leap second", at=LEAP),
    _opted_out("opt-out with prose at is applied", "not an ISO-8601", at="yesterday"),
    _opted_out("opt-out with a boolean at is applied", "boolean", at=True),
    _opted_out("opt-out with an object at is applied", "ISO-8601", at={"t": 1}),
    _opted_out("opt-out with an at out of range by its offset is applied", "years 1-9999",
               at="0001-01-01T00:00:00+23:59"),
    _opted_out("opt-out with year 0 is applied", "ISO-8601", at="0000-12-31T00:00:00Z"),
    _opted_out("opt-out with year 10000 is applied", "ISO-8601", at="10000-01-01T00:00:00Z"),
    _opted_out("opt-out with a huge at text is applied", "characters", at="2" * 10_000),
    _opted_out("opt-out on channel SMS is applied", "channel 'SMS' read as sms", channel="SMS",
               address=SF),
    _opted_out("opt-out on channel ' sms ' is applied", "read as sms", channel=" sms ",
               address=SF),
    _opted_out("opt-out on channel Text is applied", "read as sms", channel="Text", address=SF),
    _opted_out("opt-out on channel EMAIL is applied", "read as email", "email", channel="EMAIL"),
    _opted_out("opt-out on channel e-mail is applied", "read as email", "email",
               channel="E-Mail"),
    _opted_out("opt-out in jurisdiction USA is applied", "'USA' read as US", jurisdiction="USA",
               address="(415) 555-0101"),
    _opted_out("opt-out in jurisdiction usa is applied", "read as US", jurisdiction="usa"),
    _opted_out("opt-out in jurisdiction ' us ' is applied", "read as US", jurisdiction=" us ",
               address="415-555-0101"),
    _opted_out("opt-out with an unknown jurisdiction is applied (E.164 reads alone)",
               "not an ISO 3166-1 country", jurisdiction="Atlantis"),
    _opted_out("opt-out with a numeric jurisdiction is applied", "not a short string",
               jurisdiction=840),
    _opted_out("opt-out without jurisdiction is applied", "jurisdiction missing",
               jurisdiction=...),
    _opted_out("opt-out with an unknown method is applied", "unknown: recorded as other",
               method="carrier_pigeon"),
    _opted_out("opt-out without method is applied", "method missing", method=...),
    _opted_out("opt-out with method ONE_CLICK is applied", "read as one_click",
               method="ONE_CLICK"),
    _opted_out("opt-out with a list as method is applied", "recorded as other", method=["x"]),
    _opted_out("opt-out with a BOM before its channel is applied", "byte-order mark",
               channel=BOM + "sms"),
    _opted_out("opt-out with a BOM before its address is applied", "byte-order mark",
               address=BOM + SF),
    _opted_out("opt-out with a BOM before its at is applied", "byte-order mark", at=BOM + T1),
    _opted_out("opt-out with a BOM before its jurisdiction is applied", "byte-order mark",
               jurisdiction=BOM + "US"),
    _opted_out("opt-out typed OptOut is applied", "type 'OptOut' read as optout", type="OptOut"),
    _opted_out("opt-out typed OPT-OUT is applied", "read as optout", type="OPT-OUT"),
    _opted_out("opt-out without id is applied under a derived id", "id unreadable", id=...),
    _opted_out("opt-out with a numeric id is applied", "id unreadable", id=17),
    _opted_out("opt-out with an unreadable party covers every party", "covers every party",
               party="ac" + ZW + "me"),
    _opted_out("opt-out with an empty party covers every party", "covers every party", party=""),
    _opted_out("opt-out with a numeric party covers every party", "covers every party", party=3),
    _opted_out("e-mail opt-out with naive at is applied", "no time zone", "email", at=NAIVE),
    _opted_out("e-mail opt-out spelled in U-labels reaches the A-label key", "method",
               "email", address="user@bücher.de", method="?"),
    _opted_out("opt-out with every problem at once is applied", "read as sms", channel="SMS",
               jurisdiction="USA", at=NAIVE, method="?", id=..., party=ZW),
)  # fmt: skip

OPTOUTS_LOST: Final = (
    _optout_lost("an opt-out on an unknown channel cannot name a recipient", "channel 'pigeon'",
                 channel="pigeon"),
    _optout_lost("an opt-out without channel cannot name a recipient", "channel is required",
                 channel=...),
    _optout_lost("an opt-out without address cannot name a recipient", "address is required",
                 address=...),
    _optout_lost("an opt-out whose national number needs the unreadable jurisdiction",
                 "and the address needs it", address="(415) 555-0101", jurisdiction="USAA"),
    _optout_lost("an opt-out with a zero-width address is not a new recipient", "ZERO WIDTH",
                 channel="email", address="al" + ZW + "ice@example.com"),
    _optout_lost("an opt-out with a mailto: address is not a new recipient", "mailto:",
                 channel="email", address="mailto:alice@example.com"),
)  # fmt: skip

GRANTS_STRICT: Final = (
    _grant_refused("grant with naive at is refused", "no time zone offset", at=NAIVE),
    _grant_refused("grant with epoch at is refused", "epoch number", at=1780333200),
    _grant_refused("grant with leap-second at is refused", "leap second", at=LEAP),
    _grant_refused("grant without at is refused", "at is required", at=...),
    _grant_refused("grant on channel SMS is refused", "channel 'SMS'", channel="SMS"),
    _grant_refused("grant in jurisdiction USA is refused", "ISO 3166-1", jurisdiction="USA"),
    _grant_refused("grant with a zero-width party is refused", "ZERO WIDTH", party="com" + ZW),
    _grant_refused("grant with a BOM before its address is refused", "ZERO WIDTH NO-BREAK",
                   "email", address=BOM + MAIL),
    _grant_refused("grant without evidence.source is refused", "evidence.source",
                   evidence={"ip": "1"}),
    _grant_refused("grant with oversized evidence is refused", "evidence is over",
                   evidence={"source": "x" * 5000}),
    _grant_refused("grant with action GRANT is refused", "action 'GRANT'", action="GRANT"),
    _grant_refused("grant with an oversized party is refused", "over 128", party="p" * 129),
    _grant_refused("grant to a Kelvin-sign mailbox is refused", "KELVIN SIGN", "email",
                   address=KELVIN + "lice@example.com"),
    _grant_refused("grant with a bidi override in its address is refused", "RIGHT-TO-LEFT",
                   "email", address="alice@exa" + RLO + "mple.com"),
    _grant_refused("grant typed CONSENT is an unknown record", "unknown record type",
                   type="CONSENT"),
)  # fmt: skip


def _third(*lines: Any) -> tuple[Any, ...]:
    return (partner(), grant(party="acme"), *lines,
            intent(sender="acme"))  # fmt: skip


REVOCATIONS: Final = (
    Case("issue11-§3 a revocation with naive at is applied", _third(
        partner(id="p2", at=NAIVE, agreement="revoked")), "deny", "THIRD_PARTY_NO_AGREEMENT",
        repair="no time zone"),
    Case("issue11-§3 a revocation without at is applied", _third(
        partner(id="p2", at=..., agreement="revoked")), "deny", "THIRD_PARTY_NO_AGREEMENT",
        repair="at missing"),
    Case("issue11-§3 a revocation spelled REVOKED is applied", _third(
        partner(id="p2", at=T1, agreement="REVOKED")), "deny", "THIRD_PARTY_NO_AGREEMENT",
        repair="read as revoked"),
    Case("issue11-§3 a revocation of party ' ACME ' is applied", _third(
        partner(id="p2", at=T1, agreement="revoked", party=" ACME ")), "deny",
        "THIRD_PARTY_NO_AGREEMENT"),
    Case("issue11-§3 a revocation with a BOM is applied", _third(
        partner(id="p2", at=T1, agreement=BOM + "revoked")), "deny", "THIRD_PARTY_NO_AGREEMENT",
        repair="byte-order mark"),
    Case("issue11-§3 a revocation without id is applied", _third(
        partner(id=..., at=T1, agreement="revoked")), "deny", "THIRD_PARTY_NO_AGREEMENT",
        repair="id unreadable"),
    Case("issue11-§3 a revocation with an unreadable expiry is applied", _third(
        partner(id="p2", at=T1, agreement="revoked", expires="never")), "deny",
        "THIRD_PARTY_NO_AGREEMENT", repair="needs no expiry"),
    Case("issue11-§3 a revocation with an epoch at is applied", _third(
        partner(id="p2", at=1780335000, agreement="revoked")), "deny",
        "THIRD_PARTY_NO_AGREEMENT", repair="epoch"),
    Case("issue11-§3 a revocation typed Partner is applied", _third(
        partner(id="p2", at=T1, agreement="revoked", type="Partner")), "deny",
        "THIRD_PARTY_NO_AGREEMENT", repair="read as partner"),
    Case("issue11-§3 a revocation with an unreadable party cannot be applied",
         (partner(id="p2", agreement="revoked", party=ZW),), error="ZERO WIDTH"),
    Case("issue11-§3 a signature with naive at is refused",
         (partner(at=NAIVE), grant(party="acme"), intent(sender="acme")), "deny",
         "THIRD_PARTY_NO_AGREEMENT", error="no time zone"),
    Case("issue11-§3 a signature spelled Signed is refused",
         (partner(agreement="Signed"), grant(party="acme"), intent(sender="acme")), "deny",
         "THIRD_PARTY_NO_AGREEMENT", error="agreement 'Signed'"),
    Case("issue11-§3 a signature without id is refused",
         (partner(id=...), grant(party="acme"), intent(sender="acme")), "deny",
         "THIRD_PARTY_NO_AGREEMENT", error="id must be"),
    Case("issue11-§3 a signature with an epoch expiry is refused",
         (partner(expires=1900000000), grant(party="acme"), intent(sender="acme")), "deny",
         "THIRD_PARTY_NO_AGREEMENT", error="epoch number"),
)  # fmt: skip

ONE_KEY: Final = (
    _decides("issue11-§2 a U-label grant and an A-label intent are one recipient", "allow",
             "CONSENT_VALID", grant("email", "user@bücher.de"), confirm("user@bücher.de"),
             intent("email", "user@xn--bcher-kva.de")),
    _decides("issue11-§2 an A-label grant and an upper-case U-label intent are one recipient",
             "allow", "CONSENT_VALID", grant("email", "user@xn--bcher-kva.de"),
             confirm("USER@BÜCHER.DE"), intent("email", " User@Bücher.De ")),
    _decides("issue11-§2 an opt-out in U-labels stops an A-label intent", "deny", "OPTED_OUT",
             grant("email", "user@xn--bcher-kva.de"), confirm("user@xn--bcher-kva.de"),
             optout("email", "User@BÜCHER.de"), intent("email", "user@xn--bcher-kva.de")),
    _decides("issue11-§2 a decomposed and a composed local part are one mailbox", "allow",
             "CONSENT_VALID", grant("email", "jose\u0301@example.com"),
             confirm("JOS\u00c9@example.com"), intent("email", "jos\u00e9@example.com")),
    _decides("issue11-§2 the Kelvin sign is not k: no consent reaches it", "deny",
             "INVALID_INTENT", grant("email", "kelvin@example.com"), confirm("kelvin@example.com"),
             intent("email", KELVIN + "elvin@example.com")),
    _decides("issue11-§2 full-width letters never merge with ASCII mailboxes", "deny",
             "INVALID_INTENT", grant("email", "alice@example.com"), confirm("alice@example.com"),
             intent("email", "\uff41lice@example.com")),
    _decides("issue11-§2 a national and an E.164 spelling are one number", "allow",
             "CONSENT_VALID", grant(address="(415) 555-0101"), intent(address="+1 415-555-0101")),
    _decides("issue11-§2 full-width digits are one number", "allow", "CONSENT_VALID",
             grant(address=SF), intent(address="\uff0b\uff11 415 555 0101")),
    _decides("issue11-§2 an opt-out in dotted digits stops an E.164 intent", "deny",
             "OPTED_OUT", grant(), optout(address="415.555.0101"), intent()),
    _decides("issue11-§2 party ids are case-folded: Company is company", "allow",
             "CONSENT_VALID", grant(party="Company"), intent(sender=" COMPANY ")),
    _decides("issue11-§2 a partner agreement for ACME covers acme", "allow", "CONSENT_VALID",
             partner(party="ACME"), grant(party=" Acme"), intent(sender="acme")),
    _decides("issue11-§2 an opt-out from party ACME covers sender acme", "deny", "OPTED_OUT",
             partner(), grant(party="acme"), optout(party="ACME"), intent(sender="acme")),
    _decides("issue11-§2 social handles keep their case (distinct recipients)", "deny",
             "NO_CONSENT", grant("social_dm", "@Alice"),
             intent("social_dm", "@alice", body="Hello. Reply STOP to opt out.")),
    _decides("issue11-§2 social handles: whitespace collapses to one key", "allow",
             "CONSENT_VALID", grant("social_dm", " @alice  fan "),
             intent("social_dm", "@alice fan", body="Hello. Reply STOP to opt out.")),
)  # fmt: skip

INVALID_INTENTS: Final = (
    _invalid("issue11-§2 zero-width space in an e-mail", "ZERO WIDTH SPACE", channel="email",
             address="ali" + ZW + "ce@example.com"),
    _invalid("issue11-§2 zero-width joiner in an e-mail", "ZERO WIDTH JOINER", channel="email",
             address="ali\u200dce@example.com"),
    _invalid("issue11-§2 word joiner in an e-mail", "WORD JOINER", channel="email",
             address="ali\u2060ce@example.com"),
    _invalid("issue11-§2 right-to-left override in an e-mail", "RIGHT-TO-LEFT OVERRIDE",
             channel="email", address="alice@" + RLO + "example.com"),
    _invalid("issue11-§2 left-to-right isolate in an e-mail", "LEFT-TO-RIGHT ISOLATE",
             channel="email", address="\u2066alice@example.com"),
    _invalid("issue11-§2 a BOM inside an e-mail", "ZERO WIDTH NO-BREAK", channel="email",
             address="alice" + BOM + "@example.com"),
    _invalid("issue11-§2 soft hyphen in an e-mail", "SOFT HYPHEN", channel="email",
             address="ali\u00adce@example.com"),
    _invalid("issue11-§2 NUL in an e-mail", "U+0000", channel="email",
             address="alice\x00@example.com"),
    _invalid("issue11-§2 escape character in an e-mail", "U+001B", channel="email",
             address="\x1b[31malice@example.com"),
    _invalid("issue11-§2 DEL in an e-mail", "U+007F", channel="email",
             address="alice\x7f@example.com"),
    _invalid("issue11-§2 line separator in an e-mail", "LINE SEPARATOR", channel="email",
             address="alice\u2028@example.com"),
    _invalid("issue11-§2 private-use character in an e-mail", "U+E000", channel="email",
             address="alice\ue000@example.com"),
    _invalid("issue11-§2 mailto: URI", "mailto:", channel="email",
             address="mailto:alice@example.com"),
    _invalid("issue11-§2 MAILTO: URI", "mailto:", channel="email",
             address="MAILTO:alice@example.com"),
    _invalid("issue11-§2 display name", "display name", channel="email",
             address="Alice <alice@example.com>"),
    _invalid("issue11-§2 quoted display name", "display name", channel="email",
             address='"Alice" <alice@example.com>'),
    _invalid("issue11-§2 bare angle brackets", "angle brackets", channel="email",
             address="<alice@example.com>"),
    _invalid("issue11-§2 Kelvin sign in a local part", "KELVIN SIGN", channel="email",
             address=KELVIN + "elvin@example.com"),
    _invalid("issue11-§2 Angstrom sign in a local part", "ANGSTROM SIGN", channel="email",
             address="\u212bngstrom@example.com"),
    _invalid("issue11-§2 ligature fi in a local part", "LIGATURE FI", channel="email",
             address="\ufb01sh@example.com"),
    _invalid("issue11-§2 superscript two in a local part", "SUPERSCRIPT TWO", channel="email",
             address="user\u00b2@example.com"),
    _invalid("issue11-§2 two @ signs", "not valid", channel="email",
             address="a@b@example.com"),
    _invalid("issue11-§2 quoted local part", "not valid", channel="email",
             address='"a b"@example.com'),
    _invalid("issue11-§2 IP literal domain", "not valid", channel="email",
             address="alice@[192.0.2.1]"),
    _invalid("issue11-§2 reserved .test domain", "special-use", channel="email",
             address="alice@example.test"),
    _invalid("issue11-§2 domain without a dot", "not valid", channel="email",
             address="alice@localhost"),
    _invalid("issue11-§2 invalid IDNA label", "not valid", channel="email",
             address="alice@xn--zz.com"),
    _invalid("issue11-§2 tel: URI", "only digits", address="tel:+14155550101"),
    _invalid("issue11-§2 vanity number", "only digits", address="1-800-FLOWERS"),
    _invalid("issue11-§2 number with an extension", "only digits",
             address="+1 415 555 0101 ext 7"),
    _invalid("issue11-§2 zero-width space in a number", "only digits",
             address="+1415" + ZW + "5550101"),
    _invalid("issue11-§2 bidi mark in a number", "only digits", address="\u200f+14155550101"),
    _invalid("issue11-§2 number that is not valid", "not a valid number",
             address="+15555550100"),
    _invalid("issue11-§2 national number in an unknown jurisdiction", "jurisdiction XX",
             address="(415) 555-0101", jurisdiction="XX"),
    _invalid("issue11-§2 control character in a postal address", "U+0007", channel="post",
             address="1 Main St\x07"),
    _invalid("issue11-§2 bidi override in a handle", "RIGHT-TO-LEFT", channel="social_dm",
             address="@alice" + RLO),
    _invalid("issue11-§2 zero-width in a sender", "ZERO WIDTH", sender="com" + ZW + "pany"),
    _invalid("issue11-§2 empty sender", "party id is empty", sender="  "),
    _invalid("contract channel is case-sensitive on intents: SMS", "channel 'SMS'",
             channel="SMS", address=SF),
    _invalid("contract category is case-sensitive on intents", "category 'Promotional'",
             category="Promotional"),
    _invalid("issue11-§5 oversized body", "body is 262145 characters",
             body="x" * (256 * 1024 + 1)),
    _invalid("issue11-§5 oversized subject", "subject is 2000 characters", subject="s" * 2000),
    _invalid("issue11-§5 oversized campaign", "campaign is 300 characters", campaign="c" * 300),
    _invalid("issue11-§5 oversized sender", "over 128", sender="s" * 500),
    _invalid("issue11-§5 oversized address", "over 512", channel="email",
             address="a" * 10_000 + "@example.com"),
    _invalid("issue11-§5 oversized phone text", "over 64", address="+1" + " " * 100 + "4155550101"),
    _invalid("issue11-§5 oversized timezone", "timezone is 1000 characters",
             timezone="A" * 1000),
    _invalid("issue11-§5 oversized jurisdiction", "jurisdiction is 300 characters",
             jurisdiction="U" * 300),
    _invalid("issue11-§5 a subject that is not text", "subject must be a string", subject=7),
    _invalid("issue11-§6 jurisdiction not in the table", "not in the jurisdiction table",
             jurisdiction="DE"),
    _invalid("issue11-§6 jurisdiction XX", "not in the jurisdiction table", jurisdiction="XX"),
    _invalid("issue11-§6 jurisdiction USA (alpha-3) on an intent", "ISO 3166-1",
             jurisdiction="USA"),
    _invalid("issue11-§6 jurisdiction U.S.", "ISO 3166-1", jurisdiction="U.S."),
    _invalid("issue11-§6 empty jurisdiction", "non-empty", jurisdiction=""),
    _invalid("issue11-§6 numeric jurisdiction", "non-empty string", jurisdiction=840),
    _invalid("issue11-§6 region not in ISO 3166-2", "not an ISO 3166-2 subdivision",
             region="US-ZZ"),
    _invalid("issue11-§6 region of another country", "not in jurisdiction US", region="CA-ON"),
    _invalid("issue11-§6 region spelled out", "ISO 3166-2", region="Florida"),
    _invalid("issue11-§6 region with a BOM", "ISO 3166-2", region=BOM + "US-FL"),
    _invalid("issue11-§5 naive at", "no time zone offset", at="2026-06-01T18:00:00"),
    _invalid("issue11-§5 epoch-seconds at", "epoch number", at=1780336800),
    _invalid("issue11-§5 epoch-millis at", "epoch number", at=1780336800000),
    _invalid("issue11-§5 leap-second at", "leap second", at="2016-12-31T23:59:60Z"),
    _invalid("issue11-§5 leap second with an offset", "leap second",
             at="2016-12-31T18:59:60-05:00"),
    _invalid("issue11-§5 year 0", "ISO-8601", at="0000-01-01T00:00:00Z"),
    _invalid("issue11-§5 year 10000", "ISO-8601", at="10000-01-01T00:00:00Z"),
    _invalid("issue11-§5 year 1 pushed before the calendar by +23:59", "years 1-9999",
             at="0001-01-01T00:00:00+23:59"),
    _invalid("issue11-§5 year 9999 pushed past the calendar by -23:59", "years 1-9999",
             at="9999-12-31T23:59:59-23:59"),
    _invalid("issue11-§5 year 9999 pushed past by one minute", "years 1-9999",
             at="9999-12-31T23:59:00-00:01"),
    _invalid("issue11-§5 offset of 24 hours", "ISO-8601", at="2026-06-01T18:00:00+24:00"),
    _invalid("issue11-§5 month 13", "ISO-8601", at="2026-13-01T18:00:00Z"),
    _invalid("issue11-§5 30 February", "ISO-8601", at="2026-02-30T18:00:00Z"),
    _invalid("issue11-§5 a BOM before at", "ISO-8601", at=BOM + T2),
    _invalid("issue11-§5 at as an object", "ISO-8601", at={"$date": T2}),
    _invalid("issue11-§5 at as a boolean", "boolean", at=False),
    _invalid("issue11-§5 a 10,000-character at", "characters", at="9" * 10_000),
)  # fmt: skip


def _promo_at(at: str, **changes: Any) -> tuple[Any, ...]:
    return (grant(at="0001-01-01T00:00:00Z", **changes.pop("grant", {})),
            intent(at=at, **changes))  # fmt: skip


DATES: Final = (
    _decides("issue11-§5 year 1 transactional decides", "allow", "TRANSACTIONAL",
             intent(at="0001-01-01T00:00:00Z", category="transactional", body="Your code: 1")),
    _decides("issue11-§5 year 9999 transactional decides", "allow", "TRANSACTIONAL",
             intent(at="9999-12-31T23:59:59.999Z", category="transactional", body="Receipt")),
    _decides("issue11-§5 year 1 with -23:59 decides", "allow", "TRANSACTIONAL",
             intent(at="0001-01-01T00:00:00-23:59", category="transactional", body="Receipt")),
    _decides("issue11-§5 year 9999 with +23:59 decides", "allow", "TRANSACTIONAL",
             intent(at="9999-12-31T23:59:59+23:59", category="transactional", body="Receipt")),
    _decides("issue11-§5 an ordinary date with +23:59", "deny", "NO_CONSENT",
             intent(at="2026-06-02T17:59:00+23:59")),
    _decides("issue11-§5 an ordinary date with -23:59", "deny", "NO_CONSENT",
             intent(at="2026-06-01T10:01:00-23:59")),
    _decides("issue11-§5 year 1 promotional sms: local time before the calendar fails closed",
             "deny", "QUIET_HOURS", *_promo_at("0001-01-01T00:30:00Z")),
    _decides("issue11-§5 year 9999 promotional sms in India: local time past the calendar",
             "deny", "QUIET_HOURS", *_promo_at("9999-12-31T23:00:00Z", address=DELHI,
                                               jurisdiction="IN",
                                               grant={"address": DELHI, "jurisdiction": "IN"})),
    _decides("issue11-§5 year 9999 in San Francisco is an ordinary afternoon", "allow",
             "CONSENT_VALID", *_promo_at("9999-12-31T20:00:00Z")),
    _decides("issue11-§5 a CA implied grant near 9999: the 2-year lapse cannot overflow",
             "allow", "CONSENT_VALID",
             grant(at="9999-06-01T00:00:00Z", address=OTTAWA, jurisdiction="CA",
                   basis="implied_purchase"),
             intent(at="9999-12-31T16:00:00Z", address=OTTAWA, jurisdiction="CA")),
    _decides("issue11-§5 an IE soft opt-in near 9999: the 12-month lapse cannot overflow",
             "allow", "CONSENT_VALID",
             grant("email", "aoife@example.ie", at="9999-03-01T00:00:00Z", jurisdiction="IE",
                   basis="soft_opt_in"),
             intent("email", "aoife@example.ie", at="9999-12-31T23:59:59.999Z",
                    jurisdiction="IE")),
    _decides("issue11-§5 a CA implied grant in year 1 lapses after 2 years", "deny",
             "CONSENT_EXPIRED",
             grant(at="0001-01-01T00:00:00Z", address=OTTAWA, jurisdiction="CA",
                   basis="implied_purchase"),
             intent(at="0005-01-01T16:00:00Z", address=OTTAWA, jurisdiction="CA")),
    _decides("issue11-§5 an opt-out in year 9999 still stops the intent", "deny", "OPTED_OUT",
             grant(), optout(at="9999-12-31T23:59:59.999Z"), intent()),
    _decides("issue11-§5 microseconds are truncated, not rounded into the next day", "deny",
             "NO_CONSENT", intent(at="2026-06-01T23:59:59.999999Z")),
)  # fmt: skip

DECLARED: Final = (
    _decides("issue11-§6 a US number declared CA: US sms hours still bind", "deny",
             "QUIET_HOURS", grant(jurisdiction="CA"),
             intent(jurisdiction="CA", at="2026-06-02T04:00:00Z")),
    _decides("issue11-§6 a US number declared CA: CA implied consent is not enough", "deny",
             "CONSENT_BASIS_NOT_ACCEPTED", grant(jurisdiction="CA", basis="implied_purchase"),
             intent(jurisdiction="CA")),
    _decides("issue11-§6 a US number declared GB: the soft opt-in is not enough", "deny",
             "CONSENT_BASIS_NOT_ACCEPTED", grant(jurisdiction="GB", basis="soft_opt_in"),
             intent(jurisdiction="GB")),
    _decides("issue11-§6 a CA number declared US: implied consent is still US-refused", "deny",
             "CONSENT_BASIS_NOT_ACCEPTED", grant(address=OTTAWA, basis="implied_purchase"),
             intent(address=OTTAWA)),
    _decides("issue11-§6 a CA number declared CA: implied consent counts", "allow",
             "CONSENT_VALID", grant(address=OTTAWA, jurisdiction="CA", basis="implied_purchase"),
             intent(address=OTTAWA, jurisdiction="CA")),
    _decides("issue11-§6 a Florida number declared New York: Florida's 20:00 binds", "deny",
             "QUIET_HOURS", grant(address=MIAMI),
             intent(address=MIAMI, region="US-NY", at="2026-06-02T00:30:00Z")),
    _decides("issue11-§6 a Florida number declared Florida: 19:30 is inside", "allow",
             "CONSENT_VALID", grant(address=MIAMI),
             intent(address=MIAMI, region="US-FL", at="2026-06-01T23:30:00Z")),
    _decides("issue11-§6 a Los Angeles number declared New York time: both clocks", "deny",
             "QUIET_HOURS", grant(at="2026-06-01T12:00:00Z"),
             intent(timezone="America/New_York", at="2026-06-01T13:00:00Z")),
    _decides("issue11-§6 a Los Angeles number declared Los Angeles time", "allow",
             "CONSENT_VALID", grant(), intent(timezone="America/Los_Angeles")),
    _decides("issue11-§6 a declared zone the prefix contradicts, inside both", "allow",
             "CONSENT_VALID", grant(), intent(timezone="America/New_York")),
    _decides("issue11-§6 an unknown declared zone fails closed", "deny", "QUIET_HOURS",
             grant(), intent(timezone="Mars/Olympus")),
    _decides("issue11-§6 lower-case jurisdiction is the same jurisdiction", "allow",
             "CONSENT_VALID", grant(), intent(jurisdiction="us")),
    _decides("issue11-§6 lower-case region is the same region", "deny", "QUIET_HOURS",
             grant(address=MIAMI),
             intent(address=MIAMI, region="us-fl", at="2026-06-02T00:30:00Z")),
)  # fmt: skip

# Lines that are not records at all: the replay reports them and goes on.
RAW_LINES: Final = (
    Case("contract a line that is not JSON is reported, the replay goes on",
         ("{not json", intent(category="legal", body="Notice")), "allow", "LEGAL_REQUIRED",
         error="not JSON"),
    Case("contract a JSON array is not a record", ('["intent"]', intent(category="legal",
         body="Notice")), "allow", "LEGAL_REQUIRED", error="must be an object"),
    Case("contract a JSON number is not a record", ("42", intent(category="legal",
         body="Notice")), "allow", "LEGAL_REQUIRED", error="must be an object"),
    Case("contract a JSON string is not a record", ('"intent"', intent(category="legal",
         body="Notice")), "allow", "LEGAL_REQUIRED", error="must be an object"),
    Case("contract JSON null is not a record", ("null", intent(category="legal",
         body="Notice")), "allow", "LEGAL_REQUIRED", error="must be an object"),
    Case("contract deeply nested JSON is reported", ("[" * 5000 + "]" * 5000,
         intent(category="legal", body="Notice")), "allow", "LEGAL_REQUIRED"),
    Case("issue11-§5 a huge integer at is reported", ('{"type": "intent", "id": "m0", '
         '"at": 1' + "0" * 400 + "}", intent(category="legal", body="Notice")), "allow",
         "LEGAL_REQUIRED"),
    Case("issue11-§5 a type that is an object is an unknown type",
         ({"type": {"a": 1}, "id": "x"}, intent(category="legal", body="Notice")), "allow",
         "LEGAL_REQUIRED", error="unknown record type"),
    Case("issue11-§5 a type that is a list is an unknown type",
         ({"type": ["optout"], "id": "x"}, intent(category="legal", body="Notice")), "allow",
         "LEGAL_REQUIRED", error="unknown record type"),
    Case("issue11-§5 an oversized id is not echoed as a verdict id",
         (intent(id="i" * 100_000),), error="id is 100000 characters"),
)  # fmt: skip

ALL: Final = (*OPTOUTS_APPLIED, *OPTOUTS_LOST, *GRANTS_STRICT, *REVOCATIONS, *ONE_KEY,
              *INVALID_INTENTS, *DATES, *DECLARED, *RAW_LINES)  # fmt: skip
