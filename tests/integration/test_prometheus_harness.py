"""The real-Prometheus harness (tests/prom.py) against a stand-in exporter.

No Kafka: a prometheus_client HTTP server on 127.0.0.1 serves a GateMetrics registry shaped like a
worker's (the faust sensors and the process collector on the same registry), with a mixed workload
counted into it. Prometheus 2.42 (from `make tools`) scrapes it every second with our alert rules
loaded. Checks: the target is up, every dashboard and alert expression parses, every rule evaluates
without error, and every dashboard query returns data for that workload.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server

from streams.devtools.ports import free_port
from streams.metrics import GateMetrics
from tests import prom


def _worker_like_registry() -> tuple[CollectorRegistry, GateMetrics]:
    from streams.runtime.faust_monitor import FaustCollector, GateMonitor

    metrics = GateMetrics()
    ProcessCollector(registry=metrics.registry)
    monitor = GateMonitor()
    metrics.registry.register(FaustCollector(monitor))
    monitor.messages_received_total = 40
    monitor.rebalances_completed = 1
    return metrics.registry, metrics


def _mixed_workload(m: GateMetrics) -> None:
    """What a worker counts for a small mixed scenario (values, not realism, matter here)."""
    m.worker_info.labels("0.1.0", "no-unsolicited-advertising/2026-06").set(1)
    m.intents_received.inc(10)
    m.verdicts.labels("allow", "CONSENT_VALID", "email").inc(4)
    m.verdicts.labels("allow", "TRANSACTIONAL", "sms").inc(2)
    m.verdicts.labels("deny", "OPTED_OUT", "email").inc(2)
    m.verdicts.labels("deny", "INVALID_INTENT", "unknown").inc(1)
    m.verdicts.labels("deny", "THIRD_PARTY_NO_AGREEMENT", "sms").inc(1)
    m.violations.labels("OPTED_OUT", "first_party").inc(2)
    m.violations.labels("INVALID_INTENT", "first_party").inc(1)
    m.violations.labels("THIRD_PARTY_NO_AGREEMENT", "third_party").inc(1)
    for seconds in (0.002, 0.004, 0.011, 0.03, 0.2):
        m.decision_latency.observe(seconds)
        m.ordering_hold.observe(seconds / 10)
    m.records_applied.labels("consent-events", "grant", "applied").inc(5)
    m.records_applied.labels("consent-events", "confirm", "applied").inc(3)
    m.records_applied.labels("optout-events", "optout", "applied").inc(2)
    m.records_applied.labels("consent-events", "grant", "duplicate").inc(1)
    m.optouts.labels("email", "unsubscribe_link").inc(1)
    m.optouts.labels("sms", "sms_keyword").inc(1)
    m.dead_letters.labels("send-intents", "invalid_record").inc(1)
    m.consent_records.set(7)
    m.gc_pause.labels("2").inc(0.05)  # a worker always times its collections (watch_gc)
    for topic in ("consent-events", "optout-events", "partner-agreements", "send-intents"):
        m.consumer_lag.labels(topic).set(0)


@pytest.fixture
def exporter() -> Iterator[tuple[str, GateMetrics]]:
    registry, metrics = _worker_like_registry()
    _mixed_workload(metrics)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield f"127.0.0.1:{port}", metrics
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def prometheus(
    exporter: tuple[str, GateMetrics], tmp_path: Path
) -> Iterator[prom.PrometheusProcess]:
    if not prom.tool_available(prom.PROMETHEUS):
        pytest.fail(prom.missing_tool_message(prom.PROMETHEUS))
    target, _ = exporter
    server = prom.start_prometheus(target, tmp_path, prom.RULE_FILES)
    try:
        yield server
    finally:
        server.stop()
    assert server.process.poll() is not None, "prometheus still running"


def test_harness_against_a_stand_in_exporter(
    prometheus: prom.PrometheusProcess, exporter: tuple[str, GateMetrics]
) -> None:
    started = time.monotonic()
    up = prometheus.wait_for(f'up{{job="{prom.JOB}"}} == 1', timeout=20)
    assert up[0]["metric"]["instance"] == exporter[0]
    assert up[0]["value"][1] == "1"

    # Every expression we ship parses (format_query answers bad_data otherwise).
    exprs = [(f"{d} / {p}", e) for d, p, e in prom.dashboard_exprs()]
    exprs += [(f"alert {name}", e) for name, e in prom.alert_exprs()]
    assert len(exprs) > 30
    for where, expr in exprs:
        assert prometheus.format_query(expr), where
    with pytest.raises(prom.PrometheusError, match="bad_data"):
        prometheus.format_query("sum(rate(consentgate_verdicts_total[1m])")

    # The rules load from the real files and evaluate without error.
    rules = prometheus.wait_for_rule_evaluation(timeout=20)
    assert {r["name"] for r in rules} == {name for name, _ in prom.alert_exprs()}
    bad = [(r["name"], r["health"], r["lastError"]) for r in rules if r["health"] != "ok"]
    assert not bad

    # Keep counting so rates are non-zero, then every dashboard query must return data: rates
    # need two scrapes inside their window.
    _, metrics = exporter
    metrics.intents_received.inc(5)
    metrics.verdicts.labels("allow", "CONSENT_VALID", "email").inc(5)
    prometheus.wait_for("rate(consentgate_intents_received_total[1m]) > 0", timeout=15)
    empty = [(d, p, e) for d, p, e in prom.dashboard_exprs() if not prometheus.query(e)]
    assert not empty, f"dashboard queries without data: {empty}"
    assert time.monotonic() - started < 60
