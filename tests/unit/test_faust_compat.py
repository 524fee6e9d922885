"""faust internals the gate relies on: fail loudly when an upgrade moves or reshapes them.

Each test names the internal and what the gate does with it (`streams/runtime/faust_compat.py`).
"""

from __future__ import annotations

import asyncio
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


def test_changelog_name_and_partition_paths_are_fausts(tmp_path) -> None:
    # store_check.py reads the store before faust starts, so it must find what faust would open.
    app = faust.App("compat-paths", broker="kafka://127.0.0.1:9", store="rocksdb://",
                    datadir=str(tmp_path))  # fmt: skip
    table = app.Table("recipients", default=None, key_type=bytes, value_type=bytes, partitions=4)
    assert faust_compat.changelog_topic_name(table) == faust_compat.changelog_topic_for(
        "compat-paths", "recipients"
    )
    store: Any = table.data
    store.set_persisted_offset(faust.types.TP(faust_compat.changelog_topic_name(table), 2), 17)
    for db in store._dbs.values():
        db.close()
    paths = faust_compat.table_partition_paths(tmp_path, "recipients")
    assert paths == {2: store.partition_path(2)}
    assert faust_compat.read_persisted_offset(paths[2]) == 17


def _scan_all(table: Any, limit: int) -> list[list[bytes]]:
    slices, cursor = [], None
    while True:
        found, cursor = faust_compat.scan_slice(table, cursor, limit)
        slices.append([key for key, _ in found])
        if cursor is None:
            return slices


def test_a_rocksdb_table_is_scanned_slice_by_slice_over_its_active_partitions(tmp_path) -> None:
    # The delivery reconciler's retention pass: no full copy, no iterator held between slices.
    app = faust.App("compat-scan", broker="kafka://127.0.0.1:9", store="rocksdb://",
                    datadir=str(tmp_path))  # fmt: skip
    table = app.Table("scanned", default=None, key_type=bytes, value_type=bytes, partitions=3)
    for partition, keys in ((0, b"acd"), (1, b"b"), (2, b"ez")):
        faust_compat.write_partition(table, partition, [(bytes([k]), b"v") for k in keys])
    faust_compat.persist_changelog_offset(table, 0, 5)  # faust's offset key lives beside them
    topic = faust_compat.changelog_topic_name(table)
    app.assignor.assigned_actives = lambda: {  # type: ignore[method-assign]
        faust.types.TP(topic, 0),
        faust.types.TP(topic, 2),
    }
    slices = _scan_all(table, 2)
    assert slices == [[b"a", b"c"], [b"d", b"e"], [b"z"]]  # partition 1 is not active here
    assert _scan_all(table, 100) == [[b"a", b"c", b"d", b"e", b"z"]]


def test_a_memory_table_is_scanned_by_sorted_key() -> None:
    app = faust.App("compat-scan-mem", broker="kafka://127.0.0.1:9", store="memory://")
    table = app.Table("scanned", default=None, key_type=bytes, value_type=bytes, partitions=2)
    faust_compat.write_partition(table, 1, [(b"k3", b"3"), (b"k1", b"1"), (b"k2", b"2")])
    assert _scan_all(table, 2) == [[b"k1", b"k2"], [b"k3"]]
    assert faust_compat.scan_slice(table, None, 1)[0] == [(b"k1", b"1")]


def test_recovery_state_reads_a_consumer_that_has_not_started() -> None:
    # /ready reads these without creating faust's consumer or recovery service.
    app = faust.App("compat-health", broker="kafka://127.0.0.1:9", store="memory://")
    assert app._consumer is None
    state = faust_compat.recovery_state(app)
    assert state == faust_compat.RecoveryState(False, False, False, False, 0)
    assert app.consumer is not None  # made, not started: assignment() refuses, not ready
    assert faust_compat.recovery_state(app).started is False
    assert hasattr(app, "rebalancing") and hasattr(app, "in_recovery")
    recovery = app.tables.recovery
    assert hasattr(recovery.completed, "is_set") and app.tables._recovery is recovery


class _Event:
    def __init__(self, is_set: bool) -> None:
        self._set = is_set

    def is_set(self) -> bool:
        return self._set

    async def wait(self) -> None:
        return None


