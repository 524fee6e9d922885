"""Every use of faust-streaming's internals, in one place, pinned to the versions tested.

The gate needs these things faust has no public API for:

- `processing(event)`: make an event the *current event*, so a table write inside a batch goes
  to that event's changelog partition (faust reads a context variable, set only per `async for`
  step of a plain stream, not per event of `take_events`).
- `committed_offset(consumer, tp)`: the group's committed offset that faust tracks per partition,
  for the lag gauge and to seed the read-your-opt-outs positions after an assignment.
- `consumer_generation(app)`, `fetched_generation(event)`: the group generation now and when an
  event was fetched, so an acknowledgement from before a rebalance is not mixed into the new
  generation's offsets (`acks.py`).
- `acknowledge_only_when(app, ...)`: faust's streams acknowledge messages they skip at a
  rebalance, which let a commit pass intents nobody decided; only the gate's own releases may
  acknowledge (`acks.py`).
- `gaps_only_in(app, ...)`, `commit_no_hole(app, ...)`: faust counts a fetch that jumps past
  offsets as done, and its commit passes a one-offset hole; on the gate's topics (not
  compacted) neither may move the commit past an undecided record.
- `unacknowledged_heads(consumer)`, `read_again_from(consumer, tp, offset)`: a message faust
  skipped before the gate could refuse its acknowledgement leaves a hole the commit waits at
  for ever; the gate finds it and reads the partition again from there (`app.py`).
- `rocksdb_key_estimate(table)`: RocksDB's own key count per active partition; `len(table)`
  iterates every key in Python and blocks the event loop.
- `scan_slice(table, cursor, limit)`: a table read slice by slice from the partition databases,
  for periodic passes that must not stall the event loop or hold the whole table in memory.
- `take_ready(stream, n, linger)`: batches of the events ready, taken from the stream's queue
  at once (`noack_take` fills its batch one event per pass of the event loop and waits for
  either a full batch or its window).
- `allow_pending_sends(app, n)`: faust stalls every stream once its producer buffer holds 100
  messages; a batch of intents queues several hundred.
- `tune_fetch(ms, min_bytes)`: faust creates its aiokafka consumer with a fixed 1.5 s fetch
  wait, which stalled a worker's intents for that long after a long batch; the gate sets a
  shorter one, and the fetch's minimum size, on the consumer faust creates (aiokafka's
  `_fetch_max_wait_ms` and `_fetch_min_bytes`, read when it starts).

- `on_consumer_created(app, install)`: the guards above go on the consumer when faust creates
  it, before it can deliver a record (faust starts app tasks only after table recovery, and its
  fetcher delivers stream records during recovery).

and, for start-up and health checks: where faust keeps a table's partition databases on disk and
the changelog offset it persisted in each (`store_check.py` reads them before faust starts), the
changelog topic's name, and whether recovery is done and partitions assigned (`health.py`).

`TESTED_FAUST` is the version range these were checked on; `pyproject.toml` pins the same range,
and `tests/unit/test_faust_compat.py` fails loudly if any of these internals moves or changes
shape, so an upgrade is a conscious step, not a silent fail-open.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faust.streams import _current_event

TESTED_FAUST = (">=0.15.2", "<0.16")
# How long a paused partition's record already on its way to the streams gets to arrive.
READ_AGAIN_SETTLE_S = 0.1
# take_ready's fallback for a stream without a queue: faust's own batch window.
FALLBACK_WINDOW_S = 0.01


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


def consumer_generation(app: Any) -> int | None:
    """The consumer group generation of the current assignment (faust sets it on every
    assignment; 0 before the first)."""
    generation: int | None = getattr(app, "consumer_generation_id", None)
    return generation


def fetched_generation(event: Any) -> int | None:
    """The generation an event's message was fetched in (None where faust did not say, as in
    its test context)."""
    generation: int | None = getattr(event.message, "generation_id", None)
    return generation


def on_consumer_created(app: Any, install: Callable[[], None]) -> None:
    """Run `install()` once, as soon as faust creates `app`'s consumer (at once if it has one):
    `app.consumer` is already the new consumer when it runs.

    Guards on the consumer must be in place before it delivers a record. An app task is too
    late: faust starts app tasks only once table recovery is done, while its fetcher already
    delivers stream records during recovery (and faust records their gaps, acknowledges and
    commits them its own way). faust creates the consumer lazily in `App.consumer`, through
    `App._new_consumer`."""
    if app._consumer is not None:
        install()
        return
    create = app._new_consumer

    def new_consumer() -> Any:
        consumer = create()
        app._consumer = consumer  # what faust's `consumer` property sets on our return
        install()
        return consumer

    app._new_consumer = new_consumer


def streams_acknowledge_through_the_consumer() -> None:
    """Make faust's streams iterate in Python, not with its Cython iterator: the Cython one
    acknowledges skipped messages by writing the consumer's bookkeeping directly, past
    `acknowledge_only_when`; the Python one goes through `Message.ack` and the consumer's `ack`.
    Costs a few microseconds per event (docs/performance.md)."""
    import faust.streams

    faust.streams._CStreamIterator = None


def acknowledge_only_when(
    app: Any, allowed: Callable[[], bool], on_refused: Callable[[Any], None]
) -> None:
    """Make the consumer refuse acknowledgements while `allowed()` is false.

    faust's stream acknowledges a message it skips (flow stopped for a rebalance, or fetched in
    an earlier generation) as if processed; the gate's agents acknowledge only through
    `acks.AckOrder`, which sets `allowed` while it releases. A refused message stays
    unacknowledged: faust's commit cannot pass it, and the seek after the assignment reads it
    again. faust reaches the consumer's `ack` from `Message.ack` once a message has no other
    reference left."""
    consumer = app.consumer
    original = consumer.ack

    def ack(message: Any) -> bool:
        if not allowed():
            on_refused(message)
            return False
        result: bool = original(message)
        return result

    consumer.ack = ack


def unacknowledged_heads(consumer: Any) -> dict[Any, int]:
    """Assigned partitions whose committed offset (the next to read) holds a record that was
    read but never acknowledged: {tp: that offset}. Either faust holds acknowledged offsets
    beyond it, or faust's read position has reached it while the partition holds records from
    there on (the highwater is past it) and nothing after it was acknowledged: a record fetched
    in the generation before a rebalance, skipped by the stream, and never fetched again (an
    opt-out partition stuck so held every intent's read-your-opt-outs wait). faust's commit
    waits at such an offset for ever; `acks.py` explains why only a message faust skipped can
    make one, and the app reads the partition again from there. A partition just moved back to
    its committed offset reads the same way until the record arrives: the caller waits before
    calling it a hole (`holes.py`)."""
    assignment = consumer.assignment()
    committed = consumer._committed_offset
    read_offsets = consumer._read_offset
    heads: dict[Any, int] = {}
    for tp in assignment:
        offset = committed.get(tp)
        if offset is None:
            continue
        acked = consumer._acked.get(tp)
        if acked:
            if min(acked) > offset:
                heads[tp] = offset
            continue
        read = read_offsets.get(tp)
        if read is not None and read >= offset and offset < _highwater(consumer, tp):
            heads[tp] = offset
    return heads


def _highwater(consumer: Any, tp: Any) -> int:
    try:
        return int(consumer.highwater(tp) or -1)
    except Exception:  # not fetched yet, or moving: not a hole this time
        return -1


def gaps_only_in(app: Any, topics: set[str], on_refused: Callable[[Any, int, int], None]) -> None:
    """Let faust count skipped offsets as done ("gaps") only on `topics`.

    When a fetch returns an offset beyond the next one expected, faust's drain loop records the
    offsets in between as a gap, which its commit treats as acknowledged: right for a compacted
    topic or transaction markers, wrong when the fetcher skipped real records, which happens
    around a rebalance (a fetch from before the seek delivered after it): the commit then passed
    intents nobody decided. On any other topic the gap is refused (`on_refused(tp, first,
    last)`), so the commit waits at the first skipped offset and the app reads the partition
    again from it (`unacknowledged_heads`)."""
    consumer = app.consumer
    original = consumer._add_gap

    async def add_gap(tp: Any, offset_from: int, offset_to: int) -> None:
        if tp.topic in topics:
            await original(tp, offset_from, offset_to)
        else:
            on_refused(tp, offset_from, offset_to)

    consumer._add_gap = add_gap


def commit_no_hole(
    app: Any,
    exempt: set[str],
    ceiling: Callable[[Any, int], int],
    on_clamped: Callable[[Any, int, int], None],
) -> None:
    """Never commit past an offset nobody acknowledged, on every topic but `exempt`.

    faust's commit skips a hole at the head of the acknowledged offsets when it is exactly one
    offset wide (its check is `> 1` where `> 0` is meant), and does not check at all while it
    does not know the committed offset (after a revocation, before its seek; a partition the
    group never committed): one message skipped during a rebalance, and the commit passed it.
    So a partition is committed only while it is assigned and its committed offset is known
    (`know_committed` gives one to partitions the group never committed), never past an
    unacknowledged head, and never past `ceiling(tp, committed)`: the gate's own record of what
    it released (the app's `released` positions); `on_clamped(tp, wanted, ceiling)` hears when
    faust wanted more. The compacted topics (`exempt`) keep faust's own check, where its gaps
    fill holes."""
    consumer = app.consumer
    original = consumer._new_offset

    def new_offset(tp: Any) -> int | None:
        if tp.topic in exempt:
            kept: int | None = original(tp)
            return kept
        committed = consumer._committed_offset.get(tp)
        if committed is None or tp not in consumer.assignment():
            return None
        acked = consumer._acked.get(tp)
        if acked and min(acked) > committed:
            return None
        wanted: int | None = original(tp)
        if wanted is None:
            return None
        limit = ceiling(tp, committed)
        if wanted > limit:
            on_clamped(tp, wanted, limit)
            return limit if limit > committed else None
        return wanted

    consumer._new_offset = new_offset


def forget_bookkeeping(consumer: Any, tps: Iterable[Any]) -> None:
    """Drop faust's acknowledged offsets and gaps of newly assigned partitions (an assignment
    seeks every partition back to its committed offset: what is past it is read and
    acknowledged again). faust pops them on a revocation, but acknowledgements that arrive while
    the revocation waits for the agents are recorded again, and stay while another member owns
    the partition: when it comes back, a stale run below the new committed offset is what
    faust's commit takes first, and it never commits that partition again."""
    for tp in tps:
        consumer._acked.pop(tp, None)
        consumer._acked_index.pop(tp, None)
        consumer._gap.pop(tp, None)


def uncount(consumer: Any, tp: Any, offset: int) -> None:
    """Make faust forget that `offset` of `tp` was acknowledged, so that the record, read again,
    can be acknowledged (and released) once more."""
    index = consumer._acked_index.get(tp)
    if index is not None:
        index.discard(offset)
    acked = consumer._acked.get(tp)
    if acked and offset in acked:
        acked.remove(offset)


def know_committed(consumer: Any, offsets: dict[Any, int]) -> None:
    """Give faust a committed offset for assigned partitions it has none for (the group never
    committed them: they are read from `offsets`, their beginning), so `commit_no_hole` can
    check them. Never replaces one faust learnt from the broker."""
    from faust.types import TP

    assignment = consumer.assignment()
    for tp, offset in offsets.items():
        key = TP(tp[0], tp[1])
        if key in assignment and consumer._committed_offset.get(key) is None:
            consumer._committed_offset[key] = offset


async def read_again_from(consumer: Any, tp: Any, offset: int) -> bool:
    """Fetch `tp` again from `offset`; False when `tp` is paused or no longer assigned.

    faust's seek moves its own read position back, but a fetch already under way keeps
    delivering `tp`'s later records, which move it forward again: faust then drops the records
    fetched again as already read. So `tp` is paused first (faust's fetch loop delivers no more
    of a paused partition's records), a record already on its way is let through, and only then
    is `tp` moved back (in the consumer's own thread) and resumed. faust's own partition sets
    hold only its `TP` type (the consumer's bookkeeping may hold the driver's), so `tp` is
    converted first."""
    from faust.types import TP

    tp = TP(tp.topic, tp.partition)
    if tp not in consumer.assignment() or tp in consumer._paused_partitions:
        return False
    consumer.pause_partitions([tp])
    try:
        await asyncio.sleep(READ_AGAIN_SETTLE_S)
        # seek_wait, not seek: faust's aiokafka `seek` moves aiokafka's position from this
        # thread while its consumer thread iterates the fetched records (KeyError in aiokafka's
        # fetcher, seen crashing the fetcher); seek_wait runs in the consumer thread and sets
        # faust's read offset as seek does.
        await consumer.seek_wait({tp: offset})
    finally:
        if tp in consumer.assignment():
            consumer.resume_partitions([tp])
    return True


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


ScanCursor = tuple[int, bytes] | None  # (partition, last key read); None: from the start


def scan_slice(
    table: Any, cursor: ScanCursor, limit: int
) -> tuple[list[tuple[bytes, bytes]], ScanCursor]:
    """Up to `limit` (key, value) pairs of the table's active partitions after `cursor`, and
    the cursor to continue from (None once the scan has reached the end).

    `table.data.items()` materialises every key in one go on the event loop; a periodic pass
    over a large table goes slice by slice instead, each slice a fresh RocksDB iterator from the
    last key read (no iterator is held across an await, when a rebalance may close its
    database). Partitions assigned during a pass that sort before the cursor wait for the next
    pass. An in-memory store (agent tests) is sliced by sorted key."""
    from faust.types import TP

    store = table.data
    found: list[tuple[bytes, bytes]] = []
    if not getattr(store, "use_rocksdict", False):
        after = b"" if cursor is None else cursor[1]
        keys = sorted(k for k in store.data if cursor is None or k > after)[:limit]
        found = [(k, store.data[k]) for k in keys]
        return found, ((-1, keys[-1]) if len(keys) == limit else None)
    actives = store.app.assignor.assigned_actives()
    topic = table.changelog_topic_name
    start_partition, last = cursor if cursor is not None else (-1, b"")
    for partition in sorted(store._dbs):
        if partition < start_partition or TP(topic=topic, partition=partition) not in actives:
            continue
        start = last if partition == start_partition else None
        for key, value in store._dbs[partition].items(from_key=start):
            if key == store.offset_key or key == start:
                continue
            found.append((key, value))
            if len(found) >= limit:
                return found, (partition, key)
    return found, None


def write_partition(table: Any, partition: int, items: list[tuple[bytes, bytes | None]]) -> None:
    """Write key/value pairs into one table partition without faust's changelog send: one
    RocksDB write batch, or plain assignments for an in-memory store. A None value deletes."""
    db = partition_db(table, partition)
    if db is None:
        for key, value in items:
            if value is None:
                table.data.data.pop(key, None)
            else:
                table.data.data[key] = value  # faust's memory store: a dict, no changelog send
        return
    import rocksdict

    batch = rocksdict.WriteBatch(raw_mode=True)
    for key, value in items:
        if value is None:
            batch.delete(key)
        else:
            batch.put(key, value)
    db.write(batch)


def changelog_topic_name(table: Any) -> str:
    name: str = table.changelog_topic.get_topic_name()
    return name


def persist_changelog_offset(table: Any, partition: int, offset: int) -> None:
    """What faust records after each changelog send: recovery resumes after this offset.

    Also for a partition revoked since: faust drops a revoked partition's database before the
    gate's revocation handler runs (and a shutdown revokes every partition), and recording
    opens it again, as faust's own store does for any partition it is asked about. Skipping
    it made every warm restart replay the changelog written since the last recorded offset."""
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


QUEUE_CHECK_EVERY = 64  # messages; see drain_without_wait_first


def drain_without_wait_first(app: Any) -> None:
    """Hand each fetched message to the streams directly when nothing on the way can block.

    faust's drain loop wraps every message in `wait_first(callback(message), suspend_flow)`:
    four tasks per message (about 17-23 µs), so that a rebalance can cancel a callback that is
    stuck. The callback can only get stuck waiting for flow control (suspended during a
    rebalance), for faust's producer buffer (the gate sends nothing through it) or for room in a
    full stream queue. While none of these holds, the callback runs to completion without
    waiting, so it is awaited directly; otherwise faust's own `wait_first` runs, unchanged.
    faust calls `wait_first` on its consumer only from the drain loop.

    The queues are looked at once per QUEUE_CHECK_EVERY messages at most, not per message
    (walking every channel was 2% of the main thread in a live run): a message puts at most
    one event into each queue, so when the fullest queue has room for r events, the next
    min(r, QUEUE_CHECK_EVERY) messages cannot find it full. The cap bounds what a put from
    outside the drain loop could take unseen; the worst case then is what faust's own path
    has once past `full()`: the callback waits for room."""
    import inspect

    from mode.services import WaitResults

    consumer = app.consumer
    original = consumer.wait_first
    suspend_flow = consumer.suspend_flow
    flow_control = app.flow_control
    conductor = app.topics
    passes_left = [0]  # messages that may pass before the stream queues are looked at again

    def may_wait() -> bool:
        if suspend_flow.is_set() or not flow_control.is_active():
            passes_left[0] = 0
            return True
        if passes_left[0] > 0:
            passes_left[0] -= 1
            return False
        room = QUEUE_CHECK_EVERY
        for channel in conductor:
            queue = channel.queue
            if queue.maxsize > 0:
                room = min(room, queue.maxsize - queue.qsize())
        if room <= 0:
            return True
        passes_left[0] = room - 1
        return False

    async def wait_first(*coros: Any, timeout: Any = None) -> Any:
        if timeout is not None or len(coros) != 2 or may_wait():
            return await original(*coros, timeout=timeout)
        callback, suspended = coros
        if inspect.iscoroutine(suspended):
            suspended.close()  # never started: nothing to cancel
        result = await callback
        return WaitResults([callback], [result], False)

    consumer.wait_first = wait_first


async def take_ready(
    stream: Any, max_events: int, linger_s: float = 0.0
) -> AsyncGenerator[list[Any], None]:
    """The stream's events in batches of what is ready: wait for one event, give the fetcher
    `linger_s` to hand over more, then take everything queued, up to `max_events`. There is no
    linger when a full batch is already queued, nor when the stream sat idle for `linger_s` or
    longer before its first event came: events that sparse would not fill a batch in the
    linger, and the lone one (an intent after an opt-out, say) would only wait.

    faust's `noack_take` moves each event from the channel's queue into its buffer through the
    stream's per-event iterator (a pass of the event loop, the processors and the sensors per
    event) in a background task, and hands over a batch only when it is full or its window ran
    out: at low rates every intent waited for the window, under load the batch was as large as
    the iterator could fill in the window (about 190 of 500 at 10 ms). Here a batch is whatever
    arrived while the last one was handled and during its linger, so it grows with the load,
    and a backlog is taken in full batches at once. Events are not acknowledged (the agents
    acknowledge through `acks.AckOrder`).

    What faust's iterator does per event is kept: an event fetched in an earlier consumer
    generation, or taken while a rebalance stops the flow, is skipped and acknowledged the way
    faust does (which `acknowledge_only_when` refuses, so it stays a hole read again), and every
    other event is tracked as unacknowledged and counted by the sensors before it is handed on.
    A stream whose channel has no queue (a plain iterable) falls back to `noack_take`."""
    queue = getattr(getattr(stream, "channel", None), "queue", None)
    if queue is None:
        async for events in stream.noack_take(max_events, within=FALLBACK_WINDOW_S):
            yield list(events)
        return
    app = stream.app
    consumer = app.consumer
    flow_control = app.flow_control
    acking_topics = app.topics.acking_topics
    track = consumer.unacked.add
    on_message_in = stream._on_message_in
    on_event_in = stream._on_stream_event_in
    processors = stream._processors  # none in the worker; faust's agent test context adds one
    loop = asyncio.get_running_loop()
    stream._finalized = True
    started_here = await stream.maybe_start()
    try:
        while not stream.should_stop:
            idle_from = loop.time()
            try:
                first = await queue.get()
            except StopAsyncIteration:  # faust stops a stream by throwing this into its queue
                return
            # Let the fetcher hand over more: the rest of its fetch, and with `linger_s` what
            # arrives meanwhile, unless a full batch is already queued or the stream was idle.
            busy = loop.time() - idle_from < linger_s
            await asyncio.sleep(linger_s if busy and queue.qsize() + 1 < max_events else 0)
            ready = [first]
            try:
                while len(ready) < max_events and not queue.empty():
                    ready.append(queue.get_nowait())
            except StopAsyncIteration:
                stopping = True
            else:
                stopping = False
            batch = []
            generation = app.consumer_generation_id
            flowing = flow_control.is_active()
            for event in ready:
                message = event.message
                if not flowing or message.generation_id != generation:
                    event.ack()  # as faust's iterator does; refused, so it is read again
                    continue
                if not message.tracked and message.topic in acking_topics:
                    message.tracked = True
                    track(message)
                    on_message_in(message.tp, message.offset, message)
                on_event_in(message.tp, message.offset, stream, event)
                if processors and not await _processed(processors, event):
                    event.ack()  # a processor skipped it: faust acknowledges it (refused)
                    continue
                batch.append(event)
            if batch:
                stream.events_total += len(batch)
                yield batch
            if stopping:
                return
    finally:
        if started_here:
            await stream.stop()
            stream.service_reset()


async def _processed(processors: Iterable[Any], event: Any) -> bool:
    """Run the stream's processors on the event's value as faust's iterator does, each with the
    event as the current one; False when one of them skips it."""
    from faust.exceptions import Skip
    from mode.utils.futures import maybe_async

    value = event.value
    with processing(event):
        try:
            for processor in processors:
                value = await maybe_async(processor(value))
        except Skip:
            return False
    return True


def tune_fetch(max_wait_ms: int, min_bytes: int = 1) -> None:
    """Make the worker's consumer ask the broker to hold a fetch at most `max_wait_ms`, for
    `min_bytes` to be ready (aiokafka's `fetch_max_wait_ms` and `fetch_min_bytes`).

    faust creates its aiokafka consumer with a fixed `fetch_max_wait_ms=1500`. aiokafka keeps one
    fetch in flight per broker and leaves out of it every partition whose records are still
    waiting to be taken: when a batch is handled for longer than aiokafka's 100 ms prefetch
    backoff, the next fetch covers only partitions with nothing new (the state topics), the
    broker holds it for the full wait, and the intents that arrive meanwhile cannot be fetched
    until it returns. In the bench's fixed-rate phase a worker that fell into this read every
    intent 1.3-1.5 s after its append while its CPU sat half idle (docs/performance.md). A short
    wait bounds that stall; an idle worker then sends a small fetch every `max_wait_ms`.

    `min_bytes` trades latency for CPU: every fetch names every assigned partition and costs the
    worker about a millisecond of Python, and with 1 byte a trickle of records makes a fetch per
    record or two (settings.py, CONSENTGATE_FETCH_MIN_BYTES, has the measurements).
    Idempotent; applies to consumers created afterwards."""
    from faust.transport.drivers import aiokafka as driver

    thread_class: Any = driver.AIOKafkaConsumerThread
    current = thread_class._create_worker_consumer
    original = getattr(current, "_faust_original", current)

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = max_wait_ms  # both read by AIOKafkaConsumer.start
        consumer._fetch_min_bytes = min_bytes
        return consumer

    create_worker_consumer._faust_original = original  # type: ignore[attr-defined]
    thread_class._create_worker_consumer = create_worker_consumer
