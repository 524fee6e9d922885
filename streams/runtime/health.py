"""`/ready` and `/live` on the worker's web port, for orchestrators and compose healthchecks.

Ready means the worker can decide correctly now: faust's table recovery has finished since the
last rebalance and this worker owns partitions. A worker still replaying its changelog would hold
every intent (or deny it on timeout), so it must not count as ready; a worker with no partitions
(more workers than partitions) decides nothing. Live means only that the event loop answers: a
worker that is rebuilding is alive, and restarting it would only start the rebuild again.
"""

from __future__ import annotations

from typing import Any

from streams.runtime import faust_compat
from streams.runtime.faust_compat import RecoveryState


def not_ready_reason(state: RecoveryState) -> str | None:
    """One line saying why the worker is not ready, or None when it is."""
    if not state.started:
        return "not started: the Kafka consumer does not exist yet"
    if state.rebalancing:
        return "rebalancing: partitions are being assigned"
    if state.in_recovery or not state.recovered:
        return "recovering: the table is being rebuilt from its changelog"
    if state.assigned == 0:
        return "no partitions assigned to this worker"
    return None


def install_health(app: Any) -> None:
    """Register `/ready` (200, or 503 with the reason) and `/live` (200) as faust web pages."""

    @app.page("/ready")
    async def ready_page(view: Any, request: Any) -> Any:
        reason = not_ready_reason(faust_compat.recovery_state(app))
        if reason is None:
            return view.text("ready\n")
        return view.text(f"{reason}\n", status=503)

    @app.page("/live")
    async def live_page(view: Any, request: Any) -> Any:
        return view.text("live\n")  # answering at all is the proof: the event loop runs