class _Channel:
    def __init__(self, full: bool = False, maxsize: int = 10_000) -> None:
        self.queue: asyncio.Queue[int] = asyncio.Queue(maxsize)
        for _ in range(maxsize if full else 0):
            self.queue.put_nowait(0)


class _FlowControl:
    def __init__(self, active: bool) -> None:
        self.active = active

    def is_active(self) -> bool:
        return self.active


def _drain_app(
    *, suspended: bool = False, active: bool = True, full: bool = False, maxsize: int = 10
) -> Any:
    calls: list[str] = []

    class Consumer:
        suspend_flow = _Event(suspended)

        async def wait_first(self, *coros: Any, timeout: Any = None) -> Any:
            calls.append("faust")
            for coro in coros:
                if hasattr(coro, "close"):
                    coro.close()
            return None

    class App:
        consumer = Consumer()
        flow_control = _FlowControl(active)
        topics = [_Channel(), _Channel(full, maxsize), _Channel(maxsize=0)]  # 0: unbounded

    app = App()
    faust_compat.drain_without_wait_first(app)
    return app, calls


async def test_drain_awaits_the_callback_directly_when_nothing_can_wait() -> None:
    app, calls = _drain_app()
    ran: list[int] = []

    async def callback() -> int:
        ran.append(1)
        return 7

    result = await app.consumer.wait_first(callback(), app.consumer.suspend_flow.wait())
    assert ran == [1] and calls == [] and result.results == [7]


async def test_drain_falls_back_to_faust_when_a_callback_could_wait() -> None:
    for condition in ({"suspended": True}, {"active": False}, {"full": True}):
        app, calls = _drain_app(**condition)

        async def callback() -> None:
            return None

        await app.consumer.wait_first(callback(), app.consumer.suspend_flow.wait())
        assert calls == ["faust"], condition


async def test_drain_never_passes_a_message_to_a_full_queue() -> None:
    # Each callback puts one event, as faust's on_message does: three pass, the fourth meets a
    # full queue and goes through faust's wait_first.
    app, calls = _drain_app(maxsize=3)
    queue = app.topics[1].queue

    async def callback() -> None:
        if not queue.full():
            queue.put_nowait(1)

    for _ in range(3):
        await app.consumer.wait_first(callback(), app.consumer.suspend_flow.wait())
    assert calls == [] and queue.full()
    await app.consumer.wait_first(callback(), app.consumer.suspend_flow.wait())
    assert calls == ["faust"]
    queue.get_nowait()  # room again: looked at again, and passes
    await app.consumer.wait_first(callback(), app.consumer.suspend_flow.wait())
    assert calls == ["faust"]


async def test_drain_looks_at_the_queues_again_within_the_cap() -> None:
    # A queue filled from outside the drain loop is seen within QUEUE_CHECK_EVERY messages.
    every = faust_compat.QUEUE_CHECK_EVERY
    app, calls = _drain_app(maxsize=10 * every)
    queue = app.topics[1].queue

    async def callback() -> None:
        return None

    await app.consumer.wait_first(callback(), app.consumer.suspend_flow.wait())
    while not queue.full():
        queue.put_nowait(1)
    for _ in range(every - 1):
        await app.consumer.wait_first(callback(), app.consumer.suspend_flow.wait())
    assert calls == []
    await app.consumer.wait_first(callback(), app.consumer.suspend_flow.wait())
    assert calls == ["faust"]


async def test_drain_forgets_its_passes_when_the_flow_stops() -> None:
    app, calls = _drain_app(maxsize=100)

    async def callback() -> None:
        return None

    await app.consumer.wait_first(callback(), app.consumer.suspend_flow.wait())
    app.consumer.suspend_flow._set = True
    await app.consumer.wait_first(callback(), app.consumer.suspend_flow.wait())
    app.consumer.suspend_flow._set = False
    while not app.topics[1].queue.full():
        app.topics[1].queue.put_nowait(1)
    await app.consumer.wait_first(callback(), app.consumer.suspend_flow.wait())
    assert calls == ["faust", "faust"]


