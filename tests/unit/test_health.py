"""`/ready` and `/live` (`streams/runtime/health.py`): the decision, and the pages faust serves."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import pytest

from streams.runtime import faust_compat, health
from streams.runtime.faust_compat import RecoveryState

READY = RecoveryState(started=True, recovered=True, in_recovery=False, rebalancing=False,
                      assigned=6)  # fmt: skip


def test_ready_only_when_recovered_and_assigned():
    assert health.not_ready_reason(READY) is None


@pytest.mark.parametrize(
    "change, says",
    [
        ({"started": False}, "not started"),
        ({"rebalancing": True}, "rebalancing"),
        ({"in_recovery": True}, "recovering"),
        ({"recovered": False}, "recovering"),
        ({"assigned": 0}, "no partitions"),
    ],
)
def test_each_missing_condition_is_not_ready_with_a_one_line_reason(change, says):
    reason = health.not_ready_reason(RecoveryState(**{**READY.__dict__, **change}))
    assert reason is not None and says in reason and "\n" not in reason


def _app() -> Any:
    app = faust.App("health-test", broker="kafka://127.0.0.1:9", store="memory://")
    health.install_health(app)
    return app


def test_pages_answer_503_with_the_reason_then_200(monkeypatch):
    app = _app()
    ready = app.web.views["/ready"]
    response = asyncio.run(ready.get(None))
    assert response.status == 503 and "not started" in response.text
    monkeypatch.setattr(faust_compat, "recovery_state", lambda app: READY)
    response = asyncio.run(ready.get(None))
    assert response.status == 200


def test_live_answers_while_the_loop_runs_even_when_not_ready():
    app = _app()
    assert asyncio.run(app.web.views["/live"].get(None)).status == 200
    assert asyncio.run(app.web.views["/ready"].get(None)).status == 503
