"""Confluent wire format in and out, with the checks fastavro lacks.

A value on the wire is: magic byte 0, the writer schema's registry id (4 bytes, big-endian), then
the Avro binary body. The current schemas' compiled readers and writers (`compiled.py`) do the
Avro when they can, fastavro otherwise; confluent-kafka's `SchemaRegistryClient` does only the
registry's HTTP (register, versions of a subject, compatibility). Ids are cached both ways, so
once a subject's versions are known, encoding and decoding make no HTTP call.

Decoding is strict and fails closed; every failure is a `DecodeError` with a bounded
`error_class` (a metrics label and the dead letter's `error_class`):

- ``empty``: no value (None or zero bytes).
- ``too_large``: more bytes than `max_message_bytes` (checked before anything is parsed).
- ``wire_header``: shorter than the 5-byte header, or a magic byte other than 0.
- ``unknown_schema``: the schema id is not a registered version of this topic's subject (an id
  of another subject, even a valid one, is refused: we only decode writer schemas our subject
  admitted under its compatibility rule), or the writer schema is not one we can decode safely
  (not Avro, references, recursive or too deeply nested: fastavro recurses in C and a deep
  enough value kills the process).
- ``avro_decode``: fastavro could not read the body (truncated, bad UTF-8, index out of range,
  timestamp out of range, an ``int`` outside 32 bits, ...), or could not resolve it to the
  current schema.
- ``trailing_bytes``: bytes left after the record (fastavro ignores them).
- ``non_canonical``: the body is not the canonical encoding of the value it decodes to. fastavro
  maps a negative union or enum index to a branch counted from the end, accepts over-long
  varints and booleans other than 0/1; we re-encode the decoded value with the writer schema and
  require the very same bytes. A consequence, on purpose: arrays and maps must be written in one
  block (every Avro writer we know does so by default) and maps without duplicate keys.

The compiled reader of a writer schema shaped as the current one makes all of these checks in one
pass; whatever it refuses, the path above reads again and decides, so errors and their classes
are the same either way.

`RegistryUnavailableError` (not a `DecodeError`) means the registry could not be asked: retry,
don't dead-letter. Keys are plain UTF-8 strings (see `schemas/README.md` for why).
"""

from __future__ import annotations

import io
import json
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro import schemaless_reader, schemaless_writer

from streams.serdes.compiled import FastReader
from streams.serdes.schemas import (
    SCHEMA_NAMES,
    Check,
    ParsedSchema,
    SchemaMismatch,
    check_writer_schema_safe,
    load_history,
    load_schema_file,
    load_schemas,
    make_parsed,
    parse_schema_text,
    schema_dir,
    shape_of,
)
from streams.topics import ALL, TopicSpec

__all__ = [
    "DECODE_ERROR_CLASSES",
    "SCHEMA_NAMES",
    "AvroDecodeError",
    "BadKeyError",
    "DecodeError",
    "EmptyValueError",
    "EncodeError",
    "NonCanonicalError",
    "ParsedSchema",
    "RegistryUnavailableError",
    "SchemaNotRegisteredError",
    "SchemaRejectedError",
    "SerdesError",
    "TooLargeError",
    "TrailingBytesError",
    "UnknownSchemaError",
    "WireCodec",
    "WireHeaderError",
    "decode_key",
    "encode_key",
    "load_history",
    "load_schema_file",
    "load_schemas",
    "new_registry_client",
    "now_utc",
    "parse_schema_text",
    "schema_dir",
]

MAGIC = 0
HEADER = struct.Struct(">BI")
DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
DEFAULT_MAX_KEY_BYTES = 1024

# Every error_class a decode or a key can fail with (bounded: metrics labels).
DECODE_ERROR_CLASSES: tuple[str, ...] = (
    "empty",
    "too_large",
    "wire_header",
    "unknown_schema",
    "avro_decode",
    "trailing_bytes",
    "non_canonical",
    "bad_key",
)


# --------------------------------------------------------------------------------------------
# Errors


class SerdesError(Exception):
    """Base of every error this module raises. `error_class` is short and bounded."""

    error_class: str = "serdes"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DecodeError(SerdesError):
    """Bytes from Kafka that must not be decoded: dead-letter them (and deny, if an intent)."""

    error_class = "avro_decode"


class EmptyValueError(DecodeError):
    error_class = "empty"


class TooLargeError(DecodeError):
    error_class = "too_large"


class WireHeaderError(DecodeError):
    error_class = "wire_header"


class UnknownSchemaError(DecodeError):
    error_class = "unknown_schema"


class AvroDecodeError(DecodeError):
    error_class = "avro_decode"


