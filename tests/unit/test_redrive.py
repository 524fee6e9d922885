"""Dead-letter replay: which letters are picked, which are refused, and what reaches Kafka."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams import topics
from streams.runtime.gate import DEAD_LETTER_MAX_VALUE
from streams.runtime.redrive import (
    FOREIGN_TOPIC,
    NO_SOURCE,
    NO_VALUE,
    TRUNCATED,
    UNREADABLE,
    Selection,
    input_topics,
    parse_instant,
    refusal,
    replay_letters,
)
from streams.settings import Settings

PREFIX = "t1."
SETTINGS = Settings().replace(topic_prefix=PREFIX)
ALLOWED = input_topics(SETTINGS)
OPTOUTS = topics.OPTOUT.name(PREFIX)
INTENTS = topics.INTENTS.name(PREFIX)
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def letter(n: int, **changes: Any) -> dict[str, Any]:
    base = {
        "id": f"{OPTOUTS}:0:{n}",
        "at": T0 + timedelta(minutes=n),
        "source_topic": OPTOUTS,
        "source_partition": 0,
        "source_offset": n,
        "source_line": None,
        "key": f"+1415555{n:04d}".encode(),
        "value": b"\x00\x00\x00\x00\x07" + bytes([n]),
        "error": "RegistryUnavailableError: connection refused",
        "error_class": "registry_unavailable",
        "record_id": None,
    }
    base.update(changes)
    return base


class FakePublisher:
    def __init__(self, failing: int = 0) -> None:
        self.sent: list[tuple[str, bytes | None, bytes, str]] = []
        self.failing = failing

    def produce(self, topic: str, key: bytes | None, value: bytes, replayed_from: str) -> None:
        self.sent.append((topic, key, value, replayed_from))

    def flush(self) -> int:
        return self.failing


def test_only_the_gates_own_inputs_under_its_prefix_are_allowed() -> None:
    assert set(ALLOWED) == {
        "t1.consent-events",
        "t1.optout-events",
        "t1.partner-agreements",
        "t1.send-intents",
    }
    assert topics.VERDICTS.name(PREFIX) not in ALLOWED
    assert topics.OPTOUT.name("") not in ALLOWED  # another gate's (unprefixed) opt-outs


def test_the_selected_letters_go_back_with_their_key_and_bytes_unchanged() -> None:
    letters = [letter(1), letter(2, source_topic=INTENTS, error_class="avro_decode"), letter(3)]
    publisher = FakePublisher()
    summary = replay_letters(
        letters, Selection(frozenset({"registry_unavailable"})), ALLOWED, publisher
    )
    assert publisher.sent == [
        (OPTOUTS, letters[0]["key"], letters[0]["value"], letters[0]["id"]),
        (OPTOUTS, letters[2]["key"], letters[2]["value"], letters[2]["id"]),
    ]
    assert (summary.read, summary.selected, summary.published) == (3, 2, 2)
    assert summary.by_class == {"registry_unavailable": 2}
    assert summary.by_topic == {OPTOUTS: 2}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"error": "AvroDecodeError: short read (value truncated from 300000 bytes)"}, TRUNCATED),
        ({"key": b"k" * DEAD_LETTER_MAX_VALUE}, TRUNCATED),
        ({"source_topic": topics.VERDICTS.name(PREFIX)}, FOREIGN_TOPIC),
        ({"source_topic": topics.OPTOUT.name("other.")}, FOREIGN_TOPIC),
        ({"source_topic": "__consumer_offsets"}, FOREIGN_TOPIC),
        ({"source_topic": None, "source_line": 4}, NO_SOURCE),
        ({"value": None}, NO_VALUE),
    ],
)
def test_refused_letters_are_counted_and_never_published(changes, reason) -> None:
    bad = letter(5, **changes)
    assert refusal(bad, ALLOWED) == reason
    publisher = FakePublisher()
    summary = replay_letters([letter(1), bad], Selection(), ALLOWED, publisher)
    assert [sent[3] for sent in publisher.sent] == [letter(1)["id"]]
    assert summary.skipped == {reason: 1}
    assert (summary.selected, summary.published) == (2, 1)


def test_a_letter_that_cannot_be_decoded_is_counted_as_unreadable() -> None:
    summary = replay_letters([None, letter(1)], Selection(), ALLOWED, FakePublisher())
    assert summary.skipped == {UNREADABLE: 1}
    assert (summary.read, summary.published) == (2, 1)


def test_repairs_already_applied_are_replayed_only_when_asked_for() -> None:
    repaired = letter(1, error_class="repaired", error="applied after repair: trimmed")
    assert not Selection().selects(repaired)
    assert Selection(frozenset({"repaired"})).selects(repaired)
    assert Selection().selects(letter(2, error_class="internal_error"))


def test_since_is_inclusive_and_until_exclusive() -> None:
    window = Selection(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4))
    picked = [n for n in range(6) if window.selects(letter(n))]
    assert picked == [2, 3]


def test_a_dry_run_counts_without_publishing() -> None:
    summary = replay_letters([letter(1), letter(2, value=None)], Selection(), ALLOWED, None)
    assert summary.dry_run
    assert (summary.published, summary.skipped[NO_VALUE]) == (1, 1)
    assert summary.as_dict()["by_topic"] == {OPTOUTS: 1}


def test_failed_acknowledgements_are_not_counted_as_published() -> None:
    summary = replay_letters([letter(1), letter(2)], Selection(), ALLOWED, FakePublisher(1))
    assert (summary.published, summary.failed) == (1, 1)


def test_instants_without_a_zone_are_utc() -> None:
    assert parse_instant("2025-03-01T12:00:00") == T0
    assert parse_instant("2025-03-01T13:00:00+01:00") == T0
    assert parse_instant("2025-03-01T12:00:00Z") == T0
    with pytest.raises(ValueError):
        parse_instant("yesterday")