def test_faust_drain_loop_still_calls_wait_first_on_its_consumer() -> None:
    from faust.transport.consumer import Consumer

    source = inspect.getsource(Consumer._drain_messages)
    assert "self.wait_first(" in source and "suspend_flow.wait()" in source
    assert inspect.getsource(Consumer).count("self.wait_first(") == 1


def test_messages_carry_the_generation_they_were_fetched_in() -> None:
    # acks.py drops acknowledgements of events fetched before the last rebalance.
    from faust.transport.drivers import aiokafka as driver
    from faust.types.tuples import Message

    message = Message("t", 0, 5, 0.0, 0, None, b"k", b"v", None, generation_id=7)
    event = type("Event", (), {"message": message})()
    assert faust_compat.fetched_generation(event) == 7
    # The aiokafka transport stamps every message with the app's generation as it converts it.
    source = inspect.getsource(driver.Consumer._to_message)
    assert "generation_id=self.app.consumer_generation_id" in source
    # and sets that generation on every assignment, before faust's own handling of it.
    assigned = inspect.getsource(driver.ConsumerRebalanceListener.on_partitions_assigned)
    assert "app.consumer_generation_id = generation" in assigned


def test_the_app_knows_its_consumer_generation() -> None:
    app = faust.App("compat-generation", broker="memory://", store="memory://")
    assert faust_compat.consumer_generation(app) == 0
    app.consumer_generation_id = 3
    assert faust_compat.consumer_generation(app) == 3


def test_faust_streams_acknowledge_the_messages_they_skip() -> None:
    # Why acks.py must refuse acknowledgements it did not release: a stream that skips a
    # message (flow stopped for a rebalance, or an earlier generation) still acknowledges it.
    import faust.streams
    from faust.streams import Stream

    source = inspect.getsource(Stream._py_aiter)
    assert "message.generation_id != self.app.consumer_generation_id" in source
    assert "do_ack or value is skipped_value" in source
    assert "last_stream_to_ack = event.ack()" in source  # through Message.ack -> consumer.ack
    # The Cython iterator would bypass the consumer's ack; the gate turns it off.
    assert "if _CStreamIterator is not None:" in inspect.getsource(Stream.__aiter__)
    faust_compat.streams_acknowledge_through_the_consumer()
    assert faust.streams._CStreamIterator is None


def test_a_message_reaches_the_consumer_ack_once_unreferenced() -> None:
    from faust.types.tuples import ConsumerMessage

    calls: list[Any] = []

    class Consumer:
        def ack(self, message: Any) -> bool:
            calls.append(message)
            return True

    consumer = Consumer()
    message = ConsumerMessage("t", 0, 5, 0.0, 0, None, b"k", b"v", None)
    message.refcount = 1
    assert message.ack(consumer) is True
    assert calls == [message]


def test_the_consumer_refuses_acknowledgements_that_were_not_released() -> None:
    acked: list[str] = []

    class Consumer:
        def ack(self, message: str) -> bool:
            acked.append(message)
            return True

    app = type("App", (), {"consumer": Consumer()})()
    releasing, refused = [False], []
    faust_compat.acknowledge_only_when(app, lambda: releasing[0], lambda m: refused.append(1))
    assert app.consumer.ack("skipped") is False
    releasing[0] = True
    assert app.consumer.ack("released") is True
    assert acked == ["released"] and refused == [1]


