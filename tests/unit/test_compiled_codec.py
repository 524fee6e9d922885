"""The compiled Avro readers and writers against fastavro and the codec's strict checks.

The fast path may refuse what fastavro's path accepts (the codec then takes fastavro's path); it
must never accept what that path refuses, nor read or write anything else. Both halves are held
here with records generated from every schema we ship (and a synthetic one that nests), and with
mutated bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.serdes.codec import WireCodec
from streams.serdes.compiled import Refused, Unsupported, compile_reader, compile_writer
from streams.serdes.schemas import SCHEMA_NAMES, load_history, load_schemas
from tests.builders import mock_codec

NESTED: dict[str, Any] = {
    "type": "record",
    "name": "Outer",
    "fields": [
        {
            "name": "rows",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Row",
                    "fields": [
                        {"name": "n", "type": "int"},
                        {"name": "tags", "type": {"type": "map", "values": ["null", "long"]}},
                    ],
                },
            },
        },
        {"name": "blob", "type": ["null", "bytes"]},
        {"name": "lists", "type": {"type": "array", "items": {"type": "array", "items": "string"}}},
        {"name": "flag", "type": "boolean"},
        {"name": "nothing", "type": "null"},
    ],
}

SCHEMAS: dict[str, dict[str, Any]] = {
    **{name: parsed.raw for name, parsed in load_schemas().items()},
    **{name: parsed.raw for name, parsed in load_history().items()},
    "nested": NESTED,
}
PARSED = {name: parse_schema(raw, named_schemas={}) for name, raw in SCHEMAS.items()}
READERS = {name: compile_reader(raw) for name, raw in SCHEMAS.items()}
WRITERS = {name: compile_writer(raw) for name, raw in SCHEMAS.items()}

LONGS = st.integers(-(2**63), 2**63 - 1)
# aware instants in several offsets, whole milliseconds or not, within fastavro's range
INSTANTS = st.builds(
    lambda dt, minutes: dt.replace(tzinfo=UTC).astimezone(timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(-14 * 60, 14 * 60),
)


def values_of(t: Any) -> st.SearchStrategy[Any]:
    """Values that fit Avro type `t`."""
    if isinstance(t, list):
        return st.one_of(*(values_of(branch) for branch in t))
    if isinstance(t, str):
        return {
            "null": st.none(),
            "boolean": st.booleans(),
            "int": st.integers(-(2**31), 2**31 - 1),
            "long": LONGS,
            "string": st.text(max_size=40),
            "bytes": st.binary(max_size=40),
        }[t]
    kind = t["type"]
    if t.get("logicalType") == "timestamp-millis":
        return st.one_of(INSTANTS, st.integers(-(2**40), 2**40))
    if kind == "array":
        return st.lists(values_of(t["items"]), max_size=4)
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), values_of(t["values"]), max_size=4)
    if kind == "record":
        return st.fixed_dictionaries({f["name"]: values_of(f["type"]) for f in t["fields"]})
    return values_of(kind)


HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=4),
    st.binary(max_size=4),
    st.datetimes(),
    st.lists(st.integers(), max_size=2),
    st.tuples(st.text(max_size=2)),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


def maybe_hostile(t: Any) -> st.SearchStrategy[Any]:
    """Records of `t` where one field may hold a value of the wrong type, and one may be
    missing, one extra, or both."""
    return st.builds(
        _reshape,
        values_of(t),
        st.none() | st.tuples(st.integers(0, len(t["fields"]) - 1), HOSTILE),
        st.sampled_from(["keep", "drop", "extra", "swap"]),
        st.integers(0, len(t["fields"]) - 1),
    )


def _reshape(
    record: dict[str, Any], wrong: tuple[int, Any] | None, how: str, which: int
) -> dict[str, Any]:
    record = dict(record)
    if wrong is not None:
        record[list(record)[wrong[0]]] = wrong[1]
    if how in ("drop", "swap"):
        record.pop(list(record)[which])
    if how in ("extra", "swap"):
        record["not_in_schema"] = 1
    return record


def fastavro_bytes(name: str, record: Any) -> bytes | None:
    """What `WireCodec.encode` writes for a record (None: fastavro refuses it)."""
    out = io.BytesIO()
    try:
        schemaless_writer(out, PARSED[name], record, strict_allow_default=True)
    except Exception:
        return None
    return out.getvalue()


def fast_bytes(name: str, record: Any) -> bytes | None:
    out = bytearray()
    try:
        WRITERS[name](record, out)
    except Exception:
        return None
    return bytes(out)


def strict_read(name: str, body: bytes) -> Any:
    """What the codec's full path accepts: fastavro's read, every byte used, 32-bit ints, and
    the value re-encoding to the very same bytes. Raises otherwise."""
    fo = io.BytesIO(body)
    value = schemaless_reader(fo, PARSED[name], None)
    if fo.tell() != len(body):
        raise ValueError("trailing bytes")
    _check_ints(SCHEMAS[name], value)
    out = io.BytesIO()
    schemaless_writer(out, PARSED[name], value)
    if out.getvalue() != body:
        raise ValueError("not canonical")
    return value


def _check_ints(t: Any, v: Any) -> None:
    if t == "int" and not -(2**31) <= v <= 2**31 - 1:
        raise ValueError("int beyond 32 bits")
    if isinstance(t, list) and v is not None:
        _check_ints(t[1], v)
    if isinstance(t, dict):
        if t["type"] == "record":
            for f in t["fields"]:
                _check_ints(f["type"], v[f["name"]])
        elif t["type"] == "array":
            for x in v:
                _check_ints(t["items"], x)
        elif t["type"] == "map":
            for x in v.values():
                _check_ints(t["values"], x)


NAMES = sorted(SCHEMAS)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _per_schema(build: Callable[[str], st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    return st.sampled_from(NAMES).flatmap(lambda name: build(name).map(lambda v: (name, v)))


# ---------------------------------------------------------------------------------- writing


@SETTINGS
@given(_per_schema(lambda name: values_of(SCHEMAS[name])))
def test_a_valid_record_is_written_by_the_fast_path_exactly_as_fastavro_writes_it(
    case: tuple[str, Any],
) -> None:
    name, record = case
    expected = fastavro_bytes(name, record)
    assert expected is not None
    assert fast_bytes(name, record) == expected


@SETTINGS
@given(_per_schema(lambda name: maybe_hostile(SCHEMAS[name])))
def test_the_fast_writer_never_writes_what_fastavro_would_not_write_the_same(
    case: tuple[str, Any],
) -> None:
    name, record = case
    written = fast_bytes(name, record)
    if written is not None:
        assert written == fastavro_bytes(name, record)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", None),  # a required string given null
        ("id", b"m-1"),  # bytes for a string
        ("id", 7),
        ("decided_at", datetime(2026, 6, 1, 16, 0)),  # naive: fastavro reads the machine's zone
        ("decided_at", "2026-06-01T16:00:00Z"),  # text: the codec's check converts it first
        ("decided_at", 1.5),
        ("reasons", "NO_CONSENT"),  # a string iterates as characters: not a list
        ("channel", True),
    ],
)
def test_the_fast_writer_refuses_a_value_of_the_wrong_type(field: str, value: Any) -> None:
    record = {f["name"]: f.get("default") for f in SCHEMAS["verdict"]["fields"]}
    record.update(
        id="m-1", decision="deny", reason="NO_CONSENT", reasons=["NO_CONSENT"],
        policy_version="p", decided_at=datetime(2026, 6, 1, tzinfo=UTC), rules_evaluated=[],
    )  # fmt: skip
    assert fast_bytes("verdict", record) is not None
    record[field] = value
    with pytest.raises(Refused):
        WRITERS["verdict"](record, bytearray())


def test_a_missing_or_extra_field_is_left_to_fastavro() -> None:
    record = {"n": 1, "tags": {}}
    outer = {"rows": [record], "blob": None, "lists": [], "flag": True, "nothing": None}
    assert fast_bytes("nested", outer) is not None
    with pytest.raises(Refused):
        WRITERS["nested"]({**outer, "extra": 1}, bytearray())
    with pytest.raises((Refused, KeyError)):
        WRITERS["nested"]({k: v for k, v in outer.items() if k != "flag"} | {"x": 1}, bytearray())
    with pytest.raises(Refused):
        WRITERS["nested"]({**outer, "rows": [{"n": 2**31, "tags": {}}]}, bytearray())


# ---------------------------------------------------------------------------------- reading


@SETTINGS
@given(_per_schema(lambda name: values_of(SCHEMAS[name])))
def test_the_fast_reader_reads_what_fastavro_wrote_to_the_same_value(
    case: tuple[str, Any],
) -> None:
    name, record = case
    body = fastavro_bytes(name, record)
    assert body is not None
    assert READERS[name](b"\0" + body, 1) == strict_read(name, body)


def _mutate(body: bytes, data: st.DataObject) -> bytes:
    how = data.draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "append"]))
    at = data.draw(st.integers(0, max(0, len(body) - 1)))
    byte = data.draw(st.integers(0, 255))
    if how == "flip" and body:
        return body[:at] + bytes([body[at] ^ (1 << data.draw(st.integers(0, 7)))]) + body[at + 1 :]
    if how == "set" and body:
        return body[:at] + bytes([byte]) + body[at + 1 :]
    if how == "insert":
        return body[:at] + bytes([byte]) + body[at:]
    if how == "delete" and body:
        return body[:at] + body[at + 1 :]
    if how == "truncate":
        return body[:at]
    return body + bytes([byte])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(NAMES), st.data())
def test_the_fast_reader_accepts_no_bytes_the_strict_path_refuses(
    name: str, data: st.DataObject
) -> None:
    body = fastavro_bytes(name, data.draw(values_of(SCHEMAS[name])))
    assert body is not None
    for _ in range(data.draw(st.integers(1, 3))):
        body = _mutate(body, data)
    try:
        fast = READERS[name](body, 0)
    except Exception:
        return  # refused: the codec takes the strict path, which decides
    assert fast == strict_read(name, body)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(NAMES), st.binary(max_size=64))
def test_the_fast_reader_accepts_no_random_bytes_the_strict_path_refuses(
    name: str, body: bytes
) -> None:
    try:
        fast = READERS[name](body, 0)
    except Exception:
        return
    assert fast == strict_read(name, body)


MINIMAL = b"\x00\x00\x00\x01"  # rows [], blob null, lists [], flag true


@pytest.mark.parametrize(
    ("why", "body"),
    [
        ("negative union index: fastavro reads the last branch", b"\x00\x01\x02x\x00\x01"),
        ("over-long varint for a count", b"\x80\x00" + MINIMAL[1:]),
        ("boolean 2", b"\x00\x00\x00\x02"),
        ("negative block count: a sized block", b"\x01\x04\x02\x00\x00" + MINIMAL[1:]),
        ("two blocks", b"\x00\x00\x02\x02\x02x\x00\x02\x02\x02y\x00\x00\x01"),
        ("duplicate map key", b"\x02\x02\x04\x02a\x02\x0a\x02a\x02\x0c\x00\x00" + MINIMAL[1:]),
        ("int beyond 32 bits", b"\x02\x80\x80\x80\x80\x10\x00\x00" + MINIMAL[1:]),
        ("invalid UTF-8", b"\x00\x00\x02\x02\x04\xc3\x28\x00\x00\x01"),
        ("trailing byte", MINIMAL + b"\x00"),
        ("truncated", MINIMAL[:-1]),
    ],
)
def test_hostile_bytes_are_refused_by_both_paths(why: str, body: bytes) -> None:
    assert fastavro_bytes("nested", {"rows": [], "blob": None, "lists": [], "flag": True,
                                     "nothing": None}) == MINIMAL  # fmt: skip
    with pytest.raises(Exception):  # noqa: B017 - any refusal sends the codec to the strict path
        READERS["nested"](body, 0)
    with pytest.raises(Exception):  # noqa: B017
        strict_read("nested", body)


def test_the_canonical_forms_of_those_cases_are_read() -> None:
    for record in (
        {"rows": [], "blob": b"x", "lists": [], "flag": True, "nothing": None},
        {"rows": [], "blob": None, "lists": [["x"], ["y"]], "flag": True, "nothing": None},
        {"rows": [{"n": 2**31 - 1, "tags": {"a": 5, "b": 6}}], "blob": None, "lists": [["é"]],
         "flag": False, "nothing": None},
    ):  # fmt: skip
        body = fastavro_bytes("nested", record)
        assert body is not None
        assert READERS["nested"](body, 0) == record == strict_read("nested", body)


# ---------------------------------------------------------------------------------- coverage


def test_every_schema_we_ship_is_compiled() -> None:
    """A schema change outside the vocabulary would silently cost the fast path: say so here."""
    codec = mock_codec()
    for name in SCHEMA_NAMES:
        parsed = codec.schemas[name]
        assert parsed.fast_read is not None, name
        assert parsed.fast_write is not None, name


def _one_field(field_type: Any) -> dict[str, Any]:
    return {"type": "record", "name": "R", "fields": [{"name": "f", "type": field_type}]}


@pytest.mark.parametrize(
    "schema",
    [
        _one_field({"type": "enum", "name": "K", "symbols": ["A"]}),
        _one_field("double"),
        _one_field(["null", "string", "long"]),
        _one_field(["string", "null"]),
        _one_field({"type": "int", "logicalType": "date"}),
        _one_field("io.consentgate.Named"),
    ],
)
def test_what_the_compiler_does_not_handle_is_left_to_fastavro(schema: dict[str, Any]) -> None:
    with pytest.raises(Unsupported):
        compile_reader(schema)
    with pytest.raises(Unsupported):
        compile_writer(schema)


def test_the_gate_reads_and_writes_the_bench_workload_without_fastavro(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every intent and state record of the bench workload is read, and every verdict, violation
    and dead letter the gate writes for it is written, by the compiled path: a fallback would
    cost the failed attempt on top of fastavro's."""
    import streams.serdes.codec as codec_module
    from connectors.producer import record_key, wire_record
    from streams import topics
    from streams.devtools.workload import Clock, consent_records, intent_records, make_recipients
    from streams.metrics import GateMetrics
    from streams.policy.config import PolicyConfig
    from streams.policy.state import Agreements
    from streams.runtime.gate import Gate, Inbound
    from streams.runtime.ordering import HoldResult
    from streams.runtime.statestore import MappingStore

    codec: WireCodec = mock_codec()
    people = make_recipients(300)
    clock = Clock()
    states = [
        (topics.TOPIC_OF_RECORD_TYPE[r["type"]], record_key(r).encode(), wire_record(r))
        for r in consent_records(people, clock)
    ]
    intents = [(record_key(r).encode(), wire_record(r)) for r in intent_records(people, 400, clock)]
    encoded_states = [(spec, key, codec.encode(spec, rec)) for spec, key, rec in states]
    encoded_intents = [(key, codec.encode(topics.INTENTS, rec)) for key, rec in intents]

    sent: list[tuple[str, bytes]] = []

    class Outputs:
        def send(
            self, spec: Any, key: Any, value: bytes, on_ack: Any = None, headers: Any = None
        ) -> None:
            sent.append((spec.base, value))

    class Current:
        current = Agreements()

    gate = Gate(
        codec=codec, store=MappingStore({}), agreements=Current(), outputs=Outputs(),  # type: ignore[arg-type]
        metrics=GateMetrics(), config=PolicyConfig(),
        names={spec.base: spec.base for spec in topics.ALL},
    )  # fmt: skip

    def no_fastavro(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("fastavro's path was taken")

    monkeypatch.setattr(codec_module, "schemaless_reader", no_fastavro)
    monkeypatch.setattr(codec_module, "schemaless_writer", no_fastavro)
    for n, (spec, key, value) in enumerate(encoded_states):
        gate.apply_state_record(spec, Inbound(spec.base, 0, n, key, value, 0.0))
    sent.clear()
    hold = HoldResult(caught_up=True, waited_s=0.0)
    for n, (key, value) in enumerate(encoded_intents):
        gate.decide_intent(Inbound(topics.INTENTS.base, 0, n, key, value, 0.0), hold)
    monkeypatch.undo()

    kinds = {base for base, _ in sent}
    assert {"verdicts", "violations", "dead-letters"} <= kinds
    assert sum(base == "verdicts" for base, _ in sent) == len(intents)
    # and what the fast path wrote is what fastavro reads
    by_base = {spec.base: spec for spec in topics.ALL}
    for base, value in sent:
        parsed = codec.schema_for(by_base[base])
        assert parsed.fast_read is not None
        expected = schemaless_reader(io.BytesIO(value[5:]), parsed.parsed, None)
        assert parsed.fast_read(value, 5) == expected


def test_a_writer_schema_from_the_registry_is_never_compiled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Code is generated from our own schema files only: another producer's version, even a
    harmless one, is read by fastavro and resolved to ours."""
    from confluent_kafka.schema_registry import Schema

    import streams.serdes.schemas as schemas_module
    from streams import topics

    compiled: list[str] = []
    real = schemas_module._compiled

    def spy(text: str) -> Any:
        compiled.append(text)
        return real(text)

    codec = mock_codec()
    older = load_history()["intent.v1"]
    older_id = codec.registry.register_schema(
        codec.subject(topics.INTENTS), Schema(older.text, "AVRO")
    )
    monkeypatch.setattr(schemas_module, "_compiled", spy)
    codec.prefetch()  # builds a reader for every registered version
    body = fastavro_bytes(
        "intent.v1", {f["name"]: None for f in older.raw["fields"]} | {"id": "m-1"}
    )
    assert body is not None
    decoded = codec.decode(topics.INTENTS, b"\0" + older_id.to_bytes(4, "big") + body)
    assert decoded["id"] == "m-1"
    assert compiled == []


@pytest.mark.timeout(10)
def test_a_count_larger_than_the_bytes_left_is_refused_at_once() -> None:
    """An array of nulls takes no byte per item: a count of 2**40 would loop for hours."""
    schema = _one_field({"type": "array", "items": "null"})
    nulls = compile_reader(schema)
    three = b"\x06\x00"  # three nulls, then the end: more items than bytes, left to fastavro
    with pytest.raises(Refused):
        nulls(three, 0)
    parsed = parse_schema(schema, named_schemas={})
    assert schemaless_reader(io.BytesIO(three), parsed, None) == {"f": [None, None, None]}
    with pytest.raises(Refused):
        nulls(b"\x80\x80\x80\x80\x80\x80\x02\x00", 0)  # 2**40 items, then the end
    strings = compile_reader(_one_field({"type": "array", "items": "string"}))
    with pytest.raises(Refused):
        strings(b"\x80\x80\x80\x80\x80\x80\x02\x00", 0)
