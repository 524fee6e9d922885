"""faust internals the gate relies on: fail loudly when an upgrade moves or reshapes them.

Each test names the internal and what the gate does with it (`streams/runtime/faust_compat.py`).
"""

from __future__ import annotations

import contextvars
import inspect
import re
from importlib.metadata import version
from typing import Any

import faust
from faust.stores.rocksdb import Store as RocksStore
from faust.streams import _current_event
from faust.transport.producer import ProducerBuffer

from streams.runtime import faust_compat


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_installed_faust_is_within_the_tested_range() -> None:
    installed = _release(version("faust-streaming"))
    low, high = (_release(bound) for bound in faust_compat.TESTED_FAUST)
    assert low <= installed < high, (
        f"faust-streaming {version('faust-streaming')} is outside {faust_compat.TESTED_FAUST}: "
        "check every internal in streams/runtime/faust_compat.py, then widen the range"
    )


def test_pyproject_pins_the_tested_range() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    low, high = faust_compat.TESTED_FAUST
    assert f'"faust-streaming[rocksdict,prometheus]{low},{high}"' in text


def test_current_event_is_a_context_variable_holding_a_weak_reference() -> None:
    # faust's Table reads it to choose the changelog partition of a write.
    assert isinstance(_current_event, contextvars.ContextVar)

    class Event:
        pass

    event = Event()
    assert faust_compat.current_event() is None
    with faust_compat.processing(event):
        assert faust_compat.current_event() is event
        assert _current_event.get()() is event
    assert faust_compat.current_event() is None


def test_table_writes_read_the_current_event() -> None:
    # The changelog partition of a write comes from the current event's message.
    from faust.tables.base import Collection

    source = inspect.getsource(Collection)
    assert "current_event()" in source, "faust's tables no longer read the current event"


def test_consumer_tracks_committed_offsets_per_partition() -> None:
    app = faust.App("compat-test", broker="kafka://127.0.0.1:9", store="memory://")
    consumer: Any = app.consumer
    offsets = faust_compat.committed_offsets(consumer)
    assert isinstance(offsets, dict)
    assert faust_compat.committed_offset(consumer, ("t", 0)) is None


def test_rocksdb_store_lists_its_active_databases() -> None:
    assert callable(getattr(RocksStore, "_dbs_for_actives", None)), (
        "faust's RocksDB store lost _dbs_for_actives: the consent gauge would scan every key"
    )


def test_key_estimate_is_none_for_a_store_without_rocksdb() -> None:
    assert faust_compat.rocksdb_key_estimate({"a": 1}) is None


def test_producer_buffer_has_a_message_bound() -> None:
    assert "max_messages" in inspect.signature(ProducerBuffer.__init__).parameters or (
        "max_messages" in inspect.getsource(ProducerBuffer)
    )
    app = faust.App("compat-buffer", broker="kafka://127.0.0.1:9", store="memory://")
    faust_compat.allow_pending_sends(app, 1234)
    assert app.producer.buffer.max_messages == 1234
