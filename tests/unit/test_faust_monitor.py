"""faust's figures: counted per event without label lookups, exported when scraped."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.runtime.faust_monitor import FaustCollector, GateMonitor


def _scrape(monitor: GateMonitor) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(FaustCollector(monitor))
    return registry


def test_messages_are_counted_and_exported_at_scrape_time() -> None:
    monitor = GateMonitor()
    registry = _scrape(monitor)
    assert registry.get_sample_value("consentgate_faust_messages_received_total") == 0
    for offset in range(3):
        monitor.on_message_in(("t", 0), offset, object())
    assert registry.get_sample_value("consentgate_faust_messages_received_total") == 3


def test_a_rebalance_moves_from_in_progress_to_recovering_to_completed() -> None:
    class App:
        rebalancing_count = 1

    monitor = GateMonitor()
    registry = _scrape(monitor)
    state = monitor.on_rebalance_start(App())
    assert registry.get_sample_value("consentgate_faust_total_rebalances") == 1
    monitor.on_rebalance_return(App(), state)
    assert registry.get_sample_value("consentgate_faust_total_rebalances") == 0
    assert registry.get_sample_value("consentgate_faust_total_rebalances_recovering") == 1
    monitor.on_rebalance_end(App(), state)
    assert registry.get_sample_value("consentgate_faust_total_rebalances_recovering") == 0
    assert registry.get_sample_value("consentgate_faust_rebalances_completed_total") == 1


def test_per_event_hooks_keep_no_per_event_state() -> None:
    monitor = GateMonitor()
    monitor.on_stream_event_in(("t", 0), 1, object(), object())
    assert ("t", 0) in monitor.stream_inbound_time  # faust's stall check reads it
    before = dict(vars(monitor))
    monitor.on_stream_event_in(("t", 0), 2, object(), object())
    monitor.on_stream_event_out(("t", 0), 1, object(), object())
    monitor.on_table_get(object(), b"k")
    monitor.on_table_set(object(), b"k", b"v")
    monitor.on_send_initiated(object(), "t", object(), 1, 1)
    monitor.track_tp_end_offset(("t", 0), 9)
    assert set(vars(monitor)) == set(before)
    assert monitor.messages_received_total == before["messages_received_total"]
