"""`WireCodec.preload`: a batch learns whether the registry can be asked before it is handled."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.producer import wire_record
from streams import topics
from streams.serdes import RegistryUnavailableError, UnknownSchemaError, WireCodec
from tests.builders import mock_codec, optout


def test_known_and_foreign_values_need_no_registry() -> None:
    codec = mock_codec()
    value = codec.encode(topics.OPTOUT, wire_record(optout()))
    codec.preload(topics.OPTOUT, [value, None, b"", b"\x01junk", b"\x00"])


def test_an_unknown_id_is_left_for_decode_to_refuse() -> None:
    codec = mock_codec()
    unknown = b"\x00\x00\x00\x99\x99" + b"\x02"
    codec.preload(topics.OPTOUT, [unknown])  # no error here ...
    with pytest.raises(UnknownSchemaError):
        codec.decode(topics.OPTOUT, unknown)  # ... the dead letter comes from decode


def test_an_unreachable_registry_is_reported_before_any_decode() -> None:
    writer = mock_codec()
    value = writer.encode(topics.OPTOUT, wire_record(optout()))

    class Down:
        def __getattr__(self, name: str) -> Any:
            def fail(*args: Any, **kwargs: Any) -> Any:
                raise ConnectionError("registry down")

            return fail

    reader = WireCodec(Down(), refresh_interval=0)  # type: ignore[arg-type]
    with pytest.raises(RegistryUnavailableError):
        reader.preload(topics.OPTOUT, [value])
