"""`consentgate bench --quick --json` runs end to end on the real stack and reports every figure.

Proves the benchmark works, not how fast anything is: no number is compared with a target here.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from typing import Any

import pytest

from tests import ROOT

TOP_LEVEL_NUMBERS = (
    "gate_verdicts_per_s",
    "baseline_per_s",
    "ratio",
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_p999_ms",
    "optout_enforcement_p50_ms",
    "optout_enforcement_p99_ms",
    "cold_recovery_s",
    "warm_restart_s",
    "peak_rss_mb",
    "gate_code_us_per_intent",
)


def positive(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


@pytest.fixture(scope="module")
def report(kafka_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work_dir = tmp_path_factory.mktemp("bench")
    env = dict(os.environ)
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=kafka_stack.bootstrap_servers,
        SCHEMA_REGISTRY_URL=kafka_stack.schema_registry_url,
    )
    result = subprocess.run(
        [
            sys.executable, "-m", "streams", "bench", "--quick", "--json", "--scale-workers", "2",
            "--work-dir", str(work_dir), "--kafka-version", kafka_stack.kafka_version,
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, f"bench failed:\n{result.stderr[-4000:]}"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print one line, got {len(lines)}:\n{result.stdout}"
    loaded: dict[str, Any] = json.loads(lines[0])
    return loaded


@pytest.mark.timeout(660)
def test_report_has_every_figure_as_a_positive_number(report: dict[str, Any]) -> None:
    missing = [key for key in TOP_LEVEL_NUMBERS if key not in report]
    assert not missing, f"missing keys: {missing}"
    wrong = {key: report[key] for key in TOP_LEVEL_NUMBERS if not positive(report[key])}
    assert not wrong, f"not positive numbers: {wrong}"


@pytest.mark.timeout(660)
def test_report_figures_are_consistent(report: dict[str, Any]) -> None:
    assert report["latency_p50_ms"] <= report["latency_p99_ms"] <= report["latency_p999_ms"]
    assert report["optout_enforcement_p50_ms"] <= report["optout_enforcement_p99_ms"]
    expected_ratio = report["gate_verdicts_per_s"] / report["baseline_per_s"]
    assert report["ratio"] == pytest.approx(expected_ratio, rel=0.01, abs=0.001)


@pytest.mark.timeout(660)
def test_every_intent_of_the_run_was_decided(report: dict[str, Any]) -> None:
    sizes, gate, baseline = report["sizes"], report["gate"], report["baseline"]
    assert gate["drained_all"] is True
    assert gate["distinct_intents_decided"] == sizes["intents"]
    assert baseline["consumed"] == sizes["intents"]
    assert report["optout_enforcement"]["samples"] == sizes["optout_samples"]
    assert report["latency"]["samples"] > 0
    assert report["latency"]["worker_cpu_us_per_intent"] > 0
    assert report["latency"]["worker_cpu_cores"] > 0
    code = report["gate_code"]  # the gate's code alone decided its own copy of the workload
    assert code["intents"] == min(sizes["intents"], 20_000) == code["sent"]["verdicts"]
    assert 0 < code["sent"]["violations"] < code["intents"]


@pytest.mark.timeout(660)
def test_report_describes_sizes_versions_and_machine(report: dict[str, Any]) -> None:
    sizes = report["sizes"]
    for key in ("recipients", "consent_records", "intents", "optout_samples"):
        assert isinstance(sizes[key], int) and sizes[key] > 0, key
    assert report["workload"]["consent_records"] == sizes["consent_records"]
    versions = report["versions"]
    for key in ("python", "faust-streaming", "aiokafka", "confluent-kafka", "kafka_broker"):
        assert isinstance(versions.get(key), str) and versions[key], key
    machine = report["machine"]
    assert isinstance(machine["cpus"], int) and machine["cpus"] > 0
    assert positive(machine["memory_gib"])
    assert report["run"]["mode"] == "quick"


@pytest.mark.timeout(660)
def test_scale_out_measures_one_worker_then_two(report: dict[str, Any]) -> None:
    scale = report["scale"]
    assert scale["workers"] == 2 and set(scale["phases"]) == {"1", "2"}
    for phase in scale["phases"].values():
        assert positive(phase["verdicts_per_s"]) and positive(phase["cpu_us_per_verdict"])
        # A settled group decides on current state: a worker that forgot the partner positions
        # at a rebalance denied everything STATE_NOT_CURRENT (found by this step).
        assert "STATE_NOT_CURRENT" not in phase["reasons"], phase["reasons"]
        assert sum(phase["reasons"].values()) >= scale["intents_per_phase"]
    one, two = scale["phases"]["1"]["verdicts_per_s"], scale["phases"]["2"]["verdicts_per_s"]
    assert scale["speedup"] == pytest.approx(two / one, rel=0.01)
