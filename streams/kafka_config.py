"""Kafka client configuration from settings, in one place.

Every confluent-kafka client the gate makes (the output producer, the bulk changelog loader, the
admin client) starts from `client_config`, and every aiokafka client (faust's, the agreements view)
from `aiokafka_security_kwargs`, so a connection setting added here reaches all of them. A secured
cluster (TLS, SASL) is configured by the `CONSENTGATE_SECURITY_PROTOCOL` family of settings.
"""

from __future__ import annotations

import ssl
from typing import Any

from streams.settings import Settings, SettingsError


def uses_sasl(settings: Settings) -> bool:
    return settings.security_protocol.startswith("sasl_")


def uses_tls(settings: Settings) -> bool:
    return settings.security_protocol in ("ssl", "sasl_ssl")


def check_security(settings: Settings) -> None:
    """Refuse a half-configured security setup before any client tries it (fail closed): SASL
    without credentials would only surface as an authentication error deep in a client."""
    if uses_sasl(settings) and not (settings.sasl_username and settings.sasl_password):
        raise SettingsError(
            f"CONSENTGATE_SECURITY_PROTOCOL={settings.security_protocol} needs "
            "CONSENTGATE_SASL_USERNAME and CONSENTGATE_SASL_PASSWORD"
        )
    if settings.ssl_ca_file is not None and not settings.ssl_ca_file.is_file():
        raise SettingsError(f"CONSENTGATE_SSL_CA_FILE={settings.ssl_ca_file}: no such file")


def security_config(settings: Settings) -> dict[str, Any]:
    """The librdkafka security properties for these settings (empty for plaintext)."""
    check_security(settings)
    if settings.security_protocol == "plaintext":
        return {}
    config: dict[str, Any] = {"security.protocol": settings.security_protocol.upper()}
    if uses_sasl(settings):
        config["sasl.mechanism"] = settings.sasl_mechanism.upper()
        config["sasl.username"] = settings.sasl_username
        config["sasl.password"] = settings.sasl_password
    if uses_tls(settings) and settings.ssl_ca_file is not None:
        config["ssl.ca.location"] = str(settings.ssl_ca_file)
    return config


def client_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Connection settings shared by every librdkafka client."""
    config: dict[str, Any] = {"bootstrap.servers": settings.kafka_bootstrap_servers}
    config.update(security_config(settings))
    config.update(overrides)
    return config


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A verifying TLS context (hostname checked) for the Python clients, or None without TLS."""
    if not uses_tls(settings):
        return None
    cafile = str(settings.ssl_ca_file) if settings.ssl_ca_file is not None else None
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)


def aiokafka_security_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (consumer, producer, admin) on these settings."""
    check_security(settings)
    kwargs: dict[str, Any] = {"security_protocol": settings.security_protocol.upper()}
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    if uses_sasl(settings):
        kwargs["sasl_mechanism"] = settings.sasl_mechanism.upper()
        kwargs["sasl_plain_username"] = settings.sasl_username
        kwargs["sasl_plain_password"] = settings.sasl_password
    return kwargs


def output_producer_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """The worker's producer for verdicts, violations, dead letters, re-routes and the table's
    changelog.

    - `acks=all` with idempotence: an input is acknowledged only after its outputs are durable,
      and a retried send never duplicates or reorders within a partition;
    - `murmur2_random`: the Java client's partitioner, which producers must use for the
      recipient-keyed topics (a re-routed record must land where its key says);
    - a few milliseconds of linger and large batches: one produce request carries hundreds of
      records (measured in docs/performance.md).
    """
    config = client_config(
        settings,
        **{
            "client.id": f"{settings.app_id}-outputs",
            "acks": "all",
            "enable.idempotence": True,
            "partitioner": "murmur2_random",
            "linger.ms": round(settings.output_linger.total_seconds() * 1000, 3),
            "batch.size": 1_000_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
        },
    )
    config.update(overrides)
    return config
