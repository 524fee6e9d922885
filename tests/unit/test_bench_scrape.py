"""Reading the worker's metrics text and log: verdict counts, the latency histogram, replay time."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from streams.devtools.bench.scrape import (
    HOLD_COUNT,
    HOLD_SUM,
    changelog_replay_seconds,
    gc_pause_seconds,
    histogram_delta,
    latency_histogram,
    verdicts_total,
)

METRICS = """\
# HELP consentgate_verdicts_total Verdicts written.
# TYPE consentgate_verdicts_total counter
consentgate_verdicts_total{decision="allow",reason="OK"} 120.0
consentgate_verdicts_total{decision="deny",reason="OPTED_OUT"} 30.0
consentgate_verdicts_created{decision="allow",reason="OK"} 1.7e+09
consentgate_decision_latency_seconds_bucket{le="0.001"} 10.0
consentgate_decision_latency_seconds_bucket{le="0.005"} 90.0
consentgate_decision_latency_seconds_bucket{le="+Inf"} 100.0
consentgate_decision_latency_seconds_count 100.0
consentgate_ordering_hold_seconds_sum 0.5
consentgate_ordering_hold_seconds_count 4.0
consentgate_gc_pause_seconds_total{generation="0"} 0.25
consentgate_gc_pause_seconds_total{generation="2"} 1.5
consentgate_gc_pause_seconds_created{generation="2"} 1.7e+09
"""


def test_verdicts_total_sums_every_label_and_skips_other_series() -> None:
    assert verdicts_total(METRICS) == 150
    assert verdicts_total("") == 0


def test_gc_pause_sums_the_generations_and_skips_created() -> None:
    assert gc_pause_seconds(METRICS) == pytest.approx(1.75)
    assert gc_pause_seconds("") == 0.0


def test_latency_histogram_reads_buckets_and_the_hold() -> None:
    found = latency_histogram(METRICS)
    assert found == {0.001: 10.0, 0.005: 90.0, math.inf: 100.0, HOLD_SUM: 0.5, HOLD_COUNT: 4.0}


def test_histogram_delta_takes_quantiles_of_the_difference_only() -> None:
    before = {0.001: 5.0, 0.005: 5.0, 0.025: 5.0, math.inf: 5.0, HOLD_SUM: 0.1, HOLD_COUNT: 1.0}
    after = {
        0.001: 55.0,
        0.005: 104.0,
        0.025: 105.0,
        math.inf: 105.0,
        HOLD_SUM: 0.3,
        HOLD_COUNT: 5.0,
    }
    delta = histogram_delta(before, after)
    assert delta["observations"] == 100
    assert delta["p50_le_ms"] == pytest.approx(1.0)
    assert delta["p99_le_ms"] == pytest.approx(5.0)
    assert delta["p999_le_ms"] == pytest.approx(25.0)
    assert delta["hold_mean_ms"] == pytest.approx(50.0)  # 0.2 s over 4 holds


def test_histogram_delta_past_the_last_finite_bound_and_empty() -> None:
    after = {0.001: 1.0, math.inf: 10.0}
    delta = histogram_delta({}, after)
    assert delta["p50_le_ms"] is None and delta["observations"] == 10
    empty = histogram_delta({}, {})
    assert empty == {
        "observations": 0,
        "p50_le_ms": None,
        "p99_le_ms": None,
        "p999_le_ms": None,
        "hold_mean_ms": None,
    }


def faust_line(clock: str, text: str) -> str:
    return f"[2026-06-02 15:00:{clock}] [123] [INFO] {text}"


def test_changelog_replay_seconds_from_the_log_after_the_offset(tmp_path: Path) -> None:
    earlier = "\n".join(
        [
            faust_line("00,000", "[^---Recovery]: Restoring state from changelog topics..."),
            faust_line("09,000", "[^---Recovery]: Recovery complete"),
        ]
    )
    log = tmp_path / "worker.log"
    log.write_text(earlier + "\n")
    offset = log.stat().st_size
    with log.open("a") as out:
        out.write(faust_line("10,250", "[^Worker]: Starting...") + "\n")
        out.write("a line without a timestamp: Recovery complete\n")
        out.write(
            faust_line("11,000", "[^---Recovery]: Restoring state from changelog topics...\n")
        )
        out.write(faust_line("13,750", "[^---Recovery]: Recovery complete\n"))
        out.write(faust_line("20,000", "[^---Recovery]: Recovery complete\n"))
    assert changelog_replay_seconds(log, offset) == pytest.approx(2.75)
    assert changelog_replay_seconds(log, 0) == pytest.approx(9.0)


def test_changelog_replay_seconds_is_none_without_a_replay(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_text(faust_line("00,000", "[^---Recovery]: Recovery complete") + "\n")
    assert changelog_replay_seconds(log, 0) is None
    log.write_text(faust_line("00,000", "Restoring state from changelog topics") + "\n")
    assert changelog_replay_seconds(log, 0) is None
    assert changelog_replay_seconds(tmp_path / "missing.log", 0) is None


def test_rebuild_time_counts_the_bulk_loader_and_faust_replay(tmp_path: Path) -> None:
    from streams.devtools.bench.scrape import changelog_replay_seconds

    log = tmp_path / "worker.log"
    log.write_text(
        "2026-12-06 04:40:01,000 INFO streams.runtime.recovery loaded 1000000 changelog records"
        " into 6 partitions in 9.5s (105263/s)\n"
        "[2026-12-06 04:40:12,000] [1] [INFO] [^---Recovery]: Restoring state from changelog"
        " topics...\n"
        "[2026-12-06 04:40:12,500] [1] [INFO] [^---Recovery]: Recovery complete\n"
    )
    assert changelog_replay_seconds(log, 0) == 10.0
    log.write_text("nothing rebuilt\n")
    assert changelog_replay_seconds(log, 0) is None
