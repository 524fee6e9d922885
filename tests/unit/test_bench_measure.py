"""Percentiles and broker-timestamp rates: the arithmetic behind every headline figure."""

from __future__ import annotations

import os
import random

import pytest

from streams.devtools.bench.measure import cpu_seconds, percentile, proc_status_kb, rate, span_of


def test_percentile_is_nearest_rank_on_unsorted_input() -> None:
    values = [float(n) for n in range(1, 101)]
    random.Random(7).shuffle(values)
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 0.999) == 100.0
    assert percentile(values, 1.0) == 100.0


def test_percentile_of_few_values_and_of_none() -> None:
    assert percentile([], 0.5) == 0.0
    assert percentile([3.0], 0.999) == 3.0
    assert percentile([5.0, 1.0], 0.5) == 1.0
    assert percentile([5.0, 1.0], 0.51) == 5.0
    assert percentile([2.0, 9.0, 4.0], 0.0) == 2.0  # rank never below the first


def test_percentile_does_not_reorder_its_input() -> None:
    values = [3.0, 1.0, 2.0]
    percentile(values, 0.5)
    assert values == [3.0, 1.0, 2.0]


def test_rate_counts_the_intervals_between_first_and_last() -> None:
    assert rate(11, 1_000, 2_000) == pytest.approx(10.0)
    assert rate(2, 0, 500) == pytest.approx(2.0)


def test_rate_of_too_few_records_is_zero_and_a_zero_span_is_one_ms() -> None:
    assert rate(0, 0, 0) == 0.0
    assert rate(1, 5, 5_000) == 0.0
    assert rate(3, 7, 7) == pytest.approx(2000.0)


def test_span_of_timestamps() -> None:
    assert span_of([30, 10, 20]) == (10, 30)
    assert span_of([]) == (0, 0)


def test_this_process_has_cpu_time_and_a_peak_rss() -> None:
    sum(n * n for n in range(200_000))  # some CPU time, so that the figure is above 0
    assert cpu_seconds(os.getpid()) > 0
    assert proc_status_kb(os.getpid(), "VmHWM") > 0


def test_unknown_processes_read_as_zero() -> None:
    assert cpu_seconds(None) == 0.0
    assert proc_status_kb(os.getpid(), "NoSuchField") == 0
