"""The Prometheus alert rules and config: promtool accepts them, their unit tests pass, every alert
is documented and has a runbook section in docs/operations.md.

promtool comes from `make tools` (.tools/prometheus/bin/). Without it these tests fail, never skip:
an alert that nobody checked is worse than a red build.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests import ROOT, prom

OPERATIONS = ROOT / "docs" / "operations.md"

SEVERITIES = {"critical", "warning", "info"}
EXPECTED_ALERTS = {
    "ConsentGateWorkerDown",
    "ConsentGateDeadLettersGrowing",
    "ConsentGateDecisionLatencyHigh",
    "ConsentGateConsumerLagGrowing",
    "ConsentGateViolationSpike",
    "ConsentGateNoVerdicts",
    "ConsentGateOrderingTimeouts",
    "ConsentGateComplaintAckOverdue",
    "ConsentGateSentWithoutAllow",
}


@pytest.fixture(scope="module")
def promtool() -> Path:
    if not prom.tool_available(prom.PROMTOOL):
        pytest.fail(prom.missing_tool_message(prom.PROMTOOL))
    return prom.PROMTOOL


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )


def test_there_are_rule_files_and_rule_tests() -> None:
    assert prom.RULE_FILES, "no prometheus/rules/*.yml"
    assert prom.RULE_TEST_FILES, "no prometheus/tests/*.yml"
    # The config loads rules/*.yml: a promtool test file there would be loaded as a rule file.
    for path in prom.RULE_FILES:
        assert "groups" in yaml.safe_load(path.read_text()), path


def test_promtool_check_rules(promtool: Path) -> None:
    run = _run(promtool, "check", "rules", *prom.RULE_FILES)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_promtool_test_rules(promtool: Path) -> None:
    run = _run(promtool, "test", "rules", *prom.RULE_TEST_FILES)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "FAILED" not in run.stdout + run.stderr


def test_promtool_check_config(promtool: Path) -> None:
    # rule_files in prometheus.yml is relative to the config's own directory (rules/*.yml), which is
    # right both here and in the container (/etc/prometheus/prometheus.yml + /etc/prometheus/rules).
    run = _run(promtool, "check", "config", prom.PROMETHEUS_DIR / "prometheus.yml")
    assert run.returncode == 0, run.stdout + run.stderr
    found = re.search(r"SUCCESS: (\d+) rule files found", run.stdout)
    assert found and int(found.group(1)) == len(prom.RULE_FILES), run.stdout


def test_config_scrapes_the_worker_and_loads_every_rule_file() -> None:
    config = yaml.safe_load((prom.PROMETHEUS_DIR / "prometheus.yml").read_text())
    assert config["rule_files"] == ["rules/*.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    gate = jobs[prom.JOB]
    assert gate.get("metrics_path", "/metrics") == "/metrics"
    assert gate["static_configs"] == [{"targets": ["worker:6066"]}]


def test_the_expected_alerts_exist() -> None:
    names = {name for name, _ in prom.alert_exprs()}
    assert names == EXPECTED_ALERTS


def _anchors(markdown: str) -> set[str]:
    """Explicit anchors (<a id=...>, <a name=...>) and GitHub heading slugs."""
    anchors = set(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", markdown))
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("rule", prom.alert_rules(), ids=lambda r: str(r["alert"]))
def test_every_alert_is_documented(rule: dict) -> None:
    name = rule["alert"]
    assert rule.get("labels", {}).get("severity") in SEVERITIES, name
    annotations = rule.get("annotations", {})
    for key in ("summary", "description", "runbook"):
        assert str(annotations.get(key, "")).strip(), f"{name}: no {key} annotation"
    runbook = annotations["runbook"]
    path, _, anchor = runbook.partition("#")
    assert path == "docs/operations.md", f"{name}: runbook {runbook!r}"
    assert anchor == name.lower(), f"{name}: runbook anchor {anchor!r}"
    assert OPERATIONS.is_file(), "docs/operations.md is missing"
    assert anchor in _anchors(OPERATIONS.read_text(encoding="utf-8")), (
        f"{name}: docs/operations.md has no #{anchor}"
    )


def test_alert_exprs_name_only_metrics_a_worker_exposes() -> None:
    known = prom.known_metric_names()
    unknown = {
        (name, m)
        for name, expr in prom.alert_exprs()
        for m in prom.unknown_metric_names(expr, known)
    }
    assert not unknown


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in prom.RULE_TEST_FILES:
        document = yaml.safe_load(path.read_text())
        for test in document["tests"]:
            for case in test.get("alert_rule_test") or []:
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {name for name, _ in prom.alert_exprs()}
    assert names - firing == set(), "alerts without a firing test"
    assert names - quiet == set(), "alerts without a non-firing test"
