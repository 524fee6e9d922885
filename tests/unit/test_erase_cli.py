"""`consentgate erase` without a broker: the request it sends, which ledger keys it tombstones,
and what it prints (never the address). The Kafka half: tests/integration/test_erasure.py."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from streams.cli import build_parser, main
from streams.cli.erase import ledger_keys_to_erase, readable, request_for, result_of
from streams.policy.errors import InvalidRecord

PHONE = "+14155550101"
REF = "k1:abc"
NOW = datetime(2026, 6, 1, 19, 30, tzinfo=UTC)


def args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["erase", *argv])


def entry(key: str, at: str, **fields: Any) -> dict[str, Any]:
    kind = key.split(":", 1)[0]
    return {"id": key, "kind": kind, "at": datetime.fromisoformat(at), "address": PHONE,
            "recipient_ref": REF, **fields}  # fmt: skip


def test_the_request_carries_the_normalized_address_and_its_key() -> None:
    sent = request_for(args("(415) 555-0101", "--jurisdiction", "us", "--requested-by", "dpo"), NOW)
    assert (sent["address"], sent["channel"], sent["jurisdiction"]) == (PHONE, "sms", "US")
    assert sent["at"] == "2026-06-01T19:30:00.000Z" and sent["id"].startswith("erasure-")
    assert sent["requested_by"] == "dpo"
    assert request_for(args(PHONE, "--id", "e7"), NOW)["id"] == "e7"


@pytest.mark.parametrize(
    "argv",
    [("4155550101",), ("+1415555\u200b0101",), ("pat@",), (PHONE, "--channel", "pigeon")],
)
def test_an_address_that_does_not_normalize_is_refused_before_anything_is_sent(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InvalidRecord):
        request_for(args(*argv), NOW)
    assert main(["erase", *argv]) == 2  # before any connection: nothing was produced
    assert "consentgate erase:" in capsys.readouterr().err


def test_the_tombstoned_keys_are_the_persons_entries_up_to_the_erasure() -> None:
    entries = [
        entry("consent:g1", "2026-06-01T17:00:00+00:00"),
        entry("optout:o1", "2026-06-01T18:00:00+00:00", address=None),  # by pseudonym only
        entry(
            "consent:g9",
            "2026-06-01T17:00:00+00:00",
            address="+14155550102",
            recipient_ref="k1:other",
        ),
        entry("consent:g2", "2026-06-01T20:00:00+00:00"),  # consent given anew after: kept
        entry("erasure:e0", "2026-05-01T00:00:00+00:00", address=None),  # proof: kept
        entry("consent:reused", "2026-06-01T10:00:00+00:00"),
        entry(
            "consent:reused",
            "2026-06-01T11:00:00+00:00",
            address="+14155550102",
            recipient_ref="k1:other",
        ),
        entry("partner:p1", "2026-06-01T00:00:00+00:00", address=None, recipient_ref=None),
    ]
    assert ledger_keys_to_erase(entries, PHONE, {REF}, NOW) == ["consent:g1", "optout:o1"]


def test_what_it_prints_names_the_pseudonym_never_the_address() -> None:
    request = request_for(args(PHONE, "--id", "e1", "--reason", "ticket 9"), NOW)
    audit = {"id": "erasure:e1", "at": NOW, "received_at": NOW, "recipient_ref": REF,
             "address": None}  # fmt: skip
    result = result_of(request, audit, ["consent:g1"])
    assert result["confirmed"] and result["recipient_ref"] == REF
    assert result["ledger_entry"] == "erasure:e1" and result["reason"] == "ticket 9"
    for shown in (orjson.dumps(result).decode(), readable(result)):
        assert PHONE not in shown and "4155550101" not in shown
    assert "1 ledger entries tombstoned (consent:g1)" in readable(result)
    pending = result_of(request, None, [])
    assert not pending["confirmed"] and "not confirmed" in readable(pending)
