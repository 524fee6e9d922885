"""The one place a `WireCodec` is built from settings.

Every process that reads or writes the gate's topics (worker, CLI commands, demo, benchmark, tests)
needs the same registry client and the same topic prefix; building them in one place keeps a new
registry setting (authentication, TLS) from reaching some clients and not others.
"""

from __future__ import annotations

from typing import Any

from streams.serdes.codec import WireCodec, new_registry_client
from streams.settings import Settings


def registry_config(settings: Settings) -> dict[str, Any]:
    """confluent-kafka SchemaRegistryClient configuration for these settings: basic auth when a
    registry user is set, and the project CA for an https registry."""
    config: dict[str, Any] = {"url": settings.schema_registry_url}
    if settings.registry_username or settings.registry_password:
        config["basic.auth.user.info"] = (
            f"{settings.registry_username}:{settings.registry_password}"
        )
    if settings.schema_registry_url.startswith("https:") and settings.ssl_ca_file is not None:
        config["ssl.ca.location"] = str(settings.ssl_ca_file)
    return config


def codec_for(settings: Settings, *, register: bool = False, **options: Any) -> WireCodec:
    """A codec on the configured registry and topic prefix; `register` also registers the schemas
    (what a worker does at start-up). `options` pass through to `WireCodec` (sizes, clocks)."""
    client = new_registry_client(**registry_config(settings))
    codec = WireCodec(client, topic_prefix=settings.topic_prefix, **options)
    if register:
        codec.register_all()
    return codec