def test_a_commit_waiting_at_an_unacknowledged_offset_is_found() -> None:
    from collections import defaultdict

    from faust.transport.consumer import Consumer as FaustConsumer

    init = inspect.getsource(FaustConsumer.__init__)
    assert "self._acked = defaultdict(list)" in init
    assert "self._committed_offset = defaultdict(lambda: None)" in init
    # faust's commit stops at a hole at the head of the acknowledged offsets.
    assert "if min(acked) - committed_offset > 1:" in inspect.getsource(FaustConsumer._new_offset)

    assert "self._read_offset = defaultdict(lambda: None)" in init
    assert "set_read_offset(tp, offset)" in inspect.getsource(FaustConsumer._drain_messages)

    class Consumer:
        def __init__(self) -> None:
            self._acked: dict[str, list[int]] = defaultdict(list)
            self._committed_offset: dict[str, int | None] = defaultdict(lambda: None)
            self._read_offset: dict[str, int | None] = defaultdict(lambda: None)
            self.highwaters = {"stuck": 24, "at_end": 24, "sought": 30, "unknown": 9}

        def assignment(self) -> set[str]:
            return {"held", "flowing", "fresh", "empty", "stuck", "at_end", "sought", "unknown"}

        def highwater(self, tp: str) -> int:
            if tp == "unknown":
                raise AssertionError("Partition is not assigned")  # aiokafka, mid-rebalance
            return self.highwaters.get(tp, -1)

    consumer = Consumer()
    consumer._committed_offset.update(held=10, flowing=10, gone=3, empty=4)
    consumer._acked.update(held=[12, 13], flowing=[10, 11], fresh=[5], gone=[9], empty=[])
    # stuck: offset 23 was read (fetched before a rebalance, skipped) and nothing after it
    # exists to acknowledge; at_end: everything read and committed; sought: moved back to 20,
    # reads the same as stuck until its record arrives (the caller waits before calling it one)
    consumer._committed_offset.update(stuck=23, at_end=24, sought=20, unknown=5)
    consumer._read_offset.update(stuck=23, at_end=23, sought=20, unknown=5)
    heads = faust_compat.unacknowledged_heads(consumer)
    assert heads == {"held": 10, "stuck": 23, "sought": 20}
    assert "fresh" not in consumer._committed_offset  # looked up without creating entries


async def test_reading_again_pauses_seeks_and_resumes(monkeypatch: Any) -> None:
    from faust.transport.consumer import Consumer as FaustConsumer

    # faust's fetch loop yields no record of a partition it no longer counts as active.
    getmany = inspect.getsource(FaustConsumer.getmany)
    assert "or tp in active_partitions" in getmany
    assert "self._get_active_partitions().difference_update(tpset)" in inspect.getsource(
        FaustConsumer.pause_partitions
    )
    # seek_wait seeks in the consumer's thread and moves faust's read offset; plain seek does
    # not do the first (a race with aiokafka's fetcher).
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    assert "call_thread(self._seek_wait" in inspect.getsource(AIOKafkaConsumerThread.seek_wait)
    assert "_read_offset[tp] = offset" in inspect.getsource(AIOKafkaConsumerThread._seek_wait)
    assert "self._ensure_consumer().seek(" in inspect.getsource(AIOKafkaConsumerThread.seek)
    monkeypatch.setattr(faust_compat, "READ_AGAIN_SETTLE_S", 0)
    from collections import namedtuple

    from faust.types import TP

    calls: list[tuple[str, Any]] = []
    t0, t9 = TP("t", 0), TP("t", 9)
    DriverTP = namedtuple("DriverTP", "topic partition")  # as aiokafka's TopicPartition

    class Consumer:
        def __init__(self) -> None:
            self._paused_partitions: set[TP] = {t9}

        def assignment(self) -> set[TP]:
            return {t0, t9}

        def pause_partitions(self, tps: list[str]) -> None:
            calls.append(("pause", tps))

        def resume_partitions(self, tps: list[str]) -> None:
            calls.append(("resume", tps))

        async def seek_wait(self, partitions: dict[TP, int]) -> None:
            calls.append(("seek", next(iter(partitions.items()))))

    consumer = Consumer()
    assert await faust_compat.read_again_from(consumer, DriverTP("t", 0), 42) is True
    assert calls == [("pause", [t0]), ("seek", (t0, 42)), ("resume", [t0])]
    # faust's own sets accept only its TP type (pause_partitions asserts it).
    assert all(type(tp) is TP for _, arg in calls for tp in (arg if isinstance(arg, list) else []))
    calls.clear()
    assert await faust_compat.read_again_from(consumer, t9, 1) is False  # paused by faust
    assert await faust_compat.read_again_from(consumer, TP("gone", 0), 1) is False
    assert calls == []


