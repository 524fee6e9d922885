"""Avro readers and writers compiled from our own schemas: the codec's fast path.

fastavro is general: for every field of every record it looks the type up in the parsed schema
and dispatches on it, and our strict decode then re-encodes the value to prove the bytes were
canonical. For the bench's intent that is 19 µs to read and 11 µs to write a verdict
(`benchmarks/bench_serdes.py`). Our schemas use a small vocabulary, so each one is compiled here
into a straight-line Python function (source generated once, as `dataclasses` does), which
reads and checks in a single pass.

The contract with `WireCodec` is one-sided, and it is what makes this safe:

- A compiled reader either returns exactly what fastavro returns *and* what our strict checks
  would have accepted (canonical varints, union index 0 or 1, booleans 0 or 1, collections in one
  block, no duplicate map keys, strict UTF-8, a 32-bit `int`, no trailing bytes), or it raises.
- A compiled writer either writes exactly fastavro's bytes, or it raises.
- When it raises, for any reason, `WireCodec` takes fastavro's path, which decides and names the
  error as before. The fast path may refuse more than fastavro; it never accepts more.

`tests/unit/test_compiled_codec.py` holds both halves against fastavro with generated records and
mutated bytes. A schema using anything outside the vocabulary (enums, fixed, floats, named type
references, unions other than null and one type) is not compiled (`Unsupported`): its topic takes
fastavro's path for every record.
"""

from __future__ import annotations

from ast import literal_eval
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "LONG_MAX",
    "LONG_MIN",
    "FastReader",
    "FastWriter",
    "Refused",
    "Unsupported",
    "compile_reader",
    "compile_writer",
]

FastReader = Callable[[bytes, int], dict[str, Any]]
"""(data, start) -> the record that fills data[start:] exactly; raises otherwise."""
FastWriter = Callable[[Any, bytearray], None]
"""(record, out): appends the record's Avro body to out; raises if it cannot write it exactly."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Avro's int and long ranges (fastavro checks neither); `schemas` checks records against them too.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
_MAX_VARINT_BYTES = 10
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "string", "bytes"})


class Unsupported(ValueError):
    """The schema uses something this compiler does not handle; fastavro handles the topic."""


class Refused(ValueError):
    """The fast path will not read or write this value; fastavro's path decides."""


# --------------------------------------------------------------------------------------------
# Runtime helpers the generated code calls


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """A canonical zigzag varint at `pos`: (value, position after it)."""
    byte = data[pos]
    pos += 1
    if byte < 0x80:
        return (byte >> 1) ^ -(byte & 1), pos
    raw = byte & 0x7F
    shift = 7
    while True:
        byte = data[pos]
        pos += 1
        raw |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if shift >= 7 * _MAX_VARINT_BYTES:
            raise Refused("varint longer than 10 bytes")
    if byte == 0:
        raise Refused("over-long varint")
    if raw >> 64:
        raise Refused("varint beyond 64 bits")
    return (raw >> 1) ^ -(raw & 1), pos


def _varint(value: int) -> bytes:
    """The zigzag varint of a 64-bit long."""
    if not LONG_MIN <= value <= LONG_MAX:
        raise Refused("beyond 64 bits")
    raw = (value << 1) ^ (value >> 63)
    out = bytearray()
    while raw > 0x7F:
        out.append((raw & 0x7F) | 0x80)
        raw >>= 7
    out.append(raw)
    return bytes(out)


# Lengths and counts under 4096 are looked up, not computed.
_SIZES: tuple[bytes, ...] = tuple(_varint(n) for n in range(4096))


def _millis(value: datetime) -> int:
    """fastavro's conversion of an aware datetime to timestamp-millis."""
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


_RUNTIME: dict[str, Any] = {
    "_read_varint": _read_varint,
    "_varint": _varint,
    "_SIZES": _SIZES,
    "_millis": _millis,
    "_EPOCH": _EPOCH,
    "_timedelta": timedelta,
    "_datetime": datetime,
    "_Refused": Refused,
    "_INT_MIN": INT_MIN,
    "_INT_MAX": INT_MAX,
}


# --------------------------------------------------------------------------------------------
# The compiler


