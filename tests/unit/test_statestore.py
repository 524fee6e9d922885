"""WriteBehindStore's persisted changelog offsets, on a real faust RocksDB table."""

from __future__ import annotations

from typing import Any

import faust
import pytest

from streams.runtime import faust_compat
from streams.runtime.outputs import RecordingOutputs
from streams.runtime.statestore import PERSIST_EVERY_S, WriteBehindStore


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table(tmp_path: Any) -> Any:
    app = faust.App("statestore", broker="kafka://127.0.0.1:9", store="rocksdb://",
                    datadir=str(tmp_path))  # fmt: skip
    table = app.Table("recipients", default=None, key_type=bytes, value_type=bytes, partitions=4)
    yield table
    for db in table.data._dbs.values():
        db.close()


def _persisted(table: Any, partition: int) -> int | None:
    return faust_compat.persisted_changelog_offset(table, partition)


def test_offsets_are_recorded_at_most_every_interval(table: Any) -> None:
    clock, outputs = _Clock(), RecordingOutputs()
    store = WriteBehindStore(table, outputs, clock=clock)
    store.put(1, b"a", b"1")
    store.flush()
    store.persist_offsets()  # the first: recorded at once
    assert _persisted(table, 1) == 0
    store.put(1, b"b", b"2")
    store.put(2, b"c", b"3")
    store.flush()
    clock.now += PERSIST_EVERY_S / 2
    store.persist_offsets()  # too soon: kept for later
    assert _persisted(table, 1) == 0 and _persisted(table, 2) is None
    clock.now += PERSIST_EVERY_S / 2
    store.persist_offsets()
    # RecordingOutputs gives each changelog record its index as offset: b is 1, c is 2.
    assert (_persisted(table, 1), _persisted(table, 2)) == (1, 2)


def test_force_records_at_once_and_values_are_in_rocksdb_first(table: Any) -> None:
    clock, outputs = _Clock(), RecordingOutputs()
    store = WriteBehindStore(table, outputs, clock=clock)
    store.put(3, b"a", b"1")
    store.flush()
    store.persist_offsets()
    store.put(3, b"a", b"2")
    store.flush()
    store.persist_offsets(force=True)
    assert _persisted(table, 3) == 1
    # What the recorded offset covers is in RocksDB: a rebuild from there loses nothing.
    assert faust_compat.partition_db(table, 3).get(b"a") == b"2"


def test_a_revoked_partition_still_gets_its_offset(table: Any) -> None:
    # A shutdown revokes every partition before the worker's last recording: faust dropped the
    # database, and the offset must still reach it, or the next start replays what it covers.
    clock, outputs = _Clock(), RecordingOutputs()
    store = WriteBehindStore(table, outputs, clock=clock)
    store.put(0, b"a", b"1")
    store.flush()
    table.data._dbs.pop(0).close()  # what faust's revoke_partitions does (without the close)
    store.persist_offsets(force=True)
    assert _persisted(table, 0) == 0