async def test_gaps_are_counted_as_done_only_on_the_topics_named() -> None:
    from faust.transport.consumer import Consumer as FaustConsumer

    drain = inspect.getsource(FaustConsumer._drain_messages)
    assert "await self._add_gap(tp, r_offset + 1, offset)" in drain  # looked up on each call
    assert "gap_for_tp.addi(offset_from, offset_to + 1)" in inspect.getsource(
        FaustConsumer._add_gap
    )
    added: list[tuple[str, int, int]] = []
    refused: list[tuple[str, int, int]] = []

    class Consumer:
        async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
            added.append((tp.topic, offset_from, offset_to))

    app = type("App", (), {"consumer": Consumer()})()
    faust_compat.gaps_only_in(
        app, {"p.partner-agreements"}, lambda tp, a, b: refused.append((tp.topic, a, b))
    )
    tp = type("TP", (), {"topic": "p.partner-agreements", "partition": 0})()
    intents = type("TP", (), {"topic": "p.send-intents", "partition": 0})()
    await app.consumer._add_gap(tp, 5, 9)
    await app.consumer._add_gap(intents, 433, 761)
    assert added == [("p.partner-agreements", 5, 9)]
    assert refused == [("p.send-intents", 433, 761)]


def test_the_commit_stops_at_a_one_offset_hole() -> None:
    from collections import defaultdict

    from faust.transport.consumer import Consumer as FaustConsumer

    # faust's _filter_committable_offsets asks _new_offset per partition, on the instance.
    assert "offset = self._new_offset(tp)" in inspect.getsource(
        FaustConsumer._filter_committable_offsets
    )
    TPx = type("TPx", (tuple,), {"topic": property(lambda self: self[0])})
    intents, partner = TPx(("p.send-intents", 0)), TPx(("p.partner-agreements", 0))

    fresh, revoked = TPx(("p.optout-events", 1)), TPx(("p.send-intents", 5))

    class Consumer:
        def __init__(self) -> None:
            self._acked: dict[Any, list[int]] = defaultdict(list)
            self._committed_offset: dict[Any, int | None] = defaultdict(lambda: None)

        def _new_offset(self, tp: Any) -> int | None:  # faust's: passes a one-offset hole
            acked = self._acked[tp]
            return max(acked) + 1 if acked else None

        def assignment(self) -> set[Any]:
            return {intents, partner, fresh}

    consumer = Consumer()
    app = type("App", (), {"consumer": consumer})()
    faust_compat.commit_no_hole(app, {"p.partner-agreements"}, lambda tp, c: 10**9, print)
    consumer._committed_offset.update({intents: 976, partner: 976, revoked: 3})
    consumer._acked.update({intents: [977, 978], partner: [977, 978], fresh: [211, 212]})
    consumer._acked[revoked] = [3, 4]  # acknowledged late, after its revocation
    assert consumer._new_offset(intents) is None  # 976 was never acknowledged
    assert consumer._new_offset(partner) == 979  # compacted: faust's own rule
    consumer._acked[intents].insert(0, 976)
    assert consumer._new_offset(intents) == 979
    # no committed offset known (before faust's seek, or never committed): no commit at all,
    # until know_committed gives the group's beginning; a partition no longer assigned: none
    assert consumer._new_offset(fresh) is None
    assert consumer._new_offset(revoked) is None
    faust_compat.know_committed(consumer, {("p.optout-events", 1): 201})
    assert consumer._committed_offset[fresh] == 201
    assert consumer._new_offset(fresh) is None  # 201-210 were never acknowledged
    faust_compat.know_committed(consumer, {("p.optout-events", 1): 0})  # never replaces one
    assert consumer._committed_offset[fresh] == 201


