"""The report's order, definitions and table, and the figures the steps derive from raw counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from streams.devtools.bench.baseline import baseline_verdict
from streams.devtools.bench.latency import latency_samples
from streams.devtools.bench.optout import chosen_recipients, optout_for
from streams.devtools.bench.report import DEFINITIONS, HEADLINE, TARGETS, ordered, render_table
from streams.devtools.bench.restarts import rebuild_rate
from streams.devtools.bench.throughput import per_verdict


def sample_report() -> dict[str, Any]:
    return {
        "machine": {"cpus": 2, "cpu_model": "Test CPU", "memory_gib": 7.8},
        "gate_verdicts_per_s": 31_234,
        "baseline_per_s": 52_000,
        "ratio": 0.6007,
        "latency_p50_ms": 2.0,
        "latency_p99_ms": 14.0,
        "latency_p999_ms": 40.0,
        "optout_enforcement_p50_ms": 6.5,
        "optout_enforcement_p99_ms": 21.25,
        "cold_recovery_s": 9.87,
        "warm_restart_s": 3.1,
        "peak_rss_mb": 812.4,
        "cpu_us_per_verdict": 41.7,
        "gate_code_us_per_intent": 23.4,
        "rebuild_records_per_s": 98_765,
        "latency": {"target_rate_per_s": 18_000, "load_share_of_gate_max": 0.6, "samples": 500},
        "workload": {"consent_records": 10_000, "recipients": 8_000, "intents": 5_000},
        "versions": {"python": "3.11.7", "kafka_broker": "4.0.0"},
        "run": {"id": "bench-x", "mode": "quick", "duration_s": 31.2},
    }


def row(table: str, label: str) -> str:
    found = [line for line in table.splitlines() if line.startswith(label)]
    assert len(found) == 1, f"{label!r} rows: {found}"
    return found[0]


def test_headline_figures_come_first_in_a_fixed_order() -> None:
    report = sample_report()
    keys = list(ordered(report))
    assert keys[: len(HEADLINE)] == list(HEADLINE)
    assert keys[len(HEADLINE) :] == ["machine", "latency", "workload", "versions", "run"]
    assert ordered(report) == report  # reordered, nothing lost or changed


def test_every_headline_figure_is_defined() -> None:
    undefined = [
        key
        for key in HEADLINE
        if key not in DEFINITIONS
        and not any(k.endswith("*_ms") and key.startswith(k[:-4]) for k in DEFINITIONS)
    ]
    assert undefined == []
    assert "cpu_us_per_verdict" in DEFINITIONS and "rebuild_records_per_s" in DEFINITIONS
    assert "gate_code_us_per_intent" in DEFINITIONS


def test_the_table_shows_each_figure_with_its_target() -> None:
    table = render_table(sample_report())
    assert row(table, "gate verdicts/s").split()[-3:] == ["31,234", ">=", "9000"]
    assert row(table, "ratio gate / baseline").split()[-3:] == ["0.601", ">=", "0.5"]
    assert row(table, "baseline verdicts/s").split()[-1] == "52,000"  # no target
    assert row(table, "latency p99.9 (ms)").split()[-1] == "40"  # issue 12 sets no target
    assert row(table, "opt-out to enforcement p50").split()[-1] == "6.500"
    assert row(table, "worker CPU per verdict (us)").split()[-3:] == ["42", "<=", "100"]
    assert row(table, "cold rebuild (changelog records/s)").split()[-1] == "98,765"
    assert row(table, "gate's code alone, CPU/intent (us)").split()[-1] == "23"  # no target
    assert "run bench-x (quick): 31.2 s" in table
    assert "versions: python 3.11.7, kafka_broker 4.0.0" in table


def test_the_table_of_a_partial_report_shows_none() -> None:
    report = sample_report()
    report["rebuild_records_per_s"] = None
    del report["latency"]
    table = render_table(report)
    assert row(table, "cold rebuild").split()[-1] == "None"
    assert "latency at None intents/s" in table


def test_every_target_is_shown_in_the_table() -> None:
    table = render_table(sample_report())
    for target in TARGETS.values():
        assert target in table


def test_per_verdict_and_rebuild_rate() -> None:
    assert per_verdict(2.0, 50_000, 1e6) == pytest.approx(40.0)
    assert per_verdict(2.0, 50_000, 1e3) == pytest.approx(0.04)
    assert per_verdict(0.5, 0, 1e6) == pytest.approx(500_000.0)
    assert rebuild_rate(1_000_000, 8.0) == 125_000
    assert rebuild_rate(1_000, None) is None
    assert rebuild_rate(1_000, 0.0) is None


def test_latency_samples_leave_out_the_warmup_and_unanswered_intents() -> None:
    appended = {"a": 1_000, "b": 1_400, "c": 1_600, "d": 2_000}
    verdicts = {"a": 1_003, "b": 1_402, "c": 1_610}
    assert sorted(latency_samples(appended, verdicts, warmup_ms=500)) == [10.0]
    assert sorted(latency_samples(appended, verdicts, warmup_ms=0)) == [2.0, 3.0, 10.0]


def test_optout_samples_take_one_intent_per_recipient() -> None:
    intents = {
        "i1": {"address": "a@x.example", "channel": "email"},
        "i2": {"address": "a@x.example", "channel": "email"},
        "i3": {"address": "+14155550100", "channel": "sms"},
        "i4": {"address": "b@x.example", "channel": "email"},
    }
    chosen = chosen_recipients(["i1", "i2", "missing", "i3", "i4"], intents, wanted=2)
    assert chosen == [intents["i1"], intents["i3"]]


def test_an_optout_uses_the_channels_method() -> None:
    sms = optout_for({"channel": "sms", "address": "+1", "jurisdiction": "US"}, 3, "t")
    mail = optout_for({"channel": "email", "address": "a@x", "jurisdiction": "GB"}, 4, "t")
    assert (sms["method"], sms["id"], sms["type"]) == ("sms_keyword", "bench-optout-3", "optout")
    assert mail["method"] == "unsubscribe_link"
    assert (mail["address"], mail["jurisdiction"], mail["party"]) == ("a@x", "GB", None)


def test_the_baseline_verdict_copies_the_intent_but_decides_nothing() -> None:
    now = datetime(2026, 6, 2, tzinfo=UTC)
    intent = {"id": "x1", "channel": "sms", "sender": "s", "category": "legal", "at": now}
    verdict = baseline_verdict(intent, now)
    assert verdict["id"] == "x1" and verdict["reason"] == "BASELINE"
    assert (verdict["channel"], verdict["category"], verdict["intent_at"]) == ("sms", "legal", now)
    assert verdict["rules_evaluated"] == [] and verdict["decided_at"] == now