class TrailingBytesError(DecodeError):
    error_class = "trailing_bytes"


class NonCanonicalError(DecodeError):
    error_class = "non_canonical"


class BadKeyError(DecodeError):
    error_class = "bad_key"


class EncodeError(SerdesError, ValueError):
    """A record that does not fit its schema (a bug on our side: never produce it)."""

    error_class = "encode"


class SchemaNotRegisteredError(SerdesError):
    """The current schema of a topic is not registered under its subject (run `register_all`)."""

    error_class = "unregistered"


class SchemaRejectedError(SerdesError):
    """The registry refused to register a schema (incompatible with the subject's versions under
    its compatibility rule, or invalid)."""

    error_class = "schema_rejected"


class RegistryUnavailableError(SerdesError):
    """The registry could not be asked, or refused the request (network, 5xx, auth, a bad
    request). Not the record's fault: retry or stop, don't dead-letter."""

    error_class = "registry_unavailable"


# --------------------------------------------------------------------------------------------
# Keys


def encode_key(key: str) -> bytes:
    """A record key: plain UTF-8 (the normalized address, a party id or an intent id)."""
    if not isinstance(key, str):
        raise EncodeError(f"a key must be a string, got {type(key).__name__}")
    try:
        return key.encode("utf-8")
    except UnicodeEncodeError:
        raise EncodeError("key is not encodable as UTF-8 (lone surrogate)") from None


def decode_key(data: bytes | None, max_bytes: int = DEFAULT_MAX_KEY_BYTES) -> str | None:
    """Strict UTF-8; None stays None. Raises `BadKeyError`."""
    if data is None:
        return None
    if len(data) > max_bytes:
        raise BadKeyError(f"key of {len(data)} bytes is longer than {max_bytes}")
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadKeyError(f"key is not valid UTF-8 (byte {exc.start})") from None


# --------------------------------------------------------------------------------------------
# The codec


@dataclass(frozen=True, slots=True)
class _Writer:
    """How to decode one writer schema id of one subject."""

    schema_id: int
    parsed: Any
    resolve: bool  # the writer differs from the current schema: resolve to it after checking
    check: Check | None  # run on the decoded value (schemas with `int`: fastavro has no range)
    fast_read: FastReader | None = None  # the current schema's compiled reader (not resolving)


