"""The data directory and the store check (`streams/runtime/store_check.py`), without Kafka: the
cluster's answers are given, the store is real RocksDB on disk."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import rocksdict

from streams.runtime import faust_compat, store_check
from streams.runtime.store_check import StoreFacts, resolve_data_dir, stale_reason
from streams.settings import Settings

TABLE = "recipients"


def _settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings().replace(app_id="gate-a", data_dir=tmp_path / "data", **changes)


def _write_partition(data_dir: Path, partition: int, offset: int | None) -> Path:
    """A partition database where faust keeps it, with a persisted offset as faust writes it."""
    path = data_dir / "v1" / "tables" / f"{TABLE}-{partition}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    options = rocksdict.Options(raw_mode=True)
    options.create_if_missing(True)
    db = rocksdict.Rdict(str(path), options=options)
    db[b"some-recipient"] = b"state"
    if offset is not None:
        db[b"__faust\0offset__"] = str(offset).encode()
    db.close()
    return path


# -- where ---------------------------------------------------------------------------------------


def test_default_is_per_user_and_per_app_under_xdg_state_home(tmp_path):
    settings = Settings().replace(app_id="gate-a", state_home=tmp_path / "state")
    assert resolve_data_dir(settings) == tmp_path / "state" / "consentgate" / "gate-a"


def test_default_without_xdg_state_home_is_under_the_home_directory(tmp_path):
    settings = Settings().replace(app_id="gate-b")
    assert resolve_data_dir(settings, home=tmp_path) == (
        tmp_path / ".local" / "state" / "consentgate" / "gate-b"
    )


def test_a_relative_xdg_state_home_is_ignored_as_the_spec_says(tmp_path):
    settings = Settings().replace(app_id="gate-c", state_home=Path("relative/state"))
    assert resolve_data_dir(settings, home=tmp_path) == (
        tmp_path / ".local" / "state" / "consentgate" / "gate-c"
    )


def test_a_relative_override_is_taken_from_the_working_directory(tmp_path):
    settings = Settings().replace(data_dir=Path("here/worker"))
    assert resolve_data_dir(settings, cwd=tmp_path) == tmp_path / "here" / "worker"
    absolute = Settings().replace(data_dir=tmp_path / "abs")
    assert resolve_data_dir(absolute, cwd=Path("/elsewhere")) == tmp_path / "abs"


@pytest.mark.parametrize("app_id", ["..", "a/b", ""])
def test_an_app_id_never_leaves_the_consentgate_directory(tmp_path, app_id):
    settings = Settings().replace(app_id=app_id, state_home=tmp_path)
    path = resolve_data_dir(settings)
    assert path.parent == tmp_path / "consentgate"
    assert path.name not in {"", ".", ".."} and "/" not in path.name


def test_the_data_directory_is_created_with_its_parents(tmp_path):
    settings = Settings().replace(app_id="gate-d", state_home=tmp_path / "deep" / "er")
    resolved = store_check.with_data_dir(settings)
    assert resolved.data_dir == tmp_path / "deep" / "er" / "consentgate" / "gate-d"
    assert resolved.data_dir.is_dir()


def test_unset_data_dir_reaches_a_child_as_unset():
    # WorkerProcess passes every setting: an unset data dir must stay unset, so the child
    # derives its own default rather than inheriting the parent's.
    from streams.settings import current_values

    shown = current_values(Settings())
    assert shown["CONSENTGATE_DATA_DIR"] == ""
    assert Settings.from_env({"CONSENTGATE_DATA_DIR": ""}).data_dir is None


# -- the decision --------------------------------------------------------------------------------


def test_a_store_that_fits_is_kept():
    store = StoreFacts("cluster-1", "gate-a", {0: 41, 1: None, 2: 9})
    assert stale_reason(store, cluster_id="cluster-1", app_id="gate-a",
                        changelog_ends={0: 42, 1: 0, 2: 100}) is None  # fmt: skip


def test_another_cluster_id_makes_the_store_stale():
    store = StoreFacts("cluster-1", "gate-a", {0: 1})
    reason = stale_reason(store, cluster_id="cluster-2", app_id="gate-a", changelog_ends={0: 5})
    assert reason is not None and "cluster-1" in reason and "cluster-2" in reason


def test_another_app_id_makes_the_store_stale():
    store = StoreFacts("cluster-1", "gate-a", {})
    reason = stale_reason(store, cluster_id="cluster-1", app_id="gate-b", changelog_ends={})
    assert reason is not None and "gate-a" in reason


@pytest.mark.parametrize("offset, end", [(42, 42), (43, 42), (10, 0)])
def test_an_offset_at_or_past_the_changelog_end_makes_the_store_stale(offset, end):
    store = StoreFacts("cluster-1", "gate-a", {0: 0, 1: offset})
    reason = stale_reason(store, cluster_id="cluster-1", app_id="gate-a",
                          changelog_ends={0: 1, 1: end})  # fmt: skip
    assert reason is not None and "partition 1" in reason and "past the changelog's end" in reason


def test_the_last_offset_just_below_the_end_fits():
    store = StoreFacts("cluster-1", "gate-a", {0: 41})
    assert stale_reason(store, cluster_id="cluster-1", app_id="gate-a",
                        changelog_ends={0: 42}) is None  # fmt: skip


def test_offsets_without_a_changelog_or_its_partition_make_the_store_stale():
    store = StoreFacts(None, None, {3: 7})
    assert "does not exist" in str(
        stale_reason(store, cluster_id="c", app_id="a", changelog_ends=None)
    )
    assert "only 2 partitions" in str(
        stale_reason(store, cluster_id="c", app_id="a", changelog_ends={0: 9, 1: 9})
    )


def test_a_store_without_a_record_is_checked_by_its_offsets_alone():
    # Stores made before cluster.json existed: no cluster to compare, offsets still are.
    store = StoreFacts(None, None, {0: 3})
    assert stale_reason(store, cluster_id="c", app_id="a", changelog_ends={0: 4}) is None


def test_an_unreadable_partition_database_makes_the_store_stale():
    store = StoreFacts("c", "a", {0: 1}, unreadable=(2,))
    assert "partition 2" in str(stale_reason(store, cluster_id="c", app_id="a",
                                             changelog_ends={0: 5}))  # fmt: skip


# -- on disk -------------------------------------------------------------------------------------


def test_read_store_finds_each_partition_and_its_persisted_offset(tmp_path):
    _write_partition(tmp_path, 0, 41)
    _write_partition(tmp_path, 4, None)
    (tmp_path / "v1" / "tables" / "other-1.db").mkdir()
    (tmp_path / store_check.CLUSTER_FILE).write_text(
        json.dumps({"cluster_id": "c-1", "app_id": "gate-a"})
    )
    facts = store_check.read_store(tmp_path, TABLE)
    assert facts == StoreFacts("c-1", "gate-a", {0: 41, 4: None}, ())


def test_a_corrupt_partition_database_is_reported_unreadable(tmp_path):
    path = tmp_path / "v1" / "tables" / f"{TABLE}-1.db"
    path.mkdir(parents=True)
    (path / "CURRENT").write_text("garbage\n")
    facts = store_check.read_store(tmp_path, TABLE)
    assert facts.unreadable == (1,)


def test_move_aside_renames_and_never_overwrites(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "marker").write_text("first")
    first = store_check.move_aside(data, now=0)
    data.mkdir()
    (data / "marker").write_text("second")
    second = store_check.move_aside(data, now=0)
    assert first.name == "data.stale-19700101T000000Z"
    assert second.name == "data.stale-19700101T000000Z-2"
    assert (first / "marker").read_text() == "first"
    assert (second / "marker").read_text() == "second"
    assert not data.exists()


# -- the whole check, with the cluster's answers given -------------------------------------------


@pytest.fixture
def cluster(monkeypatch):
    answers = {"cluster_id": "cluster-1", "ends": {0: 100, 1: 100}}
    asked: list[str] = []
    monkeypatch.setattr(store_check, "cluster_id_of", lambda settings: answers["cluster_id"])

    def ends(settings, topic):
        asked.append(topic)
        return answers["ends"]

    monkeypatch.setattr(store_check, "changelog_ends", ends)
    answers["asked"] = asked
    return answers


def test_a_fresh_directory_records_the_cluster_and_app(tmp_path, cluster):
    settings = store_check.check_store(_settings(tmp_path), TABLE)
    recorded = json.loads((tmp_path / "data" / "cluster.json").read_text())
    assert recorded == {"cluster_id": "cluster-1", "app_id": "gate-a"}
    assert settings.data_dir == tmp_path / "data"


def test_a_fitting_store_is_kept_in_place(tmp_path, cluster):
    settings = _settings(tmp_path)
    store_check.check_store(settings, TABLE)
    _write_partition(tmp_path / "data", 0, 99)
    store_check.check_store(settings, TABLE)
    assert cluster["asked"] == ["gate-a-recipients-changelog"]
    assert store_check.read_store(tmp_path / "data", TABLE).persisted == {0: 99}
    assert not list(tmp_path.glob("data.stale-*"))


def test_a_store_from_a_replaced_cluster_is_moved_aside_with_a_warning(tmp_path, cluster, caplog):
    settings = _settings(tmp_path)
    store_check.check_store(settings, TABLE)
    _write_partition(tmp_path / "data", 0, 5)
    cluster["cluster_id"] = "cluster-2"
    with caplog.at_level(logging.WARNING, logger=store_check.__name__):
        store_check.check_store(settings, TABLE)
    [moved] = tmp_path.glob("data.stale-*")
    assert store_check.read_store(moved, TABLE).persisted == {0: 5}
    assert store_check.read_store(tmp_path / "data", TABLE).persisted == {}
    assert json.loads((tmp_path / "data" / "cluster.json").read_text())["cluster_id"] == (
        "cluster-2"
    )
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "cluster-1" in warning.getMessage() and "cluster-2" in warning.getMessage()
    assert settings.kafka_bootstrap_servers not in warning.getMessage()


def test_a_store_past_the_changelog_end_is_moved_aside(tmp_path, cluster, caplog):
    settings = _settings(tmp_path)
    store_check.check_store(settings, TABLE)
    _write_partition(tmp_path / "data", 1, 250)
    with caplog.at_level(logging.WARNING, logger=store_check.__name__):
        store_check.check_store(settings, TABLE)
    assert len(list(tmp_path.glob("data.stale-*"))) == 1
    assert "past the changelog's end" in caplog.text


def test_an_in_memory_store_is_not_checked(tmp_path, monkeypatch):
    def never(settings):
        raise AssertionError("asked the cluster for an in-memory store")

    monkeypatch.setattr(store_check, "cluster_id_of", never)
    settings = store_check.check_store(_settings(tmp_path, store="memory://"), TABLE)
    assert settings.data_dir is not None and settings.data_dir.is_dir()


def test_partition_paths_follow_faust_layout(tmp_path):
    path = _write_partition(tmp_path, 3, 1)
    assert faust_compat.table_partition_paths(tmp_path, TABLE) == {3: path}
