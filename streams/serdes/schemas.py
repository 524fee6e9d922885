"""The Avro schemas of `schemas/`: loading them, and what fastavro does not check.

- `load_schemas()` / `load_history()`: every `.avsc` as a `ParsedSchema` (the JSON as written, with
  docs and `pii` marks; the fastavro-parsed form; a compiled type check).
- The compiled check refuses what fastavro's writer would coerce or garble (the string "false"
  written as true, 1.5 as 1, an int beyond 32 bits, naive datetimes read in the machine's zone),
  names the field, never echoes the value, and converts ISO-8601 text to datetimes.
- `check_writer_schema_safe` refuses recursive or deeply nested writer schemas: fastavro's reader
  recurses in C and a value nested some thousands deep kills the process.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema

from streams.serdes.compiled import (
    INT_MAX,
    INT_MIN,
    LONG_MAX,
    LONG_MIN,
    FastReader,
    FastWriter,
    Unsupported,
    compile_reader,
    compile_writer,
)

# Writer schemas nested deeper than this are refused (ours are 3 deep).
MAX_SCHEMA_DEPTH = 16

SCHEMA_NAMES: tuple[str, ...] = (
    "consent",
    "optout",
    "partner",
    "intent",
    "verdict",
    "violation",
    "dead_letter",
    "ledger_entry",
    "complaint",  # issue 15 §4: complaints and complaints-open
    "complaint_ack",
    "erasure",  # issue 15 §6: erasure-requests
    "delivery",  # issue 15 §5: deliveries
)

# --------------------------------------------------------------------------------------------
# Schemas on disk


def schema_dir() -> Path:
    """Where the .avsc files are: the repository's `schemas/`, else the installed copy."""
    candidates = (
        Path(__file__).resolve().parents[2] / "schemas",
        Path(sys.prefix) / "share" / "consentgate" / "schemas",
    )
    for candidate in candidates:
        if all((candidate / f"{name}.avsc").is_file() for name in SCHEMA_NAMES):
            return candidate
    raise FileNotFoundError(f"consentgate Avro schemas not found in any of {candidates}")


Check = Callable[[Any, str], Any]


