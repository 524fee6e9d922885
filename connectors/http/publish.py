"""Publishing contract records and answering only after the broker's acknowledgement.

`KafkaPublisher` runs `connectors.producer.GateProducer` (acks=all, idempotent, murmur2 keys) on
one dedicated thread: librdkafka's delivery wait blocks, the event loop must not, and one thread
keeps a batch's flush from mixing with another request's records. A record the broker does not
acknowledge within `timeout_s` raises `PublishFailed`; handlers answer 503 so the caller retries,
and since the record ids come from the provider's ids a retry changes nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from connectors.producer import GateProducer
from streams.serdes import WireCodec
from streams.settings import Settings

log = logging.getLogger("consentgate.connectors")


class PublishFailed(RuntimeError):
    """The records were not all acknowledged: answer 503 and let the caller retry."""


class Publisher(Protocol):
    async def publish(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Return once every record is acknowledged; raise PublishFailed otherwise."""

    async def close(self) -> None: ...


class KafkaPublisher:
    def __init__(self, producer: GateProducer, *, timeout_s: float = 10.0) -> None:
        self._producer = producer
        self._timeout = timeout_s
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="connector-publish")

    @classmethod
    def for_settings(
        cls, settings: Settings, codec: WireCodec, *, timeout_s: float = 10.0
    ) -> KafkaPublisher:
        # librdkafka gives up on a record after message.timeout.ms: that bounds a request's wait.
        producer = GateProducer.for_settings(
            settings, codec, **{"message.timeout.ms": int(timeout_s * 1000)}
        )
        return cls(producer, timeout_s=timeout_s)

    async def publish(self, records: Sequence[Mapping[str, Any]]) -> None:
        if not records:
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._thread, self._publish_all, list(records))
        except Exception as exc:  # PublishError, a codec or registry error: all mean "not acked"
            log.warning("publishing %d records failed: %s", len(records), type(exc).__name__)
            log.debug("publish failure detail: %s", exc)
            raise PublishFailed(str(exc)) from exc

    def _publish_all(self, records: list[Mapping[str, Any]]) -> None:
        if len(records) == 1:
            self._producer.publish(records[0], wait=True)
            return
        for record in records:
            self._producer.publish(record, wait=False)
        self._producer.flush(self._timeout + 5)

    async def close(self) -> None:
        """Flush what is in flight (nothing was answered as done before its ack anyway)."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._thread, self._producer.flush, self._timeout)
        except Exception as exc:
            log.warning("closing the connectors' producer: %s", type(exc).__name__)
        self._thread.shutdown(wait=True)
