"""`consentgate bench`: the gate against a plain Kafka loop on one stack (`make bench`)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    from streams.devtools.bench import register as register_bench

    register_bench(subparsers)
