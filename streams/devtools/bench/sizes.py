"""How big one benchmark run is: the full sizes, the `--quick` ones, and the command's overrides."""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big one run is."""

    recipients: int
    consent_records: int
    intents: int
    drain_seconds: float
    ingest_sample: int
    latency_seconds: float
    latency_warmup_seconds: float
    optout_samples: int


FULL = Sizes(
    recipients=800_000,
    consent_records=1_000_000,
    intents=200_000,
    drain_seconds=120.0,
    ingest_sample=20_000,
    latency_seconds=30.0,
    latency_warmup_seconds=5.0,
    optout_samples=200,
)
QUICK = Sizes(
    recipients=8_000,
    consent_records=10_000,
    intents=5_000,
    drain_seconds=300.0,  # quick runs decide every intent: the window only bounds a hang
    ingest_sample=1_000,
    latency_seconds=5.0,
    latency_warmup_seconds=1.0,
    optout_samples=20,
)


def sizes_from(args: argparse.Namespace) -> Sizes:
    """The run's sizes: `--quick` or full, with the command's overrides. Only `--consents` given
    keeps the full run's recipients-per-record proportion; the ingest sample never exceeds the
    consent records, the latency warm-up never a quarter of the fixed-rate run."""
    base = QUICK if args.quick else FULL
    consents = args.consents or base.consent_records
    recipients = args.recipients or (
        max(1, consents * base.recipients // base.consent_records)
        if args.consents
        else base.recipients
    )
    latency_s = args.latency_seconds or base.latency_seconds
    return Sizes(
        recipients=recipients,
        consent_records=consents,
        intents=args.intents or base.intents,
        drain_seconds=args.drain_seconds or base.drain_seconds,
        ingest_sample=min(base.ingest_sample, consents),
        latency_seconds=latency_s,
        latency_warmup_seconds=min(base.latency_warmup_seconds, latency_s / 4),
        optout_samples=(
            base.optout_samples if args.optout_samples is None else args.optout_samples
        ),
    )
