"""Every use of faust-streaming's internals, in one place, pinned to the versions tested.

The gate needs four things faust has no public API for:

- `processing(event)`: make an event the *current event*, so a table write inside a batch goes
  to that event's changelog partition (faust reads a context variable, set only per `async for`
  step of a plain stream, not per event of `take_events`).
- `committed_offset(consumer, tp)`: the group's committed offset that faust tracks per partition,
  for the lag gauge and to seed the read-your-opt-outs positions after an assignment.
- `rocksdb_key_estimate(table)`: RocksDB's own key count per active partition; `len(table)`
  iterates every key in Python and blocks the event loop.
- `allow_pending_sends(app, n)`: faust stalls every stream once its producer buffer holds 100
  messages; a batch of intents queues several hundred.

`TESTED_FAUST` is the version range these were checked on; `pyproject.toml` pins the same range,
and `tests/unit/test_faust_compat.py` fails loudly if any of these internals moves or changes
shape, so an upgrade is a conscious step, not a silent fail-open.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from faust.streams import _current_event

TESTED_FAUST = (">=0.15.2", "<0.16")


@contextmanager
def processing(event: Any) -> Iterator[None]:
    """Make `event` the current event, so table writes go to its changelog partition."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def current_event() -> Any:
    """The event faust considers current (None outside of one)."""
    ref = _current_event.get(None)
    return ref() if ref is not None else None


def committed_offsets(consumer: Any) -> Any:
    """faust's map of TP -> the group's committed offset it knows (a live view, not a copy)."""
    return consumer._committed_offset


def committed_offset(consumer: Any, tp: Any) -> int | None:
    offset: int | None = committed_offsets(consumer).get(tp)
    return offset


def rocksdb_key_estimate(table: Any) -> int | None:
    """Keys in the table's active partitions by RocksDB's estimate; None when the store is not
    RocksDB through rocksdict (then the caller may count another way)."""
    store = getattr(table, "data", None)
    actives = getattr(store, "_dbs_for_actives", None)
    if actives is None:
        return None
    total = 0
    for db in actives():
        estimate = getattr(db, "property_int_value", None)  # rocksdict; python-rocksdb lacks it
        if estimate is None:
            return None
        total += int(estimate("rocksdb.estimate-num-keys") or 0)
    return total


def allow_pending_sends(app: Any, messages: int) -> None:
    """Let faust's producer buffer hold `messages` before it stalls the streams."""
    app.producer.buffer.max_messages = messages


def partition_db(table: Any, partition: int) -> Any | None:
    """The RocksDB database (rocksdict) of one table partition; None for other stores."""
    store = table.data
    if not getattr(store, "use_rocksdict", False):
        return None
    return store._db_for_partition(partition)


def write_partition(table: Any, partition: int, items: list[tuple[bytes, bytes]]) -> None:
    """Write key/value pairs into one table partition without faust's changelog send: one
    RocksDB write batch, or plain assignments for an in-memory store."""
    db = partition_db(table, partition)
    if db is None:
        for key, value in items:
            table.data.data[key] = value  # faust's memory store: a dict, no changelog send
        return
    import rocksdict

    batch = rocksdict.WriteBatch(raw_mode=True)
    for key, value in items:
        batch.put(key, value)
    db.write(batch)


def changelog_topic_name(table: Any) -> str:
    name: str = table.changelog_topic.get_topic_name()
    return name


def persist_changelog_offset(table: Any, partition: int, offset: int) -> None:
    """What faust records after each changelog send: recovery resumes after this offset."""
    from faust.types import TP

    table.data.set_persisted_offset(TP(changelog_topic_name(table), partition), offset)


def persisted_changelog_offset(table: Any, partition: int) -> int | None:
    from faust.types import TP

    offset: int | None = table.data.persisted_offset(TP(changelog_topic_name(table), partition))
    return offset
