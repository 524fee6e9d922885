"""Grafana dashboards as code: grafana/dashboards/*.json from grafana-foundation-sdk builders.

    .venv/bin/python grafana/build_dashboards.py            # (re)write the committed JSON
    .venv/bin/python grafana/build_dashboards.py --check    # exit 1 if the committed JSON is stale

Output is deterministic (fixed uids and panel ids, sorted keys, two-space indent, trailing newline),
so the JSON in git is always exactly what this file produces.

Every query names only the metric families in streams/metrics.py (GateMetrics), the faust
sensors (prefix `consentgate_faust`), the process collector (`process_*`) and `up`. Each one
returns at least one series once a worker has processed a mixed workload:
  * rates use a fixed `[1m]` window (not Grafana's `$__rate_interval`, which Prometheus itself
    cannot parse, so the queries can be checked against a real Prometheus);
  * labelled counters whose series may not exist yet (errors, dead letters, opt-outs, one reason
    code) fall back to a zero series with `or on() ...vector(0)`, so such a panel reads 0, not
    "No data" (which would be indistinguishable from a broken scrape);
  * ratios divide by `clamp_min(..., 1e-9)` so an idle gate reads 0, not NaN.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from grafana_foundation_sdk.builders import bargauge, common, stat, timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard, Row, ThresholdsConfig
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueColorMode,
    BigValueGraphMode,
    LegendDisplayMode,
    LegendPlacement,
    StackingMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
)

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"

# Must match grafana/provisioning/datasources/datasource.yml.
DATASOURCE_UID = "prometheus"
DATASOURCE = DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)

# Must match the scrape job in prometheus/prometheus.yml (and tests/prom.py).
JOB = 'job="consentgate"'

# Alert thresholds in prometheus/rules/consentgate.rules.yml, shown as the red step of stat panels.
LATENCY_P99_THRESHOLD_S = 0.25
CONSUMER_LAG_THRESHOLD = 10000

TAGS = ["consentgate"]
REFRESH = "30s"


# --------------------------------------------------------------------------------------- helpers


def zero_if_absent(expr: str, **labels: str) -> str:
    """`expr`, or one 0 series when `expr` has none (labelled, so legends stay readable)."""
    fallback = "vector(0)"
    for name, value in labels.items():
        fallback = f'label_replace({fallback}, "{name}", "{value}", "", "")'
    return f"({expr}) or on() {fallback}"


def query(expr: str, legend: str, ref_id: str = "A") -> Dataquery:
    return (
        Dataquery().expr(expr).legend_format(legend).ref_id(ref_id).range().datasource(DATASOURCE)
    )


def thresholds(*steps: tuple[float | None, str]) -> ThresholdsConfig:
    return (
        ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for value, color in steps])
    )


GREEN_ONLY = thresholds((None, "green"))


PanelT = TypeVar("PanelT", timeseries.Panel, stat.Panel, bargauge.Panel)


def _with_targets(panel: PanelT, targets: tuple[tuple[str, str], ...]) -> PanelT:
    for index, (expr, legend) in enumerate(targets):
        panel = panel.with_target(query(expr, legend, ref_id=chr(ord("A") + index)))
    return panel


def ts(
    panel_id: int,
    title: str,
    description: str,
    unit: str,
    *targets: tuple[str, str],
    span: int = 12,
    height: int = 8,
    stacked: bool = False,
    min_zero: bool = True,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .id(panel_id)
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(span)
        .height(height)
        .line_width(1)
        .fill_opacity(10)
        .legend(
            common.VizLegendOptions()
            .display_mode(LegendDisplayMode.LIST)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
        )
    )
    if min_zero:
        panel = panel.min(0)
    if stacked:
        panel = panel.stacking(common.StackingConfig().mode(StackingMode.NORMAL))
    return _with_targets(panel, targets)


def single_stat(
    panel_id: int,
    title: str,
    description: str,
    unit: str,
    *targets: tuple[str, str],
    steps: ThresholdsConfig = GREEN_ONLY,
    span: int = 4,
    height: int = 4,
    decimals: int | None = None,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .id(panel_id)
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(span)
        .height(height)
        .thresholds(steps)
        .color_mode(BigValueColorMode.VALUE)
        .graph_mode(BigValueGraphMode.AREA)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    return _with_targets(panel, targets)


def bars(
    panel_id: int,
    title: str,
    description: str,
    unit: str,
    *targets: tuple[str, str],
    span: int = 12,
    height: int = 8,
) -> bargauge.Panel:
    panel = (
        bargauge.Panel()
        .id(panel_id)
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(span)
        .height(height)
        .min(0)
        .thresholds(GREEN_ONLY)
        .display_mode(BarGaugeDisplayMode.GRADIENT)
        .orientation(VizOrientation.HORIZONTAL)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    return _with_targets(panel, targets)


def dashboard(uid: str, title: str, description: str) -> Dashboard:
    return (
        Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .refresh(REFRESH)
        .time("now-1h", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .editable()
    )


def row(panel_id: int, title: str) -> Row:
    return Row(title).id(panel_id)


def quantile(q: float, family: str, window: str = "1m") -> str:
    return f"histogram_quantile({q}, sum by (le) (rate({family}_bucket[{window}])))"


# ------------------------------------------------------------------------------------ dashboards

DENY_RATIO = (
    'sum(rate(consentgate_verdicts_total{decision="deny"}[1m]))'
    " / clamp_min(sum(rate(consentgate_verdicts_total[1m])), 1e-9)"
)


def gate_overview() -> Dashboard:
    latency_steps = thresholds(
        (None, "green"), (LATENCY_P99_THRESHOLD_S * 0.5, "orange"), (LATENCY_P99_THRESHOLD_S, "red")
    )
    return (
        dashboard(
            "consentgate-overview",
            "consentgate / Gate overview",
            "What the gate decides, how fast, how far behind it is and what it cannot read.",
        )
        .with_row(row(100, "At a glance"))
        .with_panel(
            single_stat(
                1,
                "Decisions per second",
                "Verdicts written per second, all workers (1m rate).",
                "ops",
                ("sum(rate(consentgate_verdicts_total[1m]))", "decisions/s"),
            )
        )
        .with_panel(
            single_stat(
                2,
                "Deny ratio",
                "Share of verdicts that are deny (1m). A sudden change means the traffic or the "
                "consent state changed, or a policy regression.",
                "percentunit",
                (DENY_RATIO, "deny ratio"),
                decimals=1,
            )
        )
        .with_panel(
            single_stat(
                3,
                "Decision latency p99",
                "99th percentile from the intent's broker timestamp to the acknowledgement of its "
                f"verdict (1m). The alert fires above {LATENCY_P99_THRESHOLD_S * 1000:.0f} ms "
                "for 5m.",
                "s",
                (quantile(0.99, "consentgate_decision_latency_seconds"), "p99"),
                steps=latency_steps,
            )
        )
        .with_panel(
            single_stat(
                4,
                "Consumer lag",
                "Records not yet consumed, summed over input topics and workers. The alert "
                f"fires when a topic's lag is above {CONSUMER_LAG_THRESHOLD} and growing.",
                "short",
                ("sum(consentgate_consumer_lag)", "lag"),
                steps=thresholds(
                    (None, "green"),
                    (CONSUMER_LAG_THRESHOLD / 10, "orange"),
                    (CONSUMER_LAG_THRESHOLD, "red"),
                ),
            )
        )
        .with_panel(
            single_stat(
                5,
                "Dead letters per second",
                "Records that could not be decoded or validated (1m rate).",
                "ops",
                (zero_if_absent("sum(rate(consentgate_dead_letters_total[1m]))"), "dead letters/s"),
                steps=thresholds((None, "green"), (0.001, "orange")),
            )
        )
        .with_panel(
            single_stat(
                6,
                "Workers up",
                "Scrape targets of job consentgate that answered the last scrape.",
                "short",
                (f"sum(up{{{JOB}}})", "workers up"),
                steps=thresholds((None, "red"), (1, "green")),
            )
        )
        .with_row(row(101, "Decisions"))
        .with_panel(
            ts(
                10,
                "Decisions per second by decision",
                "Verdicts per second, allow and deny (1m rate), with intents read for comparison: "
                "the lines should overlap.",
                "ops",
                ("sum by (decision) (rate(consentgate_verdicts_total[1m]))", "{{decision}}"),
                ("sum(rate(consentgate_intents_received_total[1m]))", "intents received"),
            )
        )
        .with_panel(
            ts(
                11,
                "Allow / deny ratio",
                "Share of verdicts by decision (1m).",
                "percentunit",
                (
                    "sum by (decision) (rate(consentgate_verdicts_total[1m]))"
                    " / ignoring(decision) group_left"
                    " clamp_min(sum(rate(consentgate_verdicts_total[1m])), 1e-9)",
                    "{{decision}}",
                ),
                stacked=True,
            )
        )
        .with_panel(
            ts(
                12,
                "Denies by reason",
                "Deny verdicts per second by their decisive reason code (1m rate).",
                "ops",
                (
                    'sum by (reason) (rate(consentgate_verdicts_total{decision="deny"}[1m]))',
                    "{{reason}}",
                ),
                stacked=True,
            )
        )
        .with_panel(
            ts(
                13,
                "Decision latency p50 / p99",
                "From the intent's broker timestamp to the acknowledgement of its verdict (1m).",
                "s",
                (quantile(0.5, "consentgate_decision_latency_seconds"), "p50"),
                (quantile(0.99, "consentgate_decision_latency_seconds"), "p99"),
            )
        )
        .with_row(row(102, "Backlog and failures"))
        .with_panel(
            ts(
                20,
                "Consumer lag by topic",
                "Records between the workers' positions and the high watermark, per input topic, "
                "summed over workers.",
                "short",
                ("sum by (topic) (consentgate_consumer_lag)", "{{topic}}"),
            )
        )
        .with_panel(
            ts(
                21,
                "Dead letters by source topic and class",
                "Records dead-lettered per second (1m rate). Inspect them with "
                "`consentgate tail dead-letters`.",
                "ops",
                (
                    zero_if_absent(
                        "sum by (source_topic, error_class) "
                        "(rate(consentgate_dead_letters_total[1m]))",
                        source_topic="none",
                        error_class="none",
                    ),
                    "{{source_topic}} / {{error_class}}",
                ),
                stacked=True,
            )
        )
    )


def compliance() -> Dashboard:
    return (
        dashboard(
            "consentgate-compliance",
            "consentgate / Compliance",
            "Violations, opt-outs and the read-your-opt-outs guarantee.",
        )
        .with_row(row(100, "Violations"))
        .with_panel(
            ts(
                1,
                "Violations by rule and sender kind",
                "Violation records written per second (1m rate), by reason code and by whether the "
                "sender is the company (first_party) or a partner (third_party).",
                "ops",
                (
                    "sum by (rule, sender_kind) (rate(consentgate_violations_total[1m]))",
                    "{{rule}} ({{sender_kind}})",
                ),
                span=16,
                stacked=True,
            )
        )
        .with_panel(
            single_stat(
                2,
                "INVALID_INTENT rate",
                "Intents denied because they could not be checked (missing field, unknown channel, "
                "unparseable address) per second (1m). Each one is also a dead letter.",
                "ops",
                (
                    zero_if_absent(
                        'sum(rate(consentgate_verdicts_total{reason="INVALID_INTENT"}[1m]))'
                    ),
                    "INVALID_INTENT/s",
                ),
                steps=thresholds((None, "green"), (0.001, "orange")),
                span=8,
                height=8,
            )
        )
        .with_panel(
            bars(
                3,
                "Violations in the last hour by rule",
                "Violation records per reason code over the last hour.",
                "short",
                ("sum by (rule) (increase(consentgate_violations_total[1h]))", "{{rule}}"),
            )
        )
        .with_panel(
            bars(
                4,
                "Violations in the last hour by sender kind",
                "first_party: the company's own sends; third_party: partners' sends.",
                "short",
                (
                    "sum by (sender_kind) (increase(consentgate_violations_total[1h]))",
                    "{{sender_kind}}",
                ),
            )
        )
        .with_row(row(105, "Deliveries"))
        .with_panel(
            single_stat(
                50,
                "Sent without allow / after deny (24h)",
                "SENT_WITHOUT_ALLOW and SENT_AFTER_DENY violations over the last day: messages "
                "the delivery side reports sent with no allow for that intent, recipient and "
                "channel, or after a deny. Anything above 0 fires ConsentGateSentWithoutAllow "
                "(docs/operations.md#consentgatesentwithoutallow).",
                "short",
                (
                    zero_if_absent("sum(increase(consentgate_delivery_violations_total[24h]))"),
                    "sent",
                ),
                steps=thresholds((None, "green"), (0.5, "red")),
                span=6,
                height=8,
                decimals=0,
            )
        )
        .with_panel(
            bars(
                51,
                "Sent without allow / after deny by rule and sender kind (24h)",
                "The same violations by rule and by who sent (first_party: the company, "
                "third_party: a partner, unknown: no verdict and no sender on the report).",
                "short",
                (
                    zero_if_absent(
                        "sum by (rule, sender_kind) "
                        "(increase(consentgate_delivery_violations_total[24h]))",
                        rule="none",
                        sender_kind="none",
                    ),
                    "{{rule}} ({{sender_kind}})",
                ),
                span=18,
            )
        )
        .with_panel(
            ts(
                52,
                "Delivery reports reconciled by outcome",
                "Delivery reports judged against their intent's verdict per second (5m rate): OK "
                "(allowed, same recipient and channel), SENT_WITHOUT_ALLOW, SENT_AFTER_DENY. A "
                "drop to zero while messages go out means the delivery side stopped reporting.",
                "ops",
                (
                    zero_if_absent(
                        "sum by (outcome) (rate(consentgate_deliveries_reconciled_total[5m]))",
                        outcome="none",
                    ),
                    "{{outcome}}",
                ),
                span=16,
                stacked=True,
            )
        )
        .with_panel(
            single_stat(
                53,
                "Reports waiting for their verdict",
                "Intents with a delivery report but no verdict yet, summed over workers. Each "
                "becomes SENT_WITHOUT_ALLOW once CONSENTGATE_DELIVERY_WAIT_S passes without one.",
                "short",
                (zero_if_absent("sum(consentgate_deliveries_pending)"), "waiting"),
                steps=thresholds((None, "green"), (100, "orange")),
                span=8,
                height=8,
                decimals=0,
            )
        )
        .with_row(row(101, "Opt-outs"))
        .with_panel(
            ts(
                10,
                "Opt-outs by method and channel",
                "Opt-outs applied per second (1m rate).",
                "ops",
                (
                    zero_if_absent(
                        "sum by (method, channel) (rate(consentgate_optouts_total[1m]))",
                        method="none",
                        channel="none",
                    ),
                    "{{method}} / {{channel}}",
                ),
                stacked=True,
            )
        )
        .with_panel(
            bars(
                11,
                "Opt-outs in the last hour by method",
                "Opt-outs applied over the last hour, by how the recipient opted out.",
                "short",
                (
                    zero_if_absent(
                        "sum by (method) (increase(consentgate_optouts_total[1h]))",
                        method="none",
                    ),
                    "{{method}}",
                ),
            )
        )
        .with_panel(
            bars(
                12,
                "Repaired opt-outs and revocations (1h)",
                "Opt-outs and revocations applied although a field needed repair (an unreadable "
                "time, a channel's case, ...): honoured, and each copied to dead-letters with the "
                "problem. A steady count names a producer to fix.",
                "short",
                (
                    zero_if_absent(
                        "sum by (topic) (increase(consentgate_records_repaired_total[1h]))",
                        topic="none",
                    ),
                    "{{topic}}",
                ),
            )
        )
        .with_panel(
            single_stat(
                13,
                "Late opt-outs (24h)",
                "LATE_OPTOUT violations over the last day: opt-outs (and complaints) dated at or "
                "before a promotional intent the gate had already allowed, so the message may "
                "have gone to someone who had said no. Each is for the compliance team to review "
                "(docs/operations.md#late-opt-outs); a steady count names a slow opt-out path.",
                "short",
                (zero_if_absent("sum(increase(consentgate_late_optouts_total[24h]))"), "late"),
                steps=thresholds((None, "green"), (0.5, "orange")),
                span=12,
                height=8,
                decimals=0,
            )
        )
        .with_row(row(103, "Complaints"))
        .with_panel(
            single_stat(
                30,
                "Complaints waiting for acknowledgement",
                "Complaints the DPO has not acknowledged yet, before their deadline (5 business "
                "days of the complainant's calendar), summed over workers.",
                "short",
                (zero_if_absent("sum(consentgate_complaints_open)"), "open"),
                steps=thresholds((None, "green"), (50, "orange")),
                span=6,
                height=8,
                decimals=0,
            )
        )
        .with_panel(
            single_stat(
                31,
                "Acknowledgements overdue (24h)",
                "COMPLAINT_ACK_OVERDUE violations over the last day: complaints nobody "
                "acknowledged within 5 business days. Anything above 0 fires "
                "ConsentGateComplaintAckOverdue.",
                "short",
                (
                    zero_if_absent("sum(increase(consentgate_complaint_acks_overdue_total[24h]))"),
                    "overdue",
                ),
                steps=thresholds((None, "green"), (0.5, "red")),
                span=6,
                height=8,
                decimals=0,
            )
        )
        .with_panel(
            ts(
                32,
                "Complaints received and acknowledgements overdue",
                "Complaints received (each also an opt-out) by channel, and overdue "
                "acknowledgements, per hour.",
                "short",
                (
                    zero_if_absent(
                        "sum by (channel) (increase(consentgate_complaints_total[1h]))",
                        channel="none",
                    ),
                    "received {{channel}}",
                ),
                (
                    zero_if_absent("sum(increase(consentgate_complaint_acks_overdue_total[1h]))"),
                    "overdue",
                ),
                span=12,
            )
        )
        .with_panel(
            single_stat(
                33,
                "Erasures applied (24h)",
                "Erasure requests (consentgate erase, issue 15 §6) the workers applied over the "
                "last day: consent state removed, the keyed-hash marker kept. A request missing "
                "here after the command ran was refused: see dead-letters (docs/operations.md, "
                "Erasure).",
                "short",
                (zero_if_absent("sum(increase(consentgate_erasures_total[24h]))"), "erased"),
                span=12,
                height=8,
                decimals=0,
            )
        )
        .with_row(row(102, "Read your opt-outs"))
        .with_panel(
            ts(
                20,
                "Hold time p50 / p99",
                "How long intents waited for their consent and opt-out partitions to catch up "
                "(1m).",
                "s",
                (quantile(0.5, "consentgate_ordering_hold_seconds"), "p50"),
                (quantile(0.99, "consentgate_ordering_hold_seconds"), "p99"),
                span=16,
            )
        )
        .with_panel(
            single_stat(
                21,
                "Ordering timeouts (1h)",
                "Intents denied (fail closed) because state did not catch up in time, over the "
                "last hour. Anything above 0 fires ConsentGateOrderingTimeouts.",
                "short",
                ("sum(increase(consentgate_ordering_timeouts_total[1h]))", "timeouts"),
                steps=thresholds((None, "green"), (0.5, "red")),
                span=8,
                height=8,
                decimals=0,
            )
        )
        .with_panel(
            ts(
                22,
                "Ordering timeouts per second",
                "Intents denied because consent and opt-out partitions did not catch up (1m rate).",
                "ops",
                ("sum(rate(consentgate_ordering_timeouts_total[1m]))", "timeouts/s"),
                span=24,
            )
        )
    )


def worker_health() -> Dashboard:
    return (
        dashboard(
            "consentgate-worker-health",
            "consentgate / Worker health",
            "Are the workers up, what do they run, what state do they hold, how do they behave.",
        )
        .with_row(row(100, "Workers"))
        .with_panel(
            single_stat(
                1,
                "Workers up",
                "Scrape targets of job consentgate that answered the last scrape.",
                "short",
                (f"sum(up{{{JOB}}})", "workers up"),
                steps=thresholds((None, "red"), (1, "green")),
                span=6,
            )
        )
        .with_panel(
            single_stat(
                2,
                "Versions running",
                "Workers per consentgate version and policy version (consentgate_worker_info). "
                "More than one line outside a rollout means a stuck deploy.",
                "short",
                (
                    "sum by (version, policy_version) (consentgate_worker_info)",
                    "{{version}} / {{policy_version}}",
                ),
                span=18,
            )
        )
        .with_panel(
            ts(
                3,
                "Up by instance",
                "1 when the last scrape of the worker succeeded.",
                "short",
                (f"up{{{JOB}}}", "{{instance}}"),
                span=24,
                height=6,
            )
        )
        .with_row(row(101, "State"))
        .with_panel(
            ts(
                10,
                "Records applied by topic, kind and outcome",
                "Consent, opt-out and agreement records applied to state per second (1m rate); "
                "outcome duplicate means a replayed record that changed nothing.",
                "ops",
                (
                    "sum by (topic, kind, outcome) (rate(consentgate_records_applied_total[1m]))",
                    "{{topic}} {{kind}} {{outcome}}",
                ),
                stacked=True,
            )
        )
        .with_panel(
            ts(
                11,
                "Consent records held",
                "Recipients held in each worker's consent table partitions.",
                "short",
                ("sum by (instance) (consentgate_consent_records)", "{{instance}}"),
            )
        )
        .with_panel(
            ts(
                12,
                "Processing errors by topic",
                "Unexpected errors while handling a record (1m rate). Each also produced a dead "
                "letter; check the worker logs.",
                "ops",
                (
                    zero_if_absent(
                        "sum by (topic) (rate(consentgate_processing_errors_total[1m]))",
                        topic="none",
                    ),
                    "{{topic}}",
                ),
                span=12,
            )
        )
        .with_panel(
            ts(
                13,
                "Waits for the schema registry by topic",
                "Batches that waited because the schema registry could not be asked (1m rate). "
                "Their records wait and are applied when it answers; intents that need them are "
                "denied STATE_NOT_CURRENT meanwhile.",
                "ops",
                (
                    zero_if_absent(
                        "sum by (topic) (rate(consentgate_registry_waits_total[1m]))",
                        topic="none",
                    ),
                    "{{topic}}",
                ),
                span=12,
            )
        )
        .with_panel(
            ts(
                14,
                "Events read again after a rebalance",
                "Input events not acknowledged because the group rebalanced after they were "
                "fetched (1m rate), and partitions read again from an offset faust skipped: "
                "their records are decided again and the verdict memo repeats their verdicts. "
                "Non-zero only around rebalances. Commits held back: faust wanted to commit past "
                "an offset the gate never released; should stay 0 (docs/operations.md).",
                "ops",
                (
                    zero_if_absent("sum(rate(consentgate_stale_acks_skipped_total[1m]))"),
                    "events",
                ),
                (
                    zero_if_absent("sum(rate(consentgate_holes_read_again_total[1m]))"),
                    "partitions read again",
                ),
                (
                    zero_if_absent("sum(rate(consentgate_commits_clamped_total[1m]))"),
                    "commits held back",
                ),
                span=12,
            )
        )
        .with_row(row(102, "Process"))
        .with_panel(
            ts(
                20,
                "CPU",
                "CPU time per second of each worker process (1.0 = one core).",
                "percentunit",
                (f"rate(process_cpu_seconds_total{{{JOB}}}[1m])", "{{instance}}"),
            )
        )
        .with_panel(
            ts(
                21,
                "Resident memory",
                "Resident set size of each worker process.",
                "bytes",
                (f"process_resident_memory_bytes{{{JOB}}}", "{{instance}}"),
            )
        )
        .with_panel(
            ts(
                22,
                "Garbage collection",
                "Share of each worker's time spent in Python's garbage collector (the event loop "
                "is stopped meanwhile), by generation.",
                "percentunit",
                (
                    "sum by (instance, generation) (rate(consentgate_gc_pause_seconds_total[1m]))",
                    "{{instance}} gen {{generation}}",
                ),
                span=12,
            )
        )
        .with_row(row(103, "Faust"))
        .with_panel(
            ts(
                30,
                "Messages received",
                "Kafka messages received by each worker (faust sensor, 1m rate).",
                "ops",
                (
                    "sum by (instance) (rate(consentgate_faust_messages_received_total[1m]))",
                    "{{instance}}",
                ),
            )
        )
        .with_panel(
            ts(
                31,
                "Rebalances",
                "Rebalances in progress and recovering (faust gauges), and rebalances completed "
                "in the last 5 minutes. Frequent rebalances stall decisions.",
                "short",
                ("sum(consentgate_faust_total_rebalances)", "in progress"),
                ("sum(consentgate_faust_total_rebalances_recovering)", "recovering"),
                (
                    "sum(increase(consentgate_faust_rebalances_completed_total[5m]))",
                    "completed (5m)",
                ),
            )
        )
    )


# File name -> builder. The file name is the dashboard's identity in grafana/dashboards/.
DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "gate-overview.json": gate_overview,
    "compliance.json": compliance,
    "worker-health.json": worker_health,
}


def render(builder: Dashboard) -> str:
    return JSONEncoder(sort_keys=True, indent=2).encode(builder.build()) + "\n"


def render_all() -> dict[str, str]:
    return {name: render(make()) for name, make in sorted(DASHBOARDS.items())}


def stale_files(out_dir: Path) -> list[str]:
    """Names of dashboard files in `out_dir` that are missing, differ, or are not generated here."""
    wanted = render_all()
    stale = []
    for name, text in wanted.items():
        path = out_dir / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    if out_dir.is_dir():
        stale.extend(sorted(p.name for p in out_dir.glob("*.json") if p.name not in wanted))
    return stale


def write_all(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        path = out_dir / name
        with path.open("w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the files in the output directory differ from the builders",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=DASHBOARDS_DIR,
        help=f"where the JSON goes (default: {DASHBOARDS_DIR})",
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.out_dir)
        if stale:
            print(
                f"stale dashboards in {args.out_dir}: {', '.join(stale)}; "
                "run `.venv/bin/python grafana/build_dashboards.py` and commit the result",
                file=sys.stderr,
            )
            return 1
        print(f"dashboards in {args.out_dir} are up to date")
        return 0
    for path in write_all(args.out_dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
