"""The bench's "gate's code alone" step decides the workload the way the worker's agent does."""

from __future__ import annotations

from streams.devtools.bench.gatecode import build_gate, decide_all
from streams.policy import addresses


def test_the_gate_alone_gives_every_intent_a_verdict_and_denies_some() -> None:
    gate, messages, outputs = build_gate(recipients=400, intents=300)
    assert len(messages) == 300 and outputs.sent == {}  # building sent nothing
    assert addresses._normalize.cache_info().currsize == 0  # addresses start unseen
    spent = decide_all(gate, messages)
    assert spent > 0
    assert outputs.sent["verdicts"] == 300
    assert 0 < outputs.sent["violations"] < 300  # the workload has opted-out recipients
    decided = dict(outputs.sent)
    decide_all(gate, messages)  # reprocessed: the memo repeats each verdict, nothing new denied
    assert outputs.sent["verdicts"] == 600
    assert outputs.sent["violations"] == 2 * decided["violations"]
