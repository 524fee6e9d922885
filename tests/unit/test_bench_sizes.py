"""`consentgate bench` flags become the run's sizes as documented, through the real parser."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from streams.cli.bench import register
from streams.devtools.bench.sizes import FULL, QUICK, sizes_from


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="consentgate")
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["bench", *argv])


def test_no_flags_is_the_full_run_and_quick_the_quick_one() -> None:
    assert sizes_from(parse()) == FULL
    assert sizes_from(parse("--quick")) == QUICK
    assert QUICK.consent_records < FULL.consent_records


def test_consents_alone_keep_the_recipients_per_record_proportion() -> None:
    sizes = sizes_from(parse("--consents", "100000"))
    assert sizes.consent_records == 100_000
    assert sizes.recipients == 100_000 * FULL.recipients // FULL.consent_records
    assert sizes_from(parse("--consents", "1")).recipients == 1  # never zero recipients


def test_explicit_recipients_win_over_the_proportion() -> None:
    sizes = sizes_from(parse("--quick", "--consents", "500", "--recipients", "77"))
    assert (sizes.recipients, sizes.consent_records) == (77, 500)


def test_the_ingest_sample_never_exceeds_the_consent_records() -> None:
    assert sizes_from(parse("--consents", "300")).ingest_sample == 300
    assert sizes_from(parse("--quick")).ingest_sample == QUICK.ingest_sample


def test_the_latency_warmup_is_at_most_a_quarter_of_the_run() -> None:
    short = sizes_from(parse("--latency-seconds", "2"))
    assert short.latency_seconds == 2.0
    assert short.latency_warmup_seconds == pytest.approx(0.5)
    long = sizes_from(parse("--latency-seconds", "600"))
    assert long.latency_warmup_seconds == FULL.latency_warmup_seconds


def test_zero_optout_samples_is_kept_but_absent_means_the_default() -> None:
    assert sizes_from(parse("--optout-samples", "0")).optout_samples == 0
    assert sizes_from(parse("--quick")).optout_samples == QUICK.optout_samples


def test_other_overrides_pass_through() -> None:
    sizes = sizes_from(parse("--intents", "1234", "--drain-seconds", "9.5"))
    assert (sizes.intents, sizes.drain_seconds) == (1234, 9.5)


def test_every_documented_flag_parses() -> None:
    args = parse(
        "--quick", "--json", "--partitions", "3", "--latency-load", "0.4",
        "--latency-rate", "500", "--work-dir", "/tmp/x", "--out", "r.json", "--keep",
        "--kafka-version", "4.0.0",
    )  # fmt: skip
    assert (args.quick, args.json, args.keep) == (True, True, True)
    assert (args.partitions, args.latency_load, args.latency_rate) == (3, 0.4, 500.0)
    assert (args.work_dir, args.out) == (Path("/tmp/x"), Path("r.json"))
    assert args.kafka_version == "4.0.0"
    assert parse().latency_load == 0.6


def test_a_bad_setting_stops_the_command_before_any_connection(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONSENTGATE_PARTITIONS", "not-a-number")
    args = parse("--quick")
    assert args.func(args) == 2
    assert "bad setting" in capsys.readouterr().err
