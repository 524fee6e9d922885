"""The Grafana dashboards: generated, committed, consistent with the metrics and provisioning."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests import ROOT, prom

dashboard_exprs = prom.dashboard_exprs
dashboard_panels = prom.dashboard_panels
known_metric_names = prom.known_metric_names
metric_names = prom.metric_names
unknown_metric_names = prom.unknown_metric_names

BUILDER = ROOT / "grafana" / "build_dashboards.py"
PROVISIONING = ROOT / "grafana" / "provisioning"
DASHBOARD_FILES = sorted(prom.DASHBOARDS_DIR.glob("*.json"))
EXPECTED = {"gate-overview.json", "compliance.json", "worker-health.json"}


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _datasource_uid() -> str:
    document = yaml.safe_load((PROVISIONING / "datasources" / "datasource.yml").read_text())
    (datasource,) = document["datasources"]
    uid: str = datasource["uid"]
    return uid


def test_the_three_dashboards_are_committed() -> None:
    assert {p.name for p in DASHBOARD_FILES} == EXPECTED


def test_regenerating_gives_byte_identical_files(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(BUILDER), "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # the builder must not depend on the working directory
        check=False,
    )
    assert run.returncode == 0, run.stderr
    generated = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    committed = {p.name: p.read_bytes() for p in DASHBOARD_FILES}
    assert generated.keys() == committed.keys()
    stale = sorted(name for name in generated if generated[name] != committed[name])
    assert not stale, (
        f"{stale} differ from grafana/build_dashboards.py: run "
        "`.venv/bin/python grafana/build_dashboards.py` and commit the JSON"
    )
    for name, data in generated.items():
        assert data.endswith(b"}\n"), name


def test_check_mode_passes_on_committed_files_and_fails_on_stale_ones(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, str(BUILDER), "--check"], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    for path in DASHBOARD_FILES:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "compliance.json").write_text("{}\n")
    stale = subprocess.run(
        [sys.executable, str(BUILDER), "--check", "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert stale.returncode == 1
    assert "compliance.json" in stale.stderr


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_identity_and_layout(path: Path) -> None:
    dashboard = _load(path)
    assert dashboard["uid"].startswith("consentgate-")
    assert dashboard["title"].startswith("consentgate / ")
    assert "consentgate" in dashboard["tags"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    ids += [p["id"] for row in dashboard["panels"] for p in row.get("panels", [])]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {path.name}: {ids}"
    # No two panels overlap on the 24-column grid.
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_uids_are_unique() -> None:
    uids = [_load(path)["uid"] for path in DASHBOARD_FILES]
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_every_panel_queries_the_provisioned_prometheus(path: Path) -> None:
    uid = _datasource_uid()
    panels = dashboard_panels(path)
    assert panels
    for panel in panels:
        title = panel.get("title")
        assert title, panel
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, title
        targets = panel.get("targets") or []
        assert any(str(t.get("expr", "")).strip() for t in targets), f"{title}: no query"
        for target in targets:
            assert target["datasource"] == {"type": "prometheus", "uid": uid}, title
            assert target["expr"].strip(), title
            assert target["refId"], title
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), title


def test_exprs_name_only_metrics_a_worker_exposes() -> None:
    known = known_metric_names()
    exprs = dashboard_exprs()
    assert len(exprs) >= 30
    unknown = {
        (dashboard, panel, name)
        for dashboard, panel, expr in exprs
        for name in unknown_metric_names(expr, known)
    }
    assert not unknown, f"not in streams/metrics.py, the faust sensors or process_*: {unknown}"


def test_exprs_are_plain_promql() -> None:
    # Grafana macros ($__rate_interval, $__interval, ...) cannot be checked against Prometheus.
    for dashboard, panel, expr in dashboard_exprs():
        assert "$" not in expr, (dashboard, panel, expr)
        assert metric_names(expr), (dashboard, panel, expr)


def test_every_gate_metric_family_is_on_some_dashboard() -> None:
    from streams.metrics import GateMetrics

    used = {name for _, _, expr in dashboard_exprs() for name in metric_names(expr)}
    families = {family.name for family in GateMetrics().registry.collect()}
    unused = {f for f in families if not any(name.startswith(f) for name in used)}
    assert not unused, f"metric families no dashboard shows: {sorted(unused)}"


def test_the_requested_panels_exist() -> None:
    titles = {(dashboard, panel) for dashboard, panel, _ in dashboard_exprs()}
    by_dashboard: dict[str, set[str]] = {}
    for dashboard, panel in titles:
        by_dashboard.setdefault(dashboard, set()).add(panel)
    assert {
        "Decisions per second by decision",
        "Allow / deny ratio",
        "Denies by reason",
        "Decision latency p50 / p99",
        "Consumer lag by topic",
        "Dead letters by source topic and class",
    } <= by_dashboard["consentgate / Gate overview"]
    assert {
        "Violations by rule and sender kind",
        "Opt-outs by method and channel",
        "Hold time p50 / p99",
        "Ordering timeouts per second",
        "INVALID_INTENT rate",
    } <= by_dashboard["consentgate / Compliance"]
    assert {
        "Up by instance",
        "Versions running",
        "Records applied by topic, kind and outcome",
        "Consent records held",
        "Processing errors by topic",
        "CPU",
        "Resident memory",
        "Messages received",
        "Rebalances",
    } <= by_dashboard["consentgate / Worker health"]


def test_datasource_provisioning() -> None:
    document = yaml.safe_load((PROVISIONING / "datasources" / "datasource.yml").read_text())
    assert document["apiVersion"] == 1
    (datasource,) = document["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["uid"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["access"] == "proxy"
    assert datasource["isDefault"] is True


def test_dashboard_provisioning() -> None:
    document = yaml.safe_load((PROVISIONING / "dashboards" / "dashboards.yml").read_text())
    assert document["apiVersion"] == 1
    (provider,) = document["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert provider["orgId"] == 1
