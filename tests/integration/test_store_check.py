"""Starts anywhere, and never serves a store that does not match the cluster (issue 13, point 1).

- `consentgate worker` from an empty folder, with no CONSENTGATE_DATA_DIR: the default data
  directory is under ~/.local/state/consentgate/<app id>, made with its parents; /ready and /live
  answer 200.
- The cluster is replaced by an empty one (a broker of our own, its storage reformatted, so a new
  cluster id) while the worker's store survives: it is moved aside with a warning, the worker
  rebuilds, and a recipient whose consent only the old cluster knew is denied.
- The gate's topics are deleted and recreated (same cluster): the store's persisted changelog
  offsets are past the end, and the same happens.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from streams import topics
from streams.devtools.bench.kafkaio import topic_end_offsets
from streams.devtools.localstack import LocalStack
from streams.devtools.ports import free_port
from streams.runtime import faust_compat
from streams.runtime.admin import ensure_topics
from streams.runtime.app import TABLE_NAME
from streams.settings import Settings
from tests.conftest import KafkaStack
from tests.gatekit import RunningGate, SmsRecipients, gate_settings

PEOPLE = SmsRecipients(5_100_000)
RECIPIENTS = 50


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _health(gate: RunningGate, page: str) -> int:
    settings = gate.settings
    return _get(f"http://{settings.web_bind}:{settings.web_port}/{page}")[0]


def _wait_ready(gate: RunningGate, timeout: float = 60.0) -> None:
    """Ready in the log (WorkerProcess) is not yet /ready: wait for the page to say so."""
    deadline = time.monotonic() + timeout
    while _health(gate, "ready") != 200:
        assert time.monotonic() < deadline, "/ready never answered 200"
        time.sleep(0.2)


def _decide(gate: RunningGate, prefix: str, people: range) -> dict[int, tuple[str, str]]:
    verdicts = gate.reader(topics.VERDICTS)
    try:
        intents = [PEOPLE.intent(f"{prefix}{n}", n) for n in people]
        gate.producer.publish_all(intents, wait_each=False)
        verdicts.wait_for_ids([i["id"] for i in intents], timeout=120)
        got = {r["id"]: (r["decision"], r["reason"]) for r in verdicts.records}
        return {n: got[f"{prefix}{n}"] for n in people}
    finally:
        verdicts.close()


def _seed_and_check(gate: RunningGate) -> None:
    """Consent for every recipient, then verdicts that prove the store has it."""
    gate.producer.publish_all((PEOPLE.consent(n) for n in range(RECIPIENTS)), wait_each=False)
    decided = _decide(gate, "before-", range(RECIPIENTS))
    assert set(decided.values()) == {("allow", "CONSENT_VALID")}


def _after_rebuild_only_new_state_counts(gate: RunningGate) -> None:
    """The old consents are gone with the old cluster/topics: denied. A new consent allows."""
    gate.producer.publish(PEOPLE.consent(0), wait=True)
    decided = _decide(gate, "after-", range(RECIPIENTS))
    assert decided[0] == ("allow", "CONSENT_VALID")
    assert {decided[n] for n in range(1, RECIPIENTS)} == {("deny", "NO_CONSENT")}


def _stale_dirs(data_dir: Path) -> list[Path]:
    return sorted(data_dir.parent.glob(f"{data_dir.name}.stale-*"))


def _moved_aside_with_warning(gate: RunningGate, says: str) -> Path:
    data_dir = gate.settings.data_dir
    assert data_dir is not None
    [moved] = _stale_dirs(data_dir)
    assert faust_compat.table_partition_paths(moved, TABLE_NAME), "the old store was not kept"
    log = gate.worker.log_tail(2000)
    [line] = [x for x in log.splitlines() if "does not match the cluster" in x]
    assert "WARNING" in line and says in line, line
    assert gate.settings.kafka_bootstrap_servers not in line
    assert "ConsistencyError" not in log
    return moved


def test_worker_starts_from_an_empty_folder_without_a_data_dir(
    kafka_stack, unique_name, tmp_path, monkeypatch
):
    home, cwd = tmp_path / "home", tmp_path / "empty"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.delenv("CONSENTGATE_DATA_DIR", raising=False)
    monkeypatch.chdir(cwd)
    settings = gate_settings(kafka_stack, unique_name("anywhere"), tmp_path).replace(
        data_dir=None, state_home=None
    )
    gate = RunningGate.start(settings, tmp_path)
    try:
        _wait_ready(gate)
        assert _health(gate, "live") == 200
        data_dir = home / ".local" / "state" / "consentgate" / settings.app_id
        recorded = json.loads((data_dir / "cluster.json").read_text())
        assert recorded["app_id"] == settings.app_id and recorded["cluster_id"]
        assert list(cwd.iterdir()) == [], "the worker wrote into its working directory"
        _seed_and_check(gate)
        assert faust_compat.table_partition_paths(data_dir, TABLE_NAME)
    finally:
        gate.stop()


@pytest.fixture
def own_stack(tmp_path, jar_cache) -> Any:
    """A broker and registry of this test's own, on free ports (never the shared test stack)."""
    settings = Settings().replace(
        state_dir=tmp_path / "own-stack",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        registry_port=free_port(),
    )
    stack = LocalStack(settings, cache_dir=jar_cache)
    stack.up()
    try:
        yield stack
    finally:
        stack.down()


