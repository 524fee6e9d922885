"""The report: its headline figures first, what each one means, and the table `consentgate bench`
prints without `--json`."""

from __future__ import annotations

from typing import Any

# Issue 12's targets (full sizes, this 2-core machine, broker alongside); figures it sets none for
# are shown without one.
TARGETS = {
    "gate_verdicts_per_s": ">= 9000",
    "ratio": ">= 0.5",
    "latency_p99_ms": "<= 50",
    "optout_enforcement_p99_ms": "<= 20",
    "cold_recovery_s": "<= 15",
    "peak_rss_mb": "<= 1024",
    "cpu_us_per_verdict": "<= 100",
}

DEFINITIONS = {
    "gate_verdicts_per_s": "(verdicts - 1) / (last - first verdict broker timestamp), the worker "
    "draining the pre-filled intents after a restart on its data directory, for at most "
    "drain_seconds (verdicts topic with LogAppendTime)",
    "baseline_per_s": "the same, for a confluent-kafka consume / WireCodec.decode / "
    "WireCodec.encode(verdict-shaped record) / produce loop in one child process, same intents",
    "ratio": "gate_verdicts_per_s / baseline_per_s",
    "latency_*_ms": "verdict broker append time - intent broker append time (both "
    "LogAppendTime; 1 ms resolution), intents produced at a fixed rate of "
    "latency.load_share_of_gate_max x gate_verdicts_per_s, the first "
    "latency.warmup_s_excluded seconds left out",
    "optout_enforcement_*_ms": "opt-out acknowledged -> deny verdict received by a consumer in "
    "the bench process, for a promotional intent produced right after the ack",
    "cold_recovery_s": "worker spawned on an empty data directory -> faust 'Ready' (table "
    "recovered from the changelog, agents running); includes process start-up",
    "warm_restart_s": "worker spawned on its kept data directory -> faust 'Ready'",
    "peak_rss_mb": "largest VmHWM of the worker processes of the run",
    "cpu_us_per_verdict": "worker CPU time (user + system, /proc) during the drain / verdicts "
    "of the drain, in microseconds",
    "gate_code_us_per_intent": "CPU time of Gate.decide_intent over up to 20,000 of the "
    "workload's intents in a child process, the workload's state for up to 200,000 recipients "
    "applied to a dict first, outputs only counted: the gate's own code with no faust, Kafka or "
    "RocksDB, the floor under cpu_us_per_verdict (gate_code.share_of_worker_cpu_per_verdict: "
    "this / cpu_us_per_verdict)",
    "rebuild_records_per_s": "changelog records / changelog replay seconds of the cold start "
    "(faust 'Restoring state from changelog topics' -> 'Recovery complete' in the worker log); "
    "null when no replay was logged",
}

HEADLINE = (
    "gate_verdicts_per_s", "baseline_per_s", "ratio",
    "latency_p50_ms", "latency_p99_ms", "latency_p999_ms",
    "optout_enforcement_p50_ms", "optout_enforcement_p99_ms",
    "cold_recovery_s", "warm_restart_s", "peak_rss_mb",
    "cpu_us_per_verdict", "gate_code_us_per_intent", "rebuild_records_per_s",
)  # fmt: skip

# (label, report key) of the table's rows; a key's target, if it has one, is in TARGETS
ROWS = (
    ("gate verdicts/s (sustained)", "gate_verdicts_per_s"),
    ("baseline verdicts/s", "baseline_per_s"),
    ("ratio gate / baseline", "ratio"),
    ("latency p50 (ms)", "latency_p50_ms"),
    ("latency p99 (ms)", "latency_p99_ms"),
    ("latency p99.9 (ms)", "latency_p999_ms"),
    ("opt-out to enforcement p50 (ms)", "optout_enforcement_p50_ms"),
    ("opt-out to enforcement p99 (ms)", "optout_enforcement_p99_ms"),
    ("cold recovery (s)", "cold_recovery_s"),
    ("warm restart (s)", "warm_restart_s"),
    ("peak worker RSS (MiB)", "peak_rss_mb"),
    ("worker CPU per verdict (us)", "cpu_us_per_verdict"),
    ("gate's code alone, CPU/intent (us)", "gate_code_us_per_intent"),
    ("cold rebuild (changelog records/s)", "rebuild_records_per_s"),
)


def ordered(report: dict[str, Any]) -> dict[str, Any]:
    """The report with the headline figures first, in a fixed order, then the rest as added."""
    first = {key: report[key] for key in HEADLINE if key in report}
    first.update((k, v) for k, v in report.items() if k not in first)
    return first


def shown(value: Any) -> str:
    """Small floats with three decimals, other numbers as grouped integers, the rest as text."""
    if isinstance(value, float) and value < 10:
        return f"{value:,.3f}"
    if isinstance(value, int | float):
        return f"{value:,.0f}"
    return str(value)


def _metric_lines(report: dict[str, Any]) -> list[str]:
    lines = [f"{'metric':<34} {'value':>12}  target", "-" * 60]
    for label, key in ROWS:
        lines.append(f"{label:<34} {shown(report.get(key)):>12}  {TARGETS.get(key, '')}")
    return lines


def _context_lines(report: dict[str, Any]) -> list[str]:
    latency = report.get("latency", {})
    workload = report.get("workload", {})
    machine = report.get("machine", {})
    found = report.get("versions", {})
    run = report.get("run", {})
    return [
        f"latency at {latency.get('target_rate_per_s')} intents/s "
        f"({latency.get('load_share_of_gate_max')} of the gate's max), "
        f"{latency.get('samples')} samples",
        f"state: {workload.get('consent_records')} consent records over "
        f"{workload.get('recipients')} recipients; {workload.get('intents')} intents",
        f"machine: {machine.get('cpus')} cpus ({machine.get('cpu_model')}), "
        f"{machine.get('memory_gib')} GiB; load {machine.get('loadavg_at_start')}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in found.items()),
        f"run {run.get('id')} ({run.get('mode')}): {run.get('duration_s')} s",
    ]


def render_table(report: dict[str, Any]) -> str:
    """The headline figures against their targets, then what they were measured on."""
    return "\n".join([*_metric_lines(report), "", *_context_lines(report)])
