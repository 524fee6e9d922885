"""Which Kafka broker and schema registry a tool talks to: the one place that decides.

`make demo`, `make bench` and the test suite share one rule. When both `KAFKA_BOOTSTRAP_SERVERS`
and `SCHEMA_REGISTRY_URL` are set, that stack is used as it is (someone runs it); when neither is,
the embedded stack (`streams.devtools.localstack`) is started and, if this call started it, stopped
again afterwards; one without the other is an error, because pairing a configured broker with an
embedded registry (or the reverse) silently splits the data between two places.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from streams.settings import Settings

BOOTSTRAP_VARIABLE = "KAFKA_BOOTSTRAP_SERVERS"
REGISTRY_VARIABLE = "SCHEMA_REGISTRY_URL"


class StackChoiceError(RuntimeError):
    """Only one of the two endpoint variables is set."""


@dataclass(frozen=True)
class ChosenStack:
    """Where to connect, what runs there, and who started it."""

    bootstrap_servers: str
    schema_registry_url: str
    kafka_version: str  # "unknown" for a configured stack
    source: str  # "configured" or "embedded"
    started: tuple[str, ...] = ()  # components this call started (embedded only)
    broker_pid: int | None = None  # the embedded broker's pid, for CPU accounting

    def settings(self, base: Settings, **changes: Any) -> Settings:
        """`base` pointed at this stack."""
        return base.replace(
            kafka_bootstrap_servers=self.bootstrap_servers,
            schema_registry_url=self.schema_registry_url,
            **changes,
        )


def configured_endpoints(environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(bootstrap, registry url) when both variables are set, None when neither is."""
    source = os.environ if environ is None else environ
    bootstrap = source.get(BOOTSTRAP_VARIABLE, "").strip()
    registry = source.get(REGISTRY_VARIABLE, "").strip()
    if bootstrap and registry:
        return bootstrap, registry
    if bootstrap or registry:
        raise StackChoiceError(f"set both {BOOTSTRAP_VARIABLE} and {REGISTRY_VARIABLE}, or neither")
    return None


@contextmanager
def chosen_stack(
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    log: Callable[[str], None] | None = None,
    stop_what_it_started: bool = True,
    **local_options: Any,
) -> Iterator[ChosenStack]:
    """The configured stack, else the embedded one (started if needed). `local_options` go to
    `LocalStack` (e.g. `cache_dir`); the embedded stack's ports and state dir come from
    `settings`."""
    configured = configured_endpoints(environ)
    if configured is not None:
        yield ChosenStack(configured[0], configured[1], "unknown", "configured")
        return
    from streams.devtools.localstack import LocalStack
    from streams.devtools.localstack.stack import KAFKA

    local = LocalStack(settings, log=log, **local_options)
    endpoints = local.up()
    try:
        yield ChosenStack(
            endpoints.bootstrap_servers,
            endpoints.schema_registry_url,
            endpoints.kafka_version,
            "embedded",
            tuple(endpoints.started),
            local.running_pid(KAFKA),
        )
    finally:
        if stop_what_it_started and endpoints.started:
            local.down()