def test_the_commit_never_passes_what_the_gate_released() -> None:
    """faust's bookkeeping says 976-999 are acknowledged; the gate released only 976-980:
    the commit stops at 981, says so, and the partner topic (compacted) keeps faust's rule."""
    from collections import defaultdict

    from streams.runtime.ordering import AppliedPositions

    TPx = type("TPx", (tuple,), {"topic": property(lambda self: self[0])})
    intents, partner = TPx(("p.send-intents", 0)), TPx(("p.partner-agreements", 0))

    class Consumer:
        def __init__(self) -> None:
            self._acked: dict[Any, list[int]] = defaultdict(list)
            self._acked_index: dict[Any, set[int]] = defaultdict(set)
            self._gap: dict[Any, Any] = {}
            self._committed_offset: dict[Any, int | None] = defaultdict(lambda: None)

        def _new_offset(self, tp: Any) -> int | None:
            acked = self._acked[tp]
            return max(acked) + 1 if acked else None

        def assignment(self) -> set[Any]:
            return {intents, partner}

    consumer = Consumer()
    app = type("App", (), {"consumer": consumer})()
    released = AppliedPositions()
    clamped: list[tuple[Any, int, int]] = []
    faust_compat.commit_no_hole(
        app, {"p.partner-agreements"}, released.at_least, lambda *a: clamped.append(a)
    )
    consumer._committed_offset.update({intents: 976, partner: 976})
    consumer._acked[intents] = list(range(976, 1000))
    consumer._acked_index[intents] = set(range(976, 1000))
    consumer._acked[partner] = list(range(976, 1000))
    for offset in range(976, 981):
        released.advance(intents, offset)
    assert consumer._new_offset(intents) == 981
    assert clamped == [(intents, 1000, 981)]
    assert consumer._new_offset(partner) == 1000
    # Nothing released past the committed offset: no commit at all.
    consumer._committed_offset[intents] = 981
    assert consumer._new_offset(intents) is None
    # The record at the ceiling, uncounted, can be acknowledged again.
    faust_compat.uncount(consumer, intents, 981)
    assert 981 not in consumer._acked_index[intents]
    assert 981 not in consumer._acked[intents]


def test_a_new_assignment_forgets_faust_bookkeeping_of_its_partitions() -> None:
    TPx = type("TPx", (tuple,), {"topic": property(lambda self: self[0])})
    kept, other = TPx(("p.send-intents", 1)), TPx(("p.send-intents", 2))
    consumer = type("C", (), {})()
    consumer._acked = {kept: [226, 227], other: [5]}
    consumer._acked_index = {kept: {226, 227}, other: {5}}
    consumer._gap = {kept: object()}
    faust_compat.forget_bookkeeping(consumer, [kept])
    assert kept not in consumer._acked and kept not in consumer._acked_index
    assert kept not in consumer._gap
    assert consumer._acked == {other: [5]}


# -- take_ready: batches of what is ready, without faust's per-event iterator -----------------


def _take_app(name: str) -> tuple[Any, Any, Any]:
    app = faust.App(f"compat-take-{name}", broker="kafka://127.0.0.1:9", store="memory://")
    app.flow_control.resume()  # as the worker does once recovered
    stream = app.stream(app.channel())
    return app, stream.channel, stream  # the stream iterates a clone: its queue is the one read


def _queued(app: Any, channel: Any, offset: int, *, topic: str = "t", generation: Any = ...) -> Any:
    from faust.types.tuples import ConsumerMessage

    if generation is ...:
        generation = app.consumer_generation_id
    message = ConsumerMessage(topic, 0, offset, 0.0, 0, None, b"k", b"%d" % offset, None,
                      generation_id=generation)  # fmt: skip
    message.refcount = 1
    event = faust.Event(app, b"k", message.value, {}, message)
    channel.queue.put_nowait(event)
    return event


async def _batches(stream: Any, max_events: int, count: int) -> list[list[int]]:
    """The offsets of the next `count` batches."""
    taken = faust_compat.take_ready(stream, max_events)
    out = [[event.message.offset for event in await anext(taken)] for _ in range(count)]
    await taken.aclose()
    return out


async def test_a_batch_is_what_was_queued_and_the_next_one_does_not_wait_to_fill() -> None:
    app, channel, stream = _take_app("ready")
    for offset in range(3):
        _queued(app, channel, offset)
    taken = faust_compat.take_ready(stream, 500)
    assert [e.message.offset for e in await anext(taken)] == [0, 1, 2]
    _queued(app, channel, 3)
    _queued(app, channel, 4)
    # Two events queued, 500 allowed: handed over at once, no window to wait out.
    batch = await asyncio.wait_for(anext(taken), timeout=30)
    assert [e.message.offset for e in batch] == [3, 4]
    await taken.aclose()


async def test_a_batch_holds_at_most_max_events() -> None:
    app, channel, stream = _take_app("max")
    for offset in range(5):
        _queued(app, channel, offset)
    assert await _batches(stream, 2, 3) == [[0, 1], [2, 3], [4]]


