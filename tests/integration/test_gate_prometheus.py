"""A real Prometheus scraping a real worker fed with a mixed workload.

Every metric family of the bundle is exposed, every alert rule evaluates without error, and every
query of every dashboard panel parses and returns data from the real scrape.
"""

from __future__ import annotations

import pytest

from streams import topics
from streams.devtools.workload import scenario
from streams.metrics import GateMetrics
from tests import prom
from tests.gatekit import RunningGate, gate_settings


def test_worker_metrics_feed_every_panel_and_rule(kafka_stack, unique_name, tmp_path):
    if not prom.tool_available(prom.PROMETHEUS):
        pytest.fail(prom.missing_tool_message(prom.PROMETHEUS))
    gate = RunningGate.start(gate_settings(kafka_stack, unique_name("prom"), tmp_path), tmp_path)
    verdicts = gate.reader(topics.VERDICTS)
    server = None
    try:
        state, intents = scenario(recipient_count=600, intent_count=1_500)
        gate.producer.publish_all(state, wait_each=False)
        gate.producer.publish_all(intents[:700], wait_each=False)
        verdicts.wait_for_count(700, timeout=120)

        exposed = gate.worker.scrape()
        families = {metric.name for metric in GateMetrics().registry.collect()}
        missing = [
            name
            for name in families
            if f"# TYPE {name}" not in exposed and f"# TYPE {name}_total" not in exposed
        ]
        assert missing == [], f"metric families not exposed: {missing}"
        assert "consentgate_faust_messages_received" in exposed
        assert "process_resident_memory_bytes" in exposed
        assert 'consentgate_dead_letters_total{error_class="invalid_record"' in exposed

        target = f"{gate.settings.web_bind}:{gate.settings.web_port}"
        server = prom.start_prometheus(target, tmp_path / "prometheus", prom.RULE_FILES)
        server.wait_for(f'up{{job="{prom.JOB}"}} == 1', timeout=30)
        # More traffic while Prometheus watches, so every rate has two samples in its window.
        gate.producer.publish_all(intents[700:], wait_each=False)
        verdicts.wait_for_count(1_500, timeout=120)
        server.wait_for("rate(consentgate_verdicts_total[1m]) > 0", timeout=30)
        server.wait_for("consentgate_consumer_lag", timeout=30)

        for dashboard, panel, expr in prom.dashboard_exprs():
            assert server.format_query(expr), f"{dashboard} / {panel}"
        empty = [(d, p, e) for d, p, e in prom.dashboard_exprs() if not server.query(e)]
        assert empty == [], f"panels without data against the real worker: {empty}"

        rules = server.wait_for_rule_evaluation(timeout=30)
        assert {r["name"] for r in rules} == {name for name, _ in prom.alert_exprs()}
        unhealthy = [(r["name"], r["lastError"]) for r in rules if r["health"] != "ok"]
        assert unhealthy == []
    finally:
        if server is not None:
            server.stop()
        verdicts.close()
        gate.stop()
