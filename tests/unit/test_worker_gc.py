"""The worker's garbage-collector tuning (issue 12, item 6; CONSENTGATE_GC_TUNING)."""

from __future__ import annotations

import gc

import pytest

from streams.runtime.worker import GC_GEN0_THRESHOLD, tune_gc
from streams.settings import Settings


@pytest.fixture
def restored_gc():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_tuning_freezes_start_up_objects_and_raises_only_the_youngest_threshold(restored_gc):
    _, gen1, gen2 = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    tune_gc(True)
    assert gc.get_threshold() == (GC_GEN0_THRESHOLD, gen1, gen2)
    assert gc.get_freeze_count() > 0


def test_without_tuning_the_collector_is_left_alone(restored_gc):
    before = gc.get_threshold()
    tune_gc(False)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_tuning_is_on_by_default_and_can_be_turned_off():
    assert Settings().gc_tuning is True
    assert Settings.from_env({"CONSENTGATE_GC_TUNING": "false"}).gc_tuning is False