async def test_events_of_an_old_generation_or_a_stopped_flow_are_skipped_as_faust_does() -> None:
    app, channel, stream = _take_app("skip")
    acked: list[int] = []

    def refuse(message: Any) -> bool:
        acked.append(message.offset)
        return False

    app.consumer.ack = refuse
    stale = _queued(app, channel, 0, generation=app.consumer_generation_id + 1)
    _queued(app, channel, 1)
    assert await _batches(stream, 10, 1) == [[1]]
    assert acked == [0] and not stale.message.tracked  # acknowledged (and refused), never tracked

    app.flow_control.suspend()  # a rebalance stops the flow: what is queued is skipped
    _queued(app, channel, 2)
    _queued(app, channel, 3)
    taken = faust_compat.take_ready(stream, 10)
    first = asyncio.ensure_future(anext(taken))
    await asyncio.sleep(0.05)
    app.flow_control.resume()
    _queued(app, channel, 4)
    assert [e.message.offset for e in await asyncio.wait_for(first, timeout=30)] == [4]
    assert acked == [0, 2, 3]
    await taken.aclose()


async def test_events_of_acking_topics_are_tracked_as_unacknowledged_and_counted() -> None:
    app, channel, stream = _take_app("track")
    app.topics.acking_topics.add("t")
    counted: list[int] = []
    stream._on_stream_event_in = lambda tp, offset, s, e: counted.append(offset)
    mine = _queued(app, channel, 0)
    other = _queued(app, channel, 1, topic="elsewhere")
    assert await _batches(stream, 10, 1) == [[0, 1]]
    assert mine.message.tracked and mine.message in app.consumer.unacked
    assert not other.message.tracked and other.message not in app.consumer.unacked
    assert counted == [0, 1]


async def test_the_streams_processors_run_and_may_skip_an_event() -> None:
    from faust.exceptions import Skip

    app, channel, stream = _take_app("processors")
    seen: list[bytes] = []

    def processor(value: bytes) -> bytes:
        seen.append(value)
        if value == b"1":
            raise Skip()
        return value

    stream.add_processor(processor)
    for offset in range(3):
        _queued(app, channel, offset)
    assert await _batches(stream, 10, 1) == [[0, 2]]
    assert seen == [b"0", b"1", b"2"]


async def test_the_iteration_ends_when_faust_stops_the_stream() -> None:
    # faust stops a stream by throwing StopAsyncIteration into its queue: while waiting...
    app, channel, stream = _take_app("stop-waiting")
    taken = faust_compat.take_ready(stream, 10)
    waiting = asyncio.ensure_future(anext(taken))
    await asyncio.sleep(0.05)
    channel.queue._throw(StopAsyncIteration())
    try:
        await asyncio.wait_for(waiting, timeout=30)
        raise AssertionError("a batch after the stop")
    except StopAsyncIteration:
        pass
    # ...or with events queued: faust's queue raises it before them, and they stay unacknowledged
    # (read again by whoever has the partition next).
    app, channel, stream = _take_app("stop-queued")
    _queued(app, channel, 0)
    _queued(app, channel, 1)
    channel.queue._throw(StopAsyncIteration())
    batches = [
        [e.message.offset for e in batch] async for batch in faust_compat.take_ready(stream, 10)
    ]
    assert batches == []


async def test_a_stream_without_a_queue_falls_back_to_faust_take() -> None:
    class Stream:
        async def noack_take(self, size: int, within: float) -> Any:
            yield ["a", "b"]

    taken = faust_compat.take_ready(Stream(), 5)
    assert await anext(taken) == ["a", "b"]


def test_faust_iterator_still_does_per_event_what_take_ready_repeats() -> None:
    # take_ready repeats what faust's stream iterator does with each event before handing it on;
    # when that changes, take_ready must be checked against it.
    from faust.streams import Stream

    source = inspect.getsource(Stream._py_aiter)
    for step in (
        "not self.app.flow_control.is_active()",
        "message.generation_id != self.app.consumer_generation_id",
        "if topic in acking_topics and not message.tracked:",
        "add_unacked(message)",
        "on_message_in(message.tp, message.offset, message)",
        "sensor_state = on_stream_event_in(tp, offset, self, event)",
        "for processor in processors:",
        "except Skip:",
    ):
        assert step in source, step
    assert "unacked: Set[Message] = consumer.unacked" in source