class _Source:
    """Lines of one generated function, with fresh local names."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self._names = count()

    def name(self, stem: str) -> str:
        return f"{stem}{next(self._names)}"

    def constant(self, value: Any) -> str:
        """A name the generated code reads `value` under."""
        name = self.name("_constant")
        self.constants[name] = value
        return name

    def add(self, indent: int, *lines: str) -> None:
        self.lines.extend("    " * indent + line for line in lines)


def _kind(t: Any) -> str:
    """The vocabulary entry of an Avro type, or `Unsupported`."""
    if isinstance(t, str):
        if t in _PRIMITIVES:
            return t
        raise Unsupported(f"named type reference {t!r}")
    if isinstance(t, list):
        if len(t) == 2 and t[0] == "null" and t[1] != "null" and not isinstance(t[1], list):
            return "nullable"
        raise Unsupported("a union other than [null, one type]")
    if not isinstance(t, dict):
        raise Unsupported(f"not an Avro type: {t!r}")
    kind = t.get("type")
    logical = t.get("logicalType")
    if logical is not None:
        if logical == "timestamp-millis" and kind == "long":
            return "timestamp"
        raise Unsupported(f"logical type {logical!r}")
    if kind in ("array", "map", "record"):
        return str(kind)
    if isinstance(kind, str) and kind in _PRIMITIVES:
        return kind
    raise Unsupported(f"type {kind!r}")


def _fields(t: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(str(f["name"]), f["type"]) for f in t["fields"]]


def _read_size(src: _Source, ind: int, target: str) -> None:
    """A non-negative length or count into `target` (one byte in the common case)."""
    src.add(
        ind,
        f"{target} = data[pos]",
        f"if {target} < 0x80:",
        "    pos += 1",
        f"    if {target} & 1:",
        "        raise _Refused('negative size')",
        f"    {target} >>= 1",
        "else:",
        f"    {target}, pos = _read_varint(data, pos)",
        f"    if {target} < 0:",
        "        raise _Refused('negative size')",
    )


def _gen_read(t: Any, target: str, src: _Source, ind: int) -> None:
    kind = _kind(t)
    if isinstance(t, dict) and kind in _PRIMITIVES:
        t = kind
    if kind == "null":
        src.add(ind, f"{target} = None")
    elif kind == "boolean":
        flag = src.name("flag")
        src.add(
            ind,
            f"{flag} = data[pos]",
            "pos += 1",
            f"if {flag} > 1:",
            "    raise _Refused('boolean not 0 or 1')",
            f"{target} = {flag} == 1",
        )
    elif kind in ("int", "long", "timestamp"):
        number = src.name("number")
        src.add(ind, f"{number}, pos = _read_varint(data, pos)")
        if kind == "int":
            src.add(
                ind,
                f"if not _INT_MIN <= {number} <= _INT_MAX:",
                "    raise _Refused('int beyond 32 bits')",
            )
        if kind == "timestamp":
            src.add(ind, f"{target} = _EPOCH + _timedelta(milliseconds={number})")
        else:
            src.add(ind, f"{target} = {number}")
    elif kind in ("string", "bytes"):
        size, end = src.name("size"), src.name("end")
        _read_size(src, ind, size)
        src.add(
            ind,
            f"{end} = pos + {size}",
            f"if {end} > limit:",
            "    raise _Refused('truncated')",
        )
        if kind == "string":
            src.add(ind, f"{target} = data[pos:{end}].decode('utf-8')")
        else:
            src.add(ind, f"{target} = data[pos:{end}]")
        src.add(ind, f"pos = {end}")
    elif kind == "nullable":
        branch = src.name("branch")
        src.add(ind, f"{branch} = data[pos]", "pos += 1", f"if {branch} == 0:")
        src.add(ind + 1, f"{target} = None")
        src.add(ind, f"elif {branch} == 2:")
        _gen_read(t[1], target, src, ind + 1)
        src.add(ind, "else:", "    raise _Refused('union index not 0 or 1')")
    elif kind in ("array", "map"):
        items, size, item = src.name("items"), src.name("size"), src.name("item")
        _read_size(src, ind, size)
        # every item of our schemas takes a byte at least: a larger count is hostile (or an
        # array of nulls), and fastavro's path decides it rather than a loop of that length
        src.add(ind, f"if {size} > limit - pos:", "    raise _Refused('more items than bytes')")
        if kind == "array":
            src.add(ind, f"{items} = []", f"for _ in range({size}):")
            _gen_read(t["items"], item, src, ind + 1)
            src.add(ind + 1, f"{items}.append({item})")
        else:
            key = src.name("key")
            src.add(ind, f"{items} = {{}}", f"for _ in range({size}):")
            _gen_read("string", key, src, ind + 1)
            src.add(
                ind + 1,
                f"if {key} in {items}:",
                "    raise _Refused('duplicate map key')",
            )
            _gen_read(t["values"], item, src, ind + 1)
            src.add(ind + 1, f"{items}[{key}] = {item}")
        # canonical: one block, then the 0 that ends the collection
        src.add(
            ind,
            f"if {size}:",
            "    if data[pos] != 0:",
            "        raise _Refused('collection in more than one block')",
            "    pos += 1",
            f"{target} = {items}",
        )
    elif kind == "record":
        record = src.name("record")
        src.add(ind, f"{record} = {{}}")
        for name, ftype in _fields(t):
            _gen_read(ftype, f"{record}[{name!r}]", src, ind)
        src.add(ind, f"{target} = {record}")


def _gen_write(t: Any, value: str, src: _Source, ind: int) -> None:
    kind = _kind(t)
    if isinstance(t, dict) and kind in _PRIMITIVES:
        t = kind
    if kind == "null":
        src.add(ind, f"if {value} is not None:", "    raise _Refused('expected null')")
    elif kind == "boolean":
        src.add(
            ind,
            f"if {value} is True:",
            "    out.append(1)",
            f"elif {value} is False:",
            "    out.append(0)",
            "else:",
            "    raise _Refused('expected a bool')",
        )
    elif kind in ("int", "long"):
        src.add(ind, f"if {value}.__class__ is not int:", "    raise _Refused('expected an int')")
        if kind == "int":
            src.add(
                ind,
                f"if not _INT_MIN <= {value} <= _INT_MAX:",
                "    raise _Refused('int beyond 32 bits')",
            )
        src.add(ind, f"out += _varint({value})")
    elif kind == "timestamp":
        millis = src.name("millis")
        src.add(
            ind,
            f"if {value}.__class__ is _datetime and {value}.tzinfo is not None:",
            f"    {millis} = _millis({value})",
            f"elif {value}.__class__ is int:",
            f"    {millis} = {value}",
            "else:",
            "    raise _Refused('expected an aware datetime or epoch milliseconds')",
            f"out += _varint({millis})",
        )
    elif kind in ("string", "bytes"):
        raw, size = src.name("raw"), src.name("size")
        if kind == "string":
            src.add(
                ind,
                f"if {value}.__class__ is not str:",
                "    raise _Refused('expected a str')",
                f"{raw} = {value}.encode('utf-8')",
            )
        else:
            src.add(
                ind,
                f"if {value}.__class__ is not bytes:",
                "    raise _Refused('expected bytes')",
                f"{raw} = {value}",
            )
        src.add(
            ind,
            f"{size} = len({raw})",
            f"out += _SIZES[{size}] if {size} < 4096 else _varint({size})",
            f"out += {raw}",
        )
    elif kind == "nullable":
        src.add(ind, f"if {value} is None:", "    out.append(0)", "else:", "    out.append(2)")
        _gen_write(t[1], value, src, ind + 1)
    elif kind in ("array", "map"):
        size, item = src.name("size"), src.name("item")
        if kind == "array":
            src.add(
                ind,
                f"if {value}.__class__ is not list and {value}.__class__ is not tuple:",
                "    raise _Refused('expected a list')",
            )
        else:
            src.add(
                ind, f"if {value}.__class__ is not dict:", "    raise _Refused('expected a dict')"
            )
        src.add(
            ind,
            f"{size} = len({value})",
            f"if {size}:",
            f"    out += _SIZES[{size}] if {size} < 4096 else _varint({size})",
        )
        if kind == "array":
            src.add(ind + 1, f"for {item} in {value}:")
            _gen_write(t["items"], item, src, ind + 2)
        else:
            key = src.name("key")
            src.add(ind + 1, f"for {key}, {item} in {value}.items():")
            _gen_write("string", key, src, ind + 2)
            _gen_write(t["values"], item, src, ind + 2)
        src.add(ind, "out.append(0)")
    elif kind == "record":
        # As fastavro with strict_allow_default: no field outside the schema, and a missing
        # field is written as its default (a missing field without one is refused).
        fields = t["fields"]
        known = src.constant(frozenset(str(f["name"]) for f in fields))
        src.add(
            ind,
            f"if {value}.__class__ is not dict:",
            "    raise _Refused('expected a dict')",
            f"if not {value}.keys() <= {known}:",
            "    raise _Refused('a field outside the schema')",
        )
        for f in fields:
            field_value = src.name("field")
            if "default" in f:
                default = _literal(f["default"])
                src.add(ind, f"{field_value} = {value}.get({f['name']!r}, {default})")
            else:
                src.add(ind, f"{field_value} = {value}[{f['name']!r}]")
            _gen_write(f["type"], field_value, src, ind)


def _literal(default: Any) -> str:
    """A schema default (JSON) as a Python literal, checked to read back as itself."""
    text = repr(default)
    if isinstance(default, float) or literal_eval(text) != default:
        raise Unsupported(f"default {text}")
    return text


def _build(name: str, src: _Source) -> Callable[..., Any]:
    namespace = dict(_RUNTIME) | src.constants
    code = "\n".join(src.lines)
    exec(compile(code, f"<consentgate compiled {name}>", "exec"), namespace)
    function: Callable[..., Any] = namespace[name]
    function.__source__ = code  # type: ignore[attr-defined]
    return function


def compile_reader(schema: dict[str, Any]) -> FastReader:
    """A reader of `schema`'s records, strict as `WireCodec.decode`; raises `Unsupported`."""
    if _kind(schema) != "record":
        raise Unsupported("a top-level schema must be a record")
    src = _Source()
    src.add(0, "def read(data, pos):", "    limit = len(data)")
    _gen_read(schema, "result", src, 1)
    src.add(1, "if pos != limit:", "    raise _Refused('trailing bytes')", "return result")
    reader: FastReader = _build("read", src)
    return reader


def compile_writer(schema: dict[str, Any]) -> FastWriter:
    """A writer of `schema`'s records, byte-equal to fastavro's; raises `Unsupported`."""
    if _kind(schema) != "record":
        raise Unsupported("a top-level schema must be a record")
    src = _Source()
    src.add(0, "def write(record, out):")
    _gen_write(schema, "record", src, 1)
    writer: FastWriter = _build("write", src)
    return writer
