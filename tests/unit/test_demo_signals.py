"""SIGTERM and SIGHUP stop the demo as Ctrl-C does (`demo.stopped_as_by_ctrl_c`): without it a
`kill` or a closed terminal ended the demo at once and left its worker, connectors and broker
running (tests/integration/test_demo_stops.py shows it end to end)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from streams.devtools.demo import TERMINATING_SIGNALS, stopped_as_by_ctrl_c


@pytest.mark.parametrize("sig", TERMINATING_SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_terminating_signal_interrupts_as_ctrl_c_does(sig: int) -> None:
    with stopped_as_by_ctrl_c():
        if signal.getsignal(sig) in (signal.SIG_DFL, signal.SIG_IGN):
            pytest.fail("no handler: the signal would end (or not reach) the process")
        with pytest.raises(KeyboardInterrupt, match=signal.Signals(sig).name):
            os.kill(os.getpid(), sig)
            time.sleep(1.0)  # the handler runs as soon as the signal is in


def test_the_previous_handlers_are_back_afterwards() -> None:
    before = {sig: signal.getsignal(sig) for sig in TERMINATING_SIGNALS}
    with stopped_as_by_ctrl_c():
        assert all(signal.getsignal(sig) != before[sig] for sig in TERMINATING_SIGNALS)
    assert {sig: signal.getsignal(sig) for sig in TERMINATING_SIGNALS} == before
