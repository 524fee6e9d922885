"""`table_size`: the consent-records gauge counts RocksDB tables by estimate, never by a scan."""

from __future__ import annotations

from typing import Any

from streams.runtime.app import table_size


class FakeDB:
    def __init__(self, keys: int) -> None:
        self.keys = keys

    def property_int_value(self, name: str) -> int:
        assert name == "rocksdb.estimate-num-keys"
        return self.keys


class FakeStore:
    def __init__(self, *dbs: Any) -> None:
        self.dbs = dbs

    def _dbs_for_actives(self) -> Any:
        return iter(self.dbs)


class FakeTable(dict):  # type: ignore[type-arg]
    def __init__(self, store: Any, **items: Any) -> None:
        super().__init__(**items)
        self.data = store

    def __len__(self) -> int:
        raise AssertionError("len() would visit every key")


def test_rocksdb_tables_are_counted_from_the_estimate_of_each_active_partition() -> None:
    table = FakeTable(FakeStore(FakeDB(3), FakeDB(4)))
    assert table_size(table) == 7


def test_other_stores_are_counted_with_len() -> None:
    assert table_size({"a": 1, "b": 2}) == 2


def test_a_db_without_the_estimate_falls_back_to_len() -> None:
    class Counted(dict):  # type: ignore[type-arg]
        data = FakeStore(object())

    assert table_size(Counted(a=1)) == 1