async def test_a_batch_lingers_for_what_arrives_after_its_first_event() -> None:
    app, channel, stream = _take_app("linger")
    taken = faust_compat.take_ready(stream, 10, linger_s=0.2)
    _queued(app, channel, 0)
    first = asyncio.ensure_future(anext(taken))
    await asyncio.sleep(0.05)  # the batch has its first event and lingers
    _queued(app, channel, 1)
    assert [e.message.offset for e in await asyncio.wait_for(first, timeout=30)] == [0, 1]
    await taken.aclose()


async def test_a_first_event_after_an_idle_spell_is_handed_over_without_lingering() -> None:
    app, channel, stream = _take_app("idle")
    taken = faust_compat.take_ready(stream, 10, linger_s=0.5)
    first = asyncio.ensure_future(anext(taken))
    await asyncio.sleep(0.6)  # idle for longer than the linger
    _queued(app, channel, 0)
    await asyncio.sleep(0.2)  # within the linger, had it lingered
    _queued(app, channel, 1)
    assert [e.message.offset for e in await asyncio.wait_for(first, timeout=30)] == [0]
    # Event 1 was queued while batch 0 was handled: the stream is busy, so this one lingers.
    second = asyncio.ensure_future(anext(taken))
    await asyncio.sleep(0.1)
    _queued(app, channel, 2)
    assert [e.message.offset for e in await asyncio.wait_for(second, timeout=30)] == [1, 2]
    await taken.aclose()


async def test_the_worker_consumer_holds_a_fetch_at_most_the_bounded_wait() -> None:
    app = faust.App("compat-fetch-wait", broker="kafka://127.0.0.1:9", store="memory://")
    thread = app.consumer._thread
    create = type(thread)._create_worker_consumer
    faust_own = getattr(create, "_faust_original", create)  # another test may have tuned it
    faust_made = faust_own(thread, app.transport)
    assert (faust_made._fetch_max_wait_ms, faust_made._fetch_min_bytes) == (1500, 1)
    faust_compat.tune_fetch(50, 65536)
    faust_compat.tune_fetch(40, 4096)  # idempotent: wraps faust's own, not itself
    consumer = thread._create_worker_consumer(app.transport)
    assert (consumer._fetch_max_wait_ms, consumer._fetch_min_bytes) == (40, 4096)
    assert consumer._group_id == "compat-fetch-wait"  # still faust's consumer, configured by it


def test_aiokafka_starts_its_fetcher_with_the_consumer_fetch_wait_and_size() -> None:
    import inspect

    from aiokafka import AIOKafkaConsumer

    start = inspect.getsource(AIOKafkaConsumer.start)
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in start
    assert "fetch_min_bytes=self._fetch_min_bytes" in start


def test_guards_go_on_the_consumer_when_faust_creates_it() -> None:
    # faust creates the consumer lazily in `App.consumer` through `App._new_consumer`, and
    # starts app tasks only once table recovery is done (too late for a guard: its fetcher
    # delivers stream records during recovery).
    from faust.app.base import App as FaustApp

    assert "self._consumer = self._new_consumer()" in inspect.getsource(
        FaustApp.consumer.fget  # type: ignore[attr-defined]
    )
    on_started = inspect.getsource(FaustApp.on_started)
    assert on_started.index("_wait_for_table_recovery_completed") < on_started.index(
        "on_started_init_extra_tasks"
    )
    app = faust.App("compat-created", broker="kafka://127.0.0.1:9", store="memory://")
    seen: list[Any] = []
    faust_compat.on_consumer_created(app, lambda: seen.append(app.consumer))
    assert seen == []  # no consumer yet
    consumer = app.consumer
    assert seen == [consumer] and app.consumer is consumer  # installed once, on that consumer
    later: list[Any] = []
    faust_compat.on_consumer_created(app, lambda: later.append(app.consumer))
    assert later == [consumer]  # a consumer already there: at once
