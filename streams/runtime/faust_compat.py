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

and, for start-up and health checks: where faust keeps a table's partition databases on disk and
the changelog offset it persisted in each (`store_check.py` reads them before faust starts), the
changelog topic's name, and whether recovery is done and partitions assigned (`health.py`).

`TESTED_FAUST` is the version range these were checked on; `pyproject.toml` pins the same range,
and `tests/unit/test_faust_compat.py` fails loudly if any of these internals moves or changes
shape, so an upgrade is a conscious step, not a silent fail-open.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
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


# -- the table's files on disk, read before faust starts (streams/runtime/store_check.py) --------

# faust keeps a table's partitions at <datadir>/v<app version>/<tabledir>/<table>-<p>.db, with
# the default app version 1 and tabledir "tables"; the gate sets neither.
_APP_VERSION = 1
_TABLEDIR = "tables"
_OFFSET_KEY = b"__faust\0offset__"


def changelog_topic_for(app_id: str, table_name: str) -> str:
    """faust's name for a table's changelog topic."""
    return f"{app_id}-{table_name}-changelog"


def table_partition_paths(data_dir: Path, table_name: str) -> dict[int, Path]:
    """The RocksDB database of each partition of `table_name` present under `data_dir`."""
    tables = data_dir / f"v{_APP_VERSION}" / _TABLEDIR
    found: dict[int, Path] = {}
    if not tables.is_dir():
        return found
    prefix = f"{table_name}-"
    for path in tables.iterdir():
        number = path.name.removeprefix(prefix).removesuffix(".db")
        if path.name.startswith(prefix) and path.name.endswith(".db") and number.isdigit():
            found[int(number)] = path
    return found


def read_persisted_offset(path: Path) -> int | None:
    """The changelog offset faust persisted in one partition database (opened read-only and
    closed again); None when it never persisted one. Raises when the database cannot be read."""
    import rocksdict

    db = rocksdict.Rdict(
        str(path),
        options=rocksdict.Options(raw_mode=True),
        access_type=rocksdict.AccessType.read_only(),
    )
    try:
        raw = db.get(_OFFSET_KEY)
    finally:
        db.close()
    return None if raw is None else int(raw)


# -- health (streams/runtime/health.py) -----------------------------------------------------------


@dataclass(frozen=True)
class RecoveryState:
    """What /ready needs to know of faust: has table recovery finished since the last rebalance,
    and does this worker own any partition."""

    started: bool  # the consumer exists (faust made it at start-up)
    recovered: bool  # faust's recovery completed at least once
    in_recovery: bool  # replaying a changelog now
    rebalancing: bool  # between a rebalance's start and the end of its recovery
    assigned: int  # partitions assigned to this worker, changelogs included


def recovery_state(app: Any) -> RecoveryState:
    """Read without creating anything: faust makes its consumer and recovery service lazily."""
    from faust.exceptions import ConsumerNotStarted

    consumer = getattr(app, "_consumer", None)
    try:
        assigned = len(consumer.assignment()) if consumer is not None else 0
    except ConsumerNotStarted:
        consumer = None
        assigned = 0
    recovery = getattr(app.tables, "_recovery", None) if consumer is not None else None
    return RecoveryState(
        started=consumer is not None,
        recovered=recovery is not None and recovery.completed.is_set(),
        in_recovery=bool(getattr(app, "in_recovery", False)),
        rebalancing=bool(getattr(app, "rebalancing", False)),
        assigned=assigned,
    )


def drain_without_wait_first(app: Any) -> None:
    """Hand each fetched message to the streams directly when nothing on the way can block.

    faust's drain loop wraps every message in `wait_first(callback(message), suspend_flow)`:
    four tasks per message (about 17-23 µs), so that a rebalance can cancel a callback that is
    stuck. The callback can only get stuck waiting for flow control (suspended during a
    rebalance), for faust's producer buffer (the gate sends nothing through it) or for room in a
    full stream queue. While none of these holds, the callback runs to completion without
    waiting, so it is awaited directly; otherwise faust's own `wait_first` runs, unchanged.
    faust calls `wait_first` on its consumer only from the drain loop."""
    import inspect

    from mode.services import WaitResults

    consumer = app.consumer
    original = consumer.wait_first
    suspend_flow = consumer.suspend_flow
    flow_control = app.flow_control
    conductor = app.topics

    def may_wait() -> bool:
        if suspend_flow.is_set() or not flow_control.is_active():
            return True
        return any(channel.queue.full() for channel in conductor)

    async def wait_first(*coros: Any, timeout: Any = None) -> Any:
        if timeout is not None or len(coros) != 2 or may_wait():
            return await original(*coros, timeout=timeout)
        callback, suspended = coros
        if inspect.iscoroutine(suspended):
            suspended.close()  # never started: nothing to cancel
        result = await callback
        return WaitResults([callback], [result], False)

    consumer.wait_first = wait_first
