"""faust's figures at scrape time, not per event.

faust calls its monitor on every message, event, table access and send. Its Prometheus monitor
does label lookups, a regex and histogram updates in each call: about 30 µs per intent, measured
(docs/performance.md). `GateMonitor` keeps only integer counts on the per-event path and
`FaustCollector` turns them into Prometheus families when `/metrics` is scraped.

Exported (names kept from the faust sensor where the dashboards use them):
- `consentgate_faust_messages_received_total`: Kafka messages handed to faust's streams;
- `consentgate_faust_total_rebalances`: rebalances in progress (0 or 1);
- `consentgate_faust_total_rebalances_recovering`: rebalances past assignment, still recovering;
- `consentgate_faust_rebalances_completed_total`: rebalances fully done (recovery included);
- `consentgate_faust_commits_total`: offset commits completed.
"""

from __future__ import annotations

from collections.abc import Iterator
from time import monotonic
from typing import Any

from faust.sensors import Monitor
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

PREFIX = "consentgate_faust"


class GateMonitor(Monitor):
    """faust's monitor with the per-event work cut to counting."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rebalances_in_progress = 0
        self.rebalances_recovering = 0
        self.rebalances_completed = 0
        self.commits_completed = 0

    # -- per event: count, nothing else ---------------------------------------------------------

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        self.messages_received_total += 1

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        # faust's stall check reads this ("Stream has not started processing TP" otherwise)
        self.stream_inbound_time[tp] = monotonic()

    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None
    ) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_table_get(self, table: Any, key: Any) -> None:
        return None

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        return None

    def on_table_del(self, table: Any, key: Any) -> None:
        return None

    def on_send_initiated(
        self, producer: Any, topic: str, message: Any, keysize: int, valsize: int
    ) -> Any:
        return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        return None

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        self.send_errors += 1

    def track_tp_end_offset(self, tp: Any, offset: int) -> None:
        return None

    # -- rare events: keep faust's bookkeeping, add our counts ----------------------------------

    def on_commit_completed(self, consumer: Any, state: Any) -> None:
        super().on_commit_completed(consumer, state)
        self.commits_completed += 1

    def on_rebalance_start(self, app: Any) -> dict[str, Any]:
        state: dict[str, Any] = super().on_rebalance_start(app)
        self.rebalances_in_progress += 1
        return state

    def on_rebalance_return(self, app: Any, state: dict[str, Any]) -> None:
        super().on_rebalance_return(app, state)
        self.rebalances_in_progress = max(0, self.rebalances_in_progress - 1)
        self.rebalances_recovering += 1

    def on_rebalance_end(self, app: Any, state: dict[str, Any]) -> None:
        super().on_rebalance_end(app, state)
        self.rebalances_recovering = max(0, self.rebalances_recovering - 1)
        self.rebalances_completed += 1


class FaustCollector(Collector):
    """Reads a `GateMonitor` when Prometheus scrapes."""

    def __init__(self, monitor: GateMonitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Any]:
        m = self.monitor
        yield CounterMetricFamily(
            f"{PREFIX}_messages_received",
            "Kafka messages handed to faust's streams.",
            value=m.messages_received_total,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_total_rebalances", "Rebalances in progress.", value=m.rebalances_in_progress
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_total_rebalances_recovering",
            "Rebalances past assignment whose table recovery is still running.",
            value=m.rebalances_recovering,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_rebalances_completed",
            "Rebalances fully completed, table recovery included.",
            value=m.rebalances_completed,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_commits", "Offset commits completed.", value=m.commits_completed
        )