@dataclass(frozen=True, slots=True, eq=False)
class ParsedSchema:
    """One Avro schema: as written (`raw`, with docs and `pii`), parsed for fastavro, and the
    compiled check that `WireCodec.encode` runs before fastavro sees a record."""

    name: str
    raw: dict[str, Any]
    parsed: Any
    text: str
    fullname: str
    fields: tuple[str, ...]
    required: frozenset[str]
    pii_fields: frozenset[str]
    timestamp_fields: frozenset[str]
    has_int: bool
    check: Check = field(repr=False)
    shape: Any = field(repr=False)
    # compiled from `raw` (`serdes.compiled`); None: outside its vocabulary, fastavro only
    fast_read: FastReader | None = field(default=None, repr=False)
    fast_write: FastWriter | None = field(default=None, repr=False)

    def prepare(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Check `record` against the schema and convert what needs converting (ISO-8601 text and
        aware datetimes for timestamps) into a new dict. Raises `SchemaMismatch`."""
        if not isinstance(record, Mapping):
            raise SchemaMismatch(
                f"{self.fullname}: expected a mapping, got {type(record).__name__}"
            )
        converted: dict[str, Any] = self.check(record, self.fullname)
        return converted


def parse_schema_text(text: str, name: str) -> ParsedSchema:
    """Parse one schema (JSON text) into a `ParsedSchema`."""
    raw = json.loads(text)
    return make_parsed(raw, name)


def make_parsed(raw: dict[str, Any], name: str, *, compiled: bool = True) -> ParsedSchema:
    """`compiled=False` for a writer schema from the registry: only our own schemas are compiled
    into code (`serdes.compiled`); another producer's version is read by fastavro and resolved."""
    if not isinstance(raw, dict) or raw.get("type") != "record":
        raise ValueError(f"{name}: a top-level schema must be a record")
    parsed = parse_schema(raw, named_schemas={})
    namespace = raw.get("namespace")
    fullname = raw["name"] if "." in raw["name"] or not namespace else f"{namespace}.{raw['name']}"
    fields = tuple(f["name"] for f in raw["fields"])
    required = frozenset(f["name"] for f in raw["fields"] if "default" not in f)
    pii = frozenset(f["name"] for f in raw["fields"] if f.get("pii") is True)
    timestamps = frozenset(f["name"] for f in raw["fields"] if _is_timestamp(f["type"]))
    named: dict[str, Any] = {}
    check = _compile(raw, namespace or "", named)
    fast = _compiled(json.dumps(raw, sort_keys=True)) if compiled else None
    fast_read, fast_write = fast if fast is not None else (None, None)
    return ParsedSchema(
        name=name,
        raw=raw,
        parsed=parsed,
        text=json.dumps(raw, separators=(",", ":"), ensure_ascii=False),
        fullname=fullname,
        fields=fields,
        required=required,
        pii_fields=pii,
        timestamp_fields=timestamps,
        has_int=_mentions(raw, "int"),
        check=check,
        shape=shape_of(raw),
        fast_read=fast_read,
        fast_write=fast_write,
    )


@lru_cache(maxsize=128)
def _compiled(text: str) -> tuple[FastReader, FastWriter] | None:
    """A schema's compiled reader and writer, built once per distinct schema (about 2 ms each;
    codecs are built per worker, tool and test); None outside the compiler's vocabulary."""
    raw = json.loads(text)
    try:
        return compile_reader(raw), compile_writer(raw)
    except Unsupported:
        return None


def load_schema_file(path: Path | str, name: str | None = None) -> ParsedSchema:
    path = Path(path)
    return parse_schema_text(path.read_text(encoding="utf-8"), name or path.name[: -len(".avsc")])


def load_schemas(directory: Path | None = None) -> dict[str, ParsedSchema]:
    """The current schema of every record, by the base name `TopicSpec.schema` uses."""
    directory = directory or schema_dir()
    return {name: load_schema_file(directory / f"{name}.avsc", name) for name in SCHEMA_NAMES}


def load_history(directory: Path | None = None) -> dict[str, ParsedSchema]:
    """Earlier versions kept in `schemas/history/`, by file stem (`consent.v1`, ...)."""
    directory = (directory or schema_dir()) / "history"
    return {p.name[: -len(".avsc")]: load_schema_file(p) for p in sorted(directory.glob("*.avsc"))}


def _is_timestamp(avro_type: Any) -> bool:
    if isinstance(avro_type, list):
        return any(_is_timestamp(t) for t in avro_type)
    return isinstance(avro_type, dict) and avro_type.get("logicalType") == "timestamp-millis"


def _mentions(avro_type: Any, primitive: str) -> bool:
    if avro_type == primitive:
        return True
    if isinstance(avro_type, list):
        return any(_mentions(t, primitive) for t in avro_type)
    if isinstance(avro_type, dict):
        if avro_type.get("type") == primitive:
            return True
        return any(
            _mentions(sub, primitive)
            for key in ("items", "values")
            if (sub := avro_type.get(key)) is not None
        ) or any(_mentions(f["type"], primitive) for f in avro_type.get("fields", ()))
    return False


_IGNORED_ATTRIBUTES = frozenset({"doc", "aliases", "pii"})


def shape_of(avro_type: Any) -> Any:
    """The schema without docs, aliases and our `pii` marks: two schemas of the same shape
    decode the same bytes to the same values (unlike Parsing Canonical Form, logical types and
    defaults count)."""
    if isinstance(avro_type, list):
        return [shape_of(t) for t in avro_type]
    if isinstance(avro_type, dict):
        out: dict[str, Any] = {}
        for key, value in avro_type.items():
            if key in _IGNORED_ATTRIBUTES:
                continue
            if key == "fields":
                out[key] = [shape_of(f) for f in value]
            elif key in ("type", "items", "values"):
                out[key] = shape_of(value)
            else:
                out[key] = value
        return out
    return avro_type


def check_writer_schema_safe(raw: Any) -> None:
    """Refuse writer schemas fastavro could be made to crash on: recursive named types (a value
    nested thousands deep segfaults the C reader) or deep nesting."""

    def walk(t: Any, namespace: str, stack: tuple[str, ...], depth: int) -> None:
        if depth > MAX_SCHEMA_DEPTH:
            raise ValueError(f"nested deeper than {MAX_SCHEMA_DEPTH}")
        if isinstance(t, str):
            full = t if "." in t or not namespace else f"{namespace}.{t}"
            if t in stack or full in stack:
                raise ValueError(f"recursive type {t}")
            return
        if isinstance(t, list):
            for branch in t:
                walk(branch, namespace, stack, depth + 1)
            return
        if not isinstance(t, dict):
            raise ValueError("not an Avro schema")
        kind = t.get("type")
        if kind in ("record", "error", "enum", "fixed"):
            name = str(t.get("name", ""))
            ns = str(t.get("namespace", namespace)) if "." not in name else name.rsplit(".", 1)[0]
            full = name if "." in name else (f"{ns}.{name}" if ns else name)
            if kind in ("record", "error"):
                for f in t.get("fields", ()):
                    walk(f["type"], ns, (*stack, full, name), depth + 1)
            return
        if kind == "array":
            walk(t.get("items"), namespace, stack, depth + 1)
        elif kind == "map":
            walk(t.get("values"), namespace, stack, depth + 1)
        elif isinstance(kind, dict | list):
            walk(kind, namespace, stack, depth + 1)

    walk(raw, "", (), 0)


# --------------------------------------------------------------------------------------------
# A compiled type check: fastavro writes "false" as true and 1.5 as 1; we refuse both.


class SchemaMismatch(ValueError):
    """A value that does not fit its schema; the message names the field, never the value."""


_MISSING = object()


def _compile(t: Any, namespace: str, named: dict[str, Check]) -> Check:
    if isinstance(t, str):
        return _compile_primitive(t, namespace, named)
    if isinstance(t, list):
        return _compile_union([_compile(b, namespace, named) for b in t], t)
    if not isinstance(t, dict):
        raise ValueError(f"unsupported schema {t!r}")
    kind = t["type"]
    logical = t.get("logicalType")
    if logical == "timestamp-millis" and kind == "long":
        return _check_timestamp
    if kind in ("record", "error"):
        return _compile_record(t, namespace, named)
    if kind == "enum":
        symbols = frozenset(t["symbols"])

        def check_enum(v: Any, path: str) -> Any:
            if not isinstance(v, str) or v not in symbols:
                raise SchemaMismatch(f"{path}: not a symbol of the enum")
            return v

        _name(t, namespace, named, check_enum)
        return check_enum
    if kind == "fixed":
        size = int(t["size"])

        def check_fixed(v: Any, path: str) -> Any:
            if not isinstance(v, bytes | bytearray) or len(v) != size:
                raise SchemaMismatch(f"{path}: expected {size} bytes")
            return bytes(v)

        _name(t, namespace, named, check_fixed)
        return check_fixed
    if kind == "array":
        item = _compile(t["items"], namespace, named)

        def check_array(v: Any, path: str) -> Any:
            if not isinstance(v, list | tuple):
                raise SchemaMismatch(f"{path}: expected a list, got {type(v).__name__}")
            return [item(x, f"{path}[]") for x in v]

        return check_array
    if kind == "map":
        value = _compile(t["values"], namespace, named)

        def check_map(v: Any, path: str) -> Any:
            if not isinstance(v, Mapping):
                raise SchemaMismatch(f"{path}: expected a mapping, got {type(v).__name__}")
            out = {}
            for k, x in v.items():
                if not isinstance(k, str):
                    raise SchemaMismatch(f"{path}: map keys must be strings")
                out[k] = value(x, f"{path}{{}}")
            return out

        return check_map
    return _compile(kind, namespace, named)


def _name(t: dict[str, Any], namespace: str, named: dict[str, Check], check: Check) -> None:
    name = t["name"]
    ns = t.get("namespace", namespace)
    named[name if "." in name or not ns else f"{ns}.{name}"] = check
    named[name] = check


def _compile_primitive(t: str, namespace: str, named: dict[str, Check]) -> Check:
    checks: dict[str, Check] = {
        "null": _check_null,
        "boolean": _check_boolean,
        "int": _check_int,
        "long": _check_long,
        "float": _check_float,
        "double": _check_float,
        "string": _check_string,
        "bytes": _check_bytes,
    }
    if t in checks:
        return checks[t]
    full = t if "." in t or not namespace else f"{namespace}.{t}"
    if full in named or t in named:
        key = full if full in named else t
        return lambda v, path: named[key](v, path)
    raise ValueError(f"unknown type {t}")


def _compile_union(branches: list[Check], raw: list[Any]) -> Check:
    nullable = "null" in raw
    others = [b for b, r in zip(branches, raw, strict=True) if r != "null"]

    if len(others) == 1:
        only = others[0]

        def check_nullable(v: Any, path: str) -> Any:
            if v is None:
                if nullable:
                    return None
                raise SchemaMismatch(f"{path}: null is not allowed")
            return only(v, path)

        return check_nullable

    def check_union(v: Any, path: str) -> Any:
        if v is None:
            if nullable:
                return None
            raise SchemaMismatch(f"{path}: null is not allowed")
        for branch in others:
            try:
                return branch(v, path)
            except SchemaMismatch:
                continue
        raise SchemaMismatch(f"{path}: {type(v).__name__} fits no branch of the union")

    return check_union


def _compile_record(t: dict[str, Any], namespace: str, named: dict[str, Check]) -> Check:
    name = t["name"]
    ns = t.get("namespace", namespace) if "." not in name else name.rsplit(".", 1)[0]
    full = name if "." in name or not ns else f"{ns}.{name}"
    fields: list[tuple[str, bool, Check]] = []
    names: frozenset[str] = frozenset(f["name"] for f in t["fields"])

    def check_record(v: Any, path: str) -> Any:
        if not isinstance(v, Mapping):
            raise SchemaMismatch(f"{path}: expected a mapping, got {type(v).__name__}")
        extra = [k for k in v if k not in names]
        if extra:
            raise SchemaMismatch(
                f"{path}: fields not in the schema: {', '.join(map(str, sorted(extra)))}"
            )
        out = {}
        for fname, has_default, check in fields:
            x = v.get(fname, _MISSING)
            if x is _MISSING:
                if has_default:
                    continue
                raise SchemaMismatch(f"{path}.{fname}: required field missing")
            out[fname] = check(x, f"{path}.{fname}")
        return out

    named[full] = check_record
    named[name] = check_record
    for f in t["fields"]:
        fields.append((f["name"], "default" in f, _compile(f["type"], ns, named)))
    return check_record


def _check_null(v: Any, path: str) -> Any:
    if v is not None:
        raise SchemaMismatch(f"{path}: expected null")
    return None


def _check_boolean(v: Any, path: str) -> Any:
    if not isinstance(v, bool):
        raise SchemaMismatch(f"{path}: expected a boolean, got {type(v).__name__}")
    return v


def _check_int(v: Any, path: str) -> Any:
    if not isinstance(v, int) or isinstance(v, bool) or not INT_MIN <= v <= INT_MAX:
        raise SchemaMismatch(f"{path}: expected a 32-bit int")
    return v


def _check_long(v: Any, path: str) -> Any:
    if not isinstance(v, int) or isinstance(v, bool) or not LONG_MIN <= v <= LONG_MAX:
        raise SchemaMismatch(f"{path}: expected a 64-bit long")
    return v


def _check_float(v: Any, path: str) -> Any:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise SchemaMismatch(f"{path}: expected a number, got {type(v).__name__}")
    return v


def _check_string(v: Any, path: str) -> Any:
    if not isinstance(v, str):
        raise SchemaMismatch(f"{path}: expected a string, got {type(v).__name__}")
    return v


def _check_bytes(v: Any, path: str) -> Any:
    if not isinstance(v, bytes | bytearray | memoryview):
        raise SchemaMismatch(f"{path}: expected bytes, got {type(v).__name__}")
    return bytes(v)


def _check_timestamp(v: Any, path: str) -> Any:
    """timestamp-millis: an aware datetime, ISO-8601 text with an offset (`...Z`), or epoch
    milliseconds. A naive datetime is refused: fastavro would read it in the machine's zone."""
    if isinstance(v, str):
        try:
            v = datetime.fromisoformat(v)
        except ValueError:
            raise SchemaMismatch(f"{path}: not an ISO-8601 instant") from None
    if isinstance(v, datetime):
        if v.tzinfo is None or v.tzinfo.utcoffset(v) is None:
            raise SchemaMismatch(f"{path}: a naive datetime is ambiguous; give a UTC offset")
        return v.astimezone(UTC)
    if isinstance(v, int) and not isinstance(v, bool) and LONG_MIN <= v <= LONG_MAX:
        return v
    raise SchemaMismatch(f"{path}: expected an aware datetime, got {type(v).__name__}")
