"""Confluent wire format in and out, with the checks fastavro lacks.

`codec` holds `WireCodec` (magic byte, schema id of this topic's subject, canonical re-encoding,
trailing bytes, size limits); `schemas` loads and checks the `.avsc` files; `factory.codec_for`
builds the codec from settings, the one way the rest of the project gets one.
"""

from streams.serdes.codec import *  # noqa: F403 - the package's public names are the codec's
from streams.serdes.codec import __all__ as _codec_all
from streams.serdes.factory import codec_for, registry_config

__all__ = [*_codec_all, "codec_for", "registry_config"]
