"""A real Prometheus for tests, and loaders for the PromQL the repo ships.

    prom = start_prometheus("127.0.0.1:6066", tmp_path, RULE_FILES)
    try:
        prom.wait_for('up{job="consentgate"} == 1', timeout=20)
        for dashboard, panel, expr in dashboard_exprs():
            assert prom.query(expr), (dashboard, panel, expr)
    finally:
        prom.stop()

Prometheus is the 2.42 binary that `make tools` (scripts/fetch-prometheus.sh) puts in
.tools/prometheus/bin/. It listens on 127.0.0.1 only, on a free port, keeps its TSDB under the
test's tmp_path and is stopped by its own pid. It discovers a new scrape target only after about
5 s, so give the first `wait_for` about 20 s.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from streams.devtools.ports import free_port
from tests import ROOT

TOOLS_BIN = ROOT / ".tools" / "prometheus" / "bin"
PROMETHEUS = TOOLS_BIN / "prometheus"
PROMTOOL = TOOLS_BIN / "promtool"
DASHBOARDS_DIR = ROOT / "grafana" / "dashboards"
PROMETHEUS_DIR = ROOT / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
RULE_FILES: list[Path] = sorted(RULES_DIR.glob("*.yml"))
RULE_TEST_FILES: list[Path] = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))

JOB = "consentgate"  # the scrape job every dashboard and alert selects


class PrometheusError(RuntimeError):
    """Prometheus answered with an error, or could not be started."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing_tool_message(tool: Path) -> str:
    where = "CI must install it" if in_ci() else "install it"
    shown = tool.relative_to(ROOT) if tool.is_relative_to(ROOT) else tool
    return (
        f"{shown} not found: {where} with `make tools` "
        "(bash scripts/fetch-prometheus.sh: Prometheus 2.42 from Debian, extracted, not installed)"
    )


def tool_available(tool: Path) -> bool:
    return tool.is_file() and os.access(tool, os.X_OK)


# ------------------------------------------------------------------------------- the process