def test_store_from_a_replaced_cluster_is_moved_aside_and_rebuilt(own_stack, unique_name, tmp_path):
    endpoints = own_stack.endpoints()
    stack = KafkaStack(endpoints.bootstrap_servers, endpoints.schema_registry_url, "", "own")
    settings = gate_settings(stack, unique_name("replaced"), tmp_path)
    gate = RunningGate.start(settings, tmp_path)
    try:
        _seed_and_check(gate)
    finally:
        assert gate.worker.stop() == 0
    first_id = json.loads((settings.data_dir / "cluster.json").read_text())["cluster_id"]

    own_stack.down()
    shutil.rmtree(own_stack.kafka_layout.home)  # reformatted on `up`: a new, empty cluster
    own_stack.up()

    gate = RunningGate.start(settings, tmp_path)  # topics and schemas made afresh
    try:
        _wait_ready(gate)
        _moved_aside_with_warning(gate, "Kafka cluster")
        second_id = json.loads((settings.data_dir / "cluster.json").read_text())["cluster_id"]
        assert second_id != first_id
        _after_rebuild_only_new_state_counts(gate)
    finally:
        gate.stop()


def _seeded_and_stopped(stack: KafkaStack, name: str, tmp_path: Path) -> tuple[Settings, str]:
    """A gate that applied consent for every recipient and stopped cleanly: its settings and
    its table's changelog topic."""
    settings = gate_settings(stack, name, tmp_path)
    gate = RunningGate.start(settings, tmp_path)
    try:
        _seed_and_check(gate)
    finally:
        assert gate.worker.stop() == 0
    return settings, faust_compat.changelog_topic_for(settings.app_id, TABLE_NAME)


def test_store_past_the_end_of_a_recreated_changelog_is_moved_aside(
    kafka_stack, unique_name, tmp_path
):
    settings, changelog = _seeded_and_stopped(kafka_stack, unique_name("recreated"), tmp_path)

    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    ours = [spec.name(settings.topic_prefix) for spec in topics.ALL] + [changelog]
    for future in admin.delete_topics(ours, operation_timeout=30).values():
        future.result()
    deadline = time.monotonic() + 60
    while set(ours) & set(admin.list_topics(timeout=10).topics):
        assert time.monotonic() < deadline, "topics not deleted"
        time.sleep(0.5)
    ensure_topics(settings, changelog=changelog)  # recreated empty: stored offsets are past it

    gate = RunningGate.start(settings, tmp_path)
    try:
        _wait_ready(gate)
        _moved_aside_with_warning(gate, "past the changelog's end")
        _after_rebuild_only_new_state_counts(gate)
    finally:
        gate.stop()


def test_a_clean_stop_records_the_changelog_end_in_the_store(kafka_stack, unique_name, tmp_path):
    # The next start replays nothing: a stop revokes every partition before the worker records
    # its last offsets, and those must still reach each partition's database (statestore.py).
    settings, changelog = _seeded_and_stopped(kafka_stack, unique_name("clean-stop"), tmp_path)
    ends = topic_end_offsets(settings.kafka_bootstrap_servers, changelog)
    assert settings.data_dir is not None
    paths = faust_compat.table_partition_paths(settings.data_dir, TABLE_NAME)
    recorded = {p: faust_compat.read_persisted_offset(path) for p, path in paths.items()}
    written = {p: end - 1 for p, end in ends.items() if end > 0}
    assert written, "nothing reached the changelog"
    assert {p: recorded.get(p) for p in written} == written
