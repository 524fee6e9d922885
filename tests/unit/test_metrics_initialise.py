"""Metric families with known label values exist at 0 from start-up (`GateMetrics.initialise`)."""

from __future__ import annotations

from prometheus_client import generate_latest

from streams import topics
from streams.metrics import GATE_ERROR_CLASSES, GateMetrics
from streams.serdes.codec import DECODE_ERROR_CLASSES


def _samples(metrics: GateMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in metrics.registry.collect()
        for s in family.samples
    }


def test_dead_letters_are_exported_before_the_first_dead_letter():
    metrics = GateMetrics()
    assert b"consentgate_dead_letters_total{" not in generate_latest(metrics.registry)
    metrics.initialise()
    samples = _samples(metrics)
    for spec in topics.INPUTS:
        for error_class in (*DECODE_ERROR_CLASSES, *GATE_ERROR_CLASSES):
            key = (
                "consentgate_dead_letters_total",
                (("error_class", error_class), ("source_topic", spec.base)),
            )
            assert samples[key] == 0.0, key
        assert samples[("consentgate_processing_errors_total", (("topic", spec.base),))] == 0.0
        assert samples[("consentgate_consumer_lag", (("topic", spec.base),))] == 0.0
        assert samples[("consentgate_commits_clamped_total", (("topic", spec.base),))] == 0.0
    for generation in ("0", "1", "2"):
        key = ("consentgate_gc_pause_seconds_total", (("generation", generation),))
        assert samples[key] == 0.0, key


def test_initialising_keeps_counts_already_made():
    metrics = GateMetrics()
    metrics.dead_letters.labels(topics.OPTOUT.base, "avro_decode").inc(3)
    metrics.initialise()
    key = (
        "consentgate_dead_letters_total",
        (("error_class", "avro_decode"), ("source_topic", topics.OPTOUT.base)),
    )
    assert _samples(metrics)[key] == 3.0


def test_the_worker_app_initialises_its_metrics(tmp_path):
    from streams.runtime.app import create_app
    from streams.settings import Settings

    settings = Settings().replace(app_id="metrics-init", store="memory://", data_dir=tmp_path)
    worker = create_app(
        settings,
        partitions=2,
        partner_partitions=1,
        codec=None,  # type: ignore[arg-type]  # not used until a record arrives
        with_web_metrics=False,
        outputs=object(),  # type: ignore[arg-type]
    )
    key = (
        "consentgate_dead_letters_total",
        (("error_class", "registry_unavailable"), ("source_topic", topics.CONSENT.base)),
    )
    assert _samples(worker.metrics)[key] == 0.0