@dataclass
class PrometheusProcess:
    """A Prometheus server started by `start_prometheus`. Stop it with `.stop()` (idempotent)."""

    process: subprocess.Popen[bytes]
    port: int
    config_path: Path
    storage_path: Path
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    # -- HTTP API

    def _get(self, path: str, params: dict[str, str] | None = None, timeout: float = 10.0) -> Any:
        url = f"{self.url}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:  # 400 bad_data, 422 execution error, ...
            body = exc.read()
        except OSError as exc:
            raise PrometheusError(f"GET {url}: {exc}\n{self.log_tail()}") from exc
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise PrometheusError(f"GET {url}: not JSON: {body[:200]!r}") from exc
        if payload.get("status") != "success":
            raise PrometheusError(
                f"{payload.get('errorType', 'error')}: {payload.get('error', payload)} "
                f"(GET {path} {params or ''})"
            )
        return payload["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; the list of result samples (`[{"metric": {...}, "value": [t, "v"]}]`).

        A scalar or string result comes back as a one-element list `[{"metric": {}, "value": ...}]`.
        """
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._get("/api/v1/query", params)
        result = data["result"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": result}]
        return list(result)

    def format_query(self, expr: str) -> str:
        """Prometheus' canonical form of `expr`; PrometheusError (bad_data) if it does not parse."""
        formatted: str = self._get("/api/v1/format_query", {"query": expr})
        return formatted

    def wait_for(
        self, expr: str, timeout: float = 20.0, interval: float = 0.25
    ) -> list[dict[str, Any]]:
        """Poll the instant query `expr` until it returns at least one sample; return them."""
        deadline = time.monotonic() + timeout
        last_error: str = ""
        while True:
            try:
                result = self.query(expr)
                if result:
                    return result
            except PrometheusError as exc:
                last_error = str(exc)
            if time.monotonic() >= deadline:
                break
            self.check_alive()
            time.sleep(interval)
        raise TimeoutError(
            f"no result for {expr!r} within {timeout:.0f}s"
            + (f" (last error: {last_error})" if last_error else "")
            + f"\ntargets: {self.targets_summary()}"
        )

    def rules(self) -> list[dict[str, Any]]:
        """Every loaded rule, flattened: name, type (alerting/recording), group, file, query,
        health (ok/err/unknown), lastError, state (alerts only)."""
        data = self._get("/api/v1/rules")
        rules = []
        for group in data["groups"]:
            for rule in group["rules"]:
                rules.append(
                    {
                        "name": rule["name"],
                        "type": rule["type"],
                        "group": group["name"],
                        "file": group["file"],
                        "query": rule["query"],
                        "health": rule.get("health", "unknown"),
                        "lastError": rule.get("lastError", ""),
                        "state": rule.get("state"),
                    }
                )
        return rules

    def wait_for_rule_evaluation(self, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait until every rule has been evaluated at least once (health no longer `unknown`)."""
        deadline = time.monotonic() + timeout
        while True:
            rules = self.rules()
            if rules and all(rule["health"] != "unknown" for rule in rules):
                return rules
            if time.monotonic() >= deadline:
                raise TimeoutError(f"rules not evaluated within {timeout:.0f}s: {rules}")
            self.check_alive()
            time.sleep(0.25)

    def targets(self) -> list[dict[str, Any]]:
        data = self._get("/api/v1/targets", {"state": "active"})
        return list(data["activeTargets"])

    def targets_summary(self) -> str:
        try:
            return (
                "; ".join(
                    f"{t['scrapeUrl']} health={t['health']} lastError={t['lastError']!r}"
                    for t in self.targets()
                )
                or "(none yet)"
            )
        except PrometheusError as exc:
            return f"(unavailable: {exc})"

    # -- lifecycle

    def check_alive(self) -> None:
        """Raise `PrometheusError`, with its log's tail, if the process has exited."""
        if self.process.poll() is not None:
            raise PrometheusError(
                f"prometheus (pid {self.pid}) exited with {self.process.returncode}\n"
                f"{self.log_tail()}"
            )

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate this process (its pid only), wait, kill if it will not go."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> PrometheusProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def write_config(
    path: Path,
    scrape_target: str,
    rule_files: list[Path],
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
) -> Path:
    config = {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "evaluation_interval": evaluation_interval,
        },
        "rule_files": [str(Path(f).resolve()) for f in rule_files],
        "scrape_configs": [
            {
                "job_name": JOB,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [scrape_target]}],
            }
        ],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def start_prometheus(
    scrape_target: str,
    tmp_path: Path,
    rule_files: list[Path] | None = None,
    *,
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    ready_timeout: float = 30.0,
    binary: Path = PROMETHEUS,
) -> PrometheusProcess:
    """Start Prometheus on 127.0.0.1:<free port>, scraping `scrape_target` ("host:port", job
    consentgate, every second) and loading `rule_files`; return once /-/ready answers."""
    if not tool_available(binary):
        raise PrometheusError(missing_tool_message(binary))
    workdir = Path(tmp_path) / "prometheus"
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = write_config(
        workdir / "prometheus.yml",
        scrape_target,
        list(rule_files or []),
        scrape_interval=scrape_interval,
        evaluation_interval=evaluation_interval,
    )
    last_failure = ""
    for attempt in range(3):  # the free port can be taken between probe and bind: retry
        port = free_port()
        storage = workdir / f"data-{attempt}"
        log_path = workdir / f"prometheus-{attempt}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [
                str(binary),
                f"--config.file={config_path}",
                f"--storage.tsdb.path={storage}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1d",
                "--log.level=info",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
        prom = PrometheusProcess(process, port, config_path, storage, log_path, log)
        try:
            _wait_ready(prom, ready_timeout)
            return prom
        except PrometheusError as exc:
            prom.stop()
            last_failure = str(exc)
            if "address already in use" not in last_failure:
                raise
        except BaseException:
            prom.stop()
            raise
    raise PrometheusError(f"could not start prometheus: {last_failure}")