class WireCodec:
    """Encode and decode the values of our topics in the Confluent wire format.

    `registry` is a confluent-kafka `SchemaRegistryClient` (a `mock://` one in unit tests).
    Subjects follow TopicNameStrategy: `<topic_prefix><topic>-value`.
    """

    def __init__(
        self,
        registry: SchemaRegistryClient,
        topic_prefix: str = "",
        *,
        schemas: Mapping[str, ParsedSchema] | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        refresh_interval: float = 1.0,
        auto_register: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.topic_prefix = topic_prefix
        self.schemas: Mapping[str, ParsedSchema] = (
            schemas if schemas is not None else load_schemas()
        )
        self.max_message_bytes = max_message_bytes
        self.refresh_interval = refresh_interval
        self.auto_register = auto_register
        self._clock = clock
        self._lock = threading.RLock()
        self._current_ids: dict[str, int] = {}  # topic base -> id of the current schema
        self._writers: dict[tuple[str, int], _Writer] = {}  # (topic base, id) -> writer
        self._versions: dict[str, dict[int, int]] = {}  # subject -> version -> id
        self._refreshed_at: dict[str, float] = {}  # subject -> clock at the last refresh
        self._refused: dict[tuple[str, int], str] = {}  # (topic base, id) -> why we won't decode

    # -- names

    def subject(self, spec: TopicSpec) -> str:
        return f"{spec.name(self.topic_prefix)}-value"

    def schema_for(self, spec: TopicSpec) -> ParsedSchema:
        return self.schemas[spec.schema]

    # -- registry administration

    def register_all(
        self, compatibility: str | None = "BACKWARD", topics: Iterable[TopicSpec] = ALL
    ) -> dict[str, int]:
        """Register each topic's current schema under its subject and set the subject's
        compatibility (None: leave it). Idempotent. Returns subject -> schema id."""
        ids: dict[str, int] = {}
        for spec in topics:
            subject = self.subject(spec)
            current = self.schema_for(spec)
            try:
                if compatibility:
                    # Before registering, so that the new version is checked against the old;
                    # a registry may refuse config for a subject that does not exist yet.
                    self._set_compatibility(subject, compatibility, missing_ok=True)
                schema_id = self.registry.register_schema(subject, _registry_schema(current))
                if compatibility:
                    self._set_compatibility(subject, compatibility, missing_ok=False)
            except SchemaRegistryError as exc:
                if exc.http_status_code in (409, 422):
                    raise SchemaRejectedError(
                        f"{subject}: registry refused {current.fullname}: {exc.error_message}"
                    ) from exc
                raise RegistryUnavailableError(f"{subject}: {exc}") from exc
            except SerdesError:
                raise
            except Exception as exc:
                raise RegistryUnavailableError(f"{subject}: {type(exc).__name__}: {exc}") from exc
            self._remember_current(spec, schema_id)
            ids[subject] = schema_id
        return ids

    def _set_compatibility(self, subject: str, level: str, missing_ok: bool) -> None:
        try:
            self.registry.set_compatibility(subject_name=subject, level=level)
        except SchemaRegistryError as exc:
            if not (missing_ok and exc.http_status_code == 404):
                raise

    def prefetch(self, topics: Iterable[TopicSpec] = ALL) -> None:
        """Load every version of each topic's subject and the id of its current schema, so that
        the hot path makes no HTTP call. Call at start-up."""
        for spec in topics:
            self._refresh(spec, force=True)
            self.current_schema_id(spec)

    def current_schema_id(self, spec: TopicSpec) -> int:
        """The registry id of this topic's current schema (looked up once, then cached).

        Found by the registry's lookup of our exact text, else among the subject's versions by
        JSON equality (Apicurio's lookup compares raw text: the same schema registered by another
        tool, formatted otherwise, is not found by lookup)."""
        schema_id = self._current_ids.get(spec.base)
        if schema_id is not None:
            return schema_id
        with self._lock:
            subject = self.subject(spec)
            current = self.schema_for(spec)
            try:
                try:
                    found = self.registry.lookup_schema(subject, _registry_schema(current))
                    schema_id = found.schema_id
                except SchemaRegistryError as exc:
                    if exc.http_status_code != 404:
                        raise
                    schema_id = self._find_equal_version(subject, current)
            except SchemaRegistryError as exc:
                raise RegistryUnavailableError(f"{subject}: {exc}") from exc
            except Exception as exc:
                raise RegistryUnavailableError(f"{subject}: {type(exc).__name__}: {exc}") from exc
            if schema_id is None:
                if not self.auto_register:
                    raise SchemaNotRegisteredError(
                        f"{current.fullname} is not registered under {subject}; "
                        "run `WireCodec.register_all` (or `consentgate` schema registration)"
                    )
                self.register_all(compatibility=None, topics=(spec,))
                return self._current_ids[spec.base]
            self._remember_current(spec, int(schema_id))
            return int(schema_id)

    def _find_equal_version(self, subject: str, current: ParsedSchema) -> int | None:
        try:
            versions = self.registry.get_versions(subject)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                return None
            raise
        for version in sorted(versions, reverse=True):
            registered = self.registry.get_version(subject, version)
            text = registered.schema.schema_str if registered.schema else None
            if text is None or registered.schema_id is None:
                continue
            try:
                if json.loads(text) == current.raw:
                    return int(registered.schema_id)
            except ValueError:
                continue
        return None

    def _remember_current(self, spec: TopicSpec, schema_id: int) -> None:
        current = self.schema_for(spec)
        with self._lock:
            self._current_ids[spec.base] = schema_id
            self._writers[(spec.base, schema_id)] = _Writer(
                schema_id,
                current.parsed,
                resolve=False,
                check=current.check if current.has_int else None,
                fast_read=current.fast_read,
            )

    # -- encode

    def encode(self, spec: TopicSpec, record: Mapping[str, Any], *, trusted: bool = False) -> bytes:
        """Header and Avro body of `record` with the topic's current schema. Raises `EncodeError`
        for a record that does not fit (extra or missing fields, wrong types, naive datetimes).

        `trusted`: the record was built by the gate from its own typed values (a verdict, a
        violation), in the wire shape already; the field-by-field check and conversion is
        skipped (it cost about as much as the encoding itself) and fastavro's own type checks
        remain."""
        schema = self.schema_for(spec)
        if trusted:
            prepared = record
        else:
            try:
                prepared = schema.prepare(record)
            except SchemaMismatch as exc:
                raise EncodeError(str(exc)) from None
        schema_id = self._current_ids.get(spec.base)
        if schema_id is None:
            schema_id = self.current_schema_id(spec)
        data = self._write_fast(schema, schema_id, prepared)
        if data is None:
            out = io.BytesIO()
            out.write(HEADER.pack(MAGIC, schema_id))
            try:
                schemaless_writer(out, schema.parsed, prepared, strict_allow_default=True)
            except Exception as exc:  # the check above should have caught it
                raise EncodeError(f"{schema.fullname}: {type(exc).__name__}: {exc}") from exc
            data = out.getvalue()
        if len(data) > self.max_message_bytes:
            raise EncodeError(
                f"{schema.fullname}: {len(data)} bytes is more than {self.max_message_bytes}"
            )
        return data

    @staticmethod
    def _write_fast(schema: ParsedSchema, schema_id: int, record: Any) -> bytes | None:
        """The compiled writer's bytes, or None where it steps aside (a record it would not
        write exactly as fastavro does: fastavro's path then writes it or names the error)."""
        if schema.fast_write is None:
            return None
        out = bytearray(HEADER.pack(MAGIC, schema_id))
        try:
            schema.fast_write(record, out)
        except Exception:
            return None
        return bytes(out)

    # -- decode

    def decode(
        self,
        spec: TopicSpec,
        data: bytes | bytearray | memoryview | None,
        *,
        trusted: bool = False,
    ) -> dict[str, Any]:
        """The record in `data`, as a dict of the topic's current schema (timestamps as aware UTC
        datetimes). Raises a `DecodeError` subclass, or `RegistryUnavailableError`.

        `trusted`: the gate's own output read back (verdicts, by the delivery reconciler), which
        only the gate writes: on fastavro's path the canonical-form check (a re-encode, about
        40% of that path's cost) is skipped; header, size, schema id, 32-bit ints and trailing
        bytes are still checked. The compiled reader checks everything either way. A
        canonical-looking forgery would pass that check anyway: what guards a gate topic is
        who may write to it (ACLs, docs/operations.md "Principals and ACLs")."""
        if data is None or len(data) == 0:
            raise EmptyValueError("no value (null or zero bytes)")
        if not isinstance(data, bytes):
            data = bytes(data)
        size = len(data)
        if size > self.max_message_bytes:
            raise TooLargeError(f"{size} bytes is more than the limit of {self.max_message_bytes}")
        if size < HEADER.size:
            raise WireHeaderError(f"{size} bytes is shorter than the 5-byte wire header")
        if data[0] != MAGIC:
            raise WireHeaderError(f"magic byte {data[0]} is not 0 (not the Confluent wire format)")
        schema_id = int.from_bytes(data[1:5], "big")
        writer = self._writers.get((spec.base, schema_id))
        if writer is None:
            writer = self._writer_slow(spec, schema_id)
        if writer.fast_read is not None:
            # One pass with every check below; whatever it refuses, the full path decides.
            try:
                return writer.fast_read(data, HEADER.size)
            except Exception:
                pass

        fo = io.BytesIO(data)
        fo.seek(HEADER.size)
        value: Any
        try:
            value = schemaless_reader(fo, writer.parsed, None)
        except Exception as exc:
            raise AvroDecodeError(
                f"schema id {schema_id}: {type(exc).__name__} near byte {fo.tell()}: "
                f"{str(exc)[:160]}"
            ) from exc
        end = fo.tell()
        if end != size:
            raise TrailingBytesError(f"{size - end} bytes after the record (schema id {schema_id})")

        # fastavro reads an `int` of any size; Avro's is 32 bits.
        if writer.check is not None:
            try:
                writer.check(value, self.schema_for(spec).fullname)
            except SchemaMismatch as exc:
                raise AvroDecodeError(f"schema id {schema_id}: {exc}") from None
        # Canonical form: the value must re-encode to exactly the bytes it came from.
        if trusted and not writer.resolve:
            result: dict[str, Any] = value
            return result
        out = io.BytesIO()
        try:
            schemaless_writer(out, writer.parsed, value)
        except Exception as exc:
            raise NonCanonicalError(
                f"schema id {schema_id}: decoded value does not re-encode ({type(exc).__name__})"
            ) from exc
        if out.getvalue() != data[HEADER.size :]:
            raise NonCanonicalError(
                f"schema id {schema_id}: body is not canonical Avro (negative union or enum "
                "index, over-long varint, boolean not 0 or 1, or a blocked collection)"
            )
        if writer.resolve:
            fo.seek(HEADER.size)
            try:
                value = schemaless_reader(fo, writer.parsed, self.schema_for(spec).parsed)
            except Exception as exc:
                raise AvroDecodeError(
                    f"schema id {schema_id}: cannot resolve to the current schema: "
                    f"{type(exc).__name__}: {str(exc)[:160]}"
                ) from exc
        resolved: dict[str, Any] = value
        return resolved

    def preload(self, spec: TopicSpec, values: Iterable[bytes | None]) -> None:
        """Fetch the writer schemas that `values` name before any of them is decoded.

        Raises `RegistryUnavailableError` while the registry cannot be asked, so a caller can
        wait for it before handling a batch; ids the registry does not know are left for
        `decode` to refuse (a dead letter), and values without a wire header likewise."""
        missing: set[int] = set()
        for data in values:
            if data is None or len(data) < HEADER.size or data[0] != MAGIC:
                continue
            schema_id = int.from_bytes(data[1:5], "big")
            if (spec.base, schema_id) not in self._writers:
                missing.add(schema_id)
        for schema_id in sorted(missing):
            try:
                self._writer_slow(spec, schema_id)
            except UnknownSchemaError:
                continue

    def _writer_slow(self, spec: TopicSpec, schema_id: int) -> _Writer:
        with self._lock:
            writer = self._writers.get((spec.base, schema_id))
            if writer is not None:
                return writer
            subject = self.subject(spec)
            known = self._versions.get(subject, {})
            if schema_id not in known.values():
                self._refresh(spec, force=False)
                writer = self._writers.get((spec.base, schema_id))
                if writer is not None:
                    return writer
            refused = self._refused.get((spec.base, schema_id))
            if refused is not None:
                raise UnknownSchemaError(
                    f"schema id {schema_id} of subject {subject} is refused: {refused}"
                )
            raise UnknownSchemaError(
                f"schema id {schema_id} is not a registered version of subject {subject}"
            )

    def _refresh(self, spec: TopicSpec, force: bool) -> None:
        """Fetch the subject's versions (at most once per `refresh_interval` unless forced) and
        build a writer for each new one."""
        subject = self.subject(spec)
        now = self._clock()
        last = self._refreshed_at.get(subject)
        if not force and last is not None and now - last < self.refresh_interval:
            return
        self._refreshed_at[subject] = now
        try:
            try:
                versions = self.registry.get_versions(subject)
            except SchemaRegistryError as exc:
                if exc.http_status_code != 404:
                    raise
                versions = []
            known = self._versions.setdefault(subject, {})
            for version in versions:
                if version in known:
                    continue
                registered = self.registry.get_version(subject, version)
                if registered.schema_id is None:
                    continue
                schema_id = int(registered.schema_id)
                known[version] = schema_id
                if (spec.base, schema_id) not in self._writers:
                    built = self._build_writer(spec, schema_id, registered.schema)
                    if isinstance(built, str):
                        self._refused[(spec.base, schema_id)] = built
                    else:
                        self._writers[(spec.base, schema_id)] = built
        except SchemaRegistryError as exc:
            self._refreshed_at.pop(subject, None)
            raise RegistryUnavailableError(f"{subject}: {exc}") from exc
        except Exception as exc:
            self._refreshed_at.pop(subject, None)
            raise RegistryUnavailableError(f"{subject}: {type(exc).__name__}: {exc}") from exc

    def _build_writer(
        self, spec: TopicSpec, schema_id: int, schema: Schema | None
    ) -> _Writer | str:
        """A writer for a registered version, or why we must not decode with it (its id is then
        refused: `UnknownSchemaError`)."""
        current = self.schema_for(spec)
        if schema is None or schema.schema_str is None:
            return "the registry returned no schema text"
        if schema.schema_type not in (None, "AVRO"):
            return f"not an Avro schema ({schema.schema_type})"
        if schema.references:
            return "schema references are not supported"
        try:
            raw = json.loads(schema.schema_str)
            check_writer_schema_safe(raw)
            if shape_of(raw) == current.shape:
                return _Writer(
                    schema_id,
                    current.parsed,
                    resolve=False,
                    check=current.check if current.has_int else None,
                    fast_read=current.fast_read,
                )
            parsed_writer = make_parsed(raw, f"{spec.schema}@{schema_id}", compiled=False)
        except Exception as exc:
            return f"unusable writer schema: {type(exc).__name__}: {str(exc)[:160]}"
        return _Writer(
            schema_id,
            parsed_writer.parsed,
            resolve=True,
            check=parsed_writer.check if parsed_writer.has_int else None,
        )


def _registry_schema(schema: ParsedSchema) -> Schema:
    return Schema(schema.text, schema_type="AVRO")


def new_registry_client(url: str, **conf: Any) -> SchemaRegistryClient:
    """A registry client for `url` (`mock://name` gives confluent-kafka's in-memory mock)."""
    return SchemaRegistryClient.new_client({"url": url, **conf})


def now_utc() -> datetime:
    """The current instant, as the aware UTC datetime a timestamp field takes."""
    return datetime.now(UTC)