def _wait_ready(prom: PrometheusProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        prom.check_alive()
        try:
            with urllib.request.urlopen(f"{prom.url}/-/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() >= deadline:
            raise PrometheusError(
                f"prometheus not ready within {timeout:.0f}s on {prom.url}\n{prom.log_tail()}"
            )
        time.sleep(0.1)


# ----------------------------------------------------------------------------------- loaders


def dashboard_exprs(dashboards_dir: Path = DASHBOARDS_DIR) -> list[tuple[str, str, str]]:
    """(dashboard title, panel title, expr) for every query target of every generated dashboard."""
    found = []
    for path in sorted(dashboards_dir.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in _panels(dashboard.get("panels", [])):
            for target in panel.get("targets") or []:
                expr = target.get("expr")
                if expr:
                    found.append((dashboard["title"], panel.get("title", ""), expr))
    return found


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Panels, with those nested in (collapsed) rows, rows themselves left out."""
    flat = []
    for panel in panels:
        if panel.get("type") == "row":
            flat.extend(_panels(panel.get("panels") or []))
        else:
            flat.append(panel)
    return flat


def dashboard_panels(path: Path) -> list[dict[str, Any]]:
    return _panels(json.loads(path.read_text(encoding="utf-8")).get("panels", []))


def load_rule_groups(rule_files: list[Path] | None = None) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in rule_files if rule_files is not None else RULE_FILES:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        groups.extend(document.get("groups") or [])
    return groups


def alert_rules(rule_files: list[Path] | None = None) -> list[dict[str, Any]]:
    return [
        rule for group in load_rule_groups(rule_files) for rule in group["rules"] if "alert" in rule
    ]


def alert_exprs(rule_files: list[Path] | None = None) -> list[tuple[str, str]]:
    """(alert name, expr) for every alerting rule (an alert name can appear more than once)."""
    return [(rule["alert"], str(rule["expr"]).strip()) for rule in alert_rules(rule_files)]


# ----------------------------------------------------------------------------- metric names

_PROMQL_KEYWORDS = frozenset(
    {
        "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
        "bool", "offset", "atan2", "inf", "nan",
    }
)  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_OFFSET = re.compile(r"\boffset\s+-?[0-9A-Za-z]+")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_:])[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (good enough for the expressions we write:
    strings, label matchers, ranges, grouping clauses, numbers, functions and keywords removed)."""
    text = _STRING.sub(" ", expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        rest = text[match.end() :].lstrip()
        if rest.startswith("("):  # a function call
            continue
        if match.group(0).lower() in _PROMQL_KEYWORDS:
            continue
        names.add(match.group(0))
    return names


def _exposed_names(registry: Any) -> set[str]:
    names = set()
    for family in registry.collect():
        if family.type == "counter":
            names.update({f"{family.name}_total", f"{family.name}_created"})
        elif family.type == "histogram":
            names.update(
                f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count", "_created")
            )
        elif family.type == "summary":
            names.update({family.name, f"{family.name}_sum", f"{family.name}_count"})
        elif family.type == "info":
            names.add(f"{family.name}_info")
        else:
            names.add(family.name)
    return names


def gate_metric_names() -> set[str]:
    """The sample names GateMetrics exposes (counters as _total, histograms as _bucket/...)."""
    from streams.metrics import GateMetrics

    return _exposed_names(GateMetrics().registry)


def faust_metric_names() -> set[str]:
    """The sample names the worker exports for faust (streams/runtime/faust_monitor.py)."""
    from prometheus_client import CollectorRegistry

    from streams.runtime.faust_monitor import FaustCollector, GateMonitor

    registry = CollectorRegistry()
    registry.register(FaustCollector(GateMonitor()))
    return _exposed_names(registry)


def process_metric_names() -> set[str]:
    """What prometheus_client's process collector exposes here (process_cpu_seconds_total, ...)."""
    from prometheus_client import CollectorRegistry, ProcessCollector

    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    return _exposed_names(registry)


def known_metric_names() -> set[str]:
    """Every sample name a consentgate worker's /metrics can expose, plus `up` (from the scrape)."""
    return gate_metric_names() | faust_metric_names() | process_metric_names() | {"up"}


def unknown_metric_names(expr: str, known: set[str] | None = None) -> set[str]:
    """Names `expr` selects that no consentgate worker exposes."""
    known = known_metric_names() if known is None else known
    return metric_names(expr) - known
