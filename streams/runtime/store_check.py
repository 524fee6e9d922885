"""The worker's data directory: where it is, and whether the store in it still fits the cluster.

A RocksDB table store is a cache of the table's changelog on one Kafka cluster. When that cluster
is replaced (a new cluster id) or the changelog is deleted and recreated (persisted offsets past
its end), the store holds state the cluster no longer has: faust would stop with its
ConsistencyError, or, where its check does not fire, serve the stale state. Before faust or the
bulk loader (`recovery.py`) opens the store, this module compares it with the cluster; a store that
does not fit is moved aside (renamed, never deleted: it may be evidence) and the worker rebuilds
from the changelog. `cluster.json` in the data directory records which cluster and app id the
store was made for.

The default directory is absolute, per user and per app id ($XDG_STATE_HOME/consentgate/<app id>),
so `consentgate worker` starts from any working directory.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from streams.settings import Settings

log = logging.getLogger(__name__)

CLUSTER_FILE = "cluster.json"
CLUSTER_ID_TIMEOUT_S = 15.0
WATERMARK_TIMEOUT_S = 10.0


class StoreCheckError(RuntimeError):
    """The cluster could not be asked what the store must be compared with."""


# -- where -------------------------------------------------------------------------------------


def resolve_data_dir(
    settings: Settings, *, cwd: Path | None = None, home: Path | None = None
) -> Path:
    """The absolute data directory: `CONSENTGATE_DATA_DIR` (a relative one from the working
    directory), else `$XDG_STATE_HOME/consentgate/<app id>` (`~/.local/state` without it; a
    relative XDG_STATE_HOME is ignored, as the XDG spec says)."""
    if settings.data_dir is not None:
        path = settings.data_dir.expanduser()
        return path if path.is_absolute() else (cwd or Path.cwd()) / path
    state_home = settings.state_home
    if state_home is None or not state_home.is_absolute():
        state_home = (home or Path.home()) / ".local" / "state"
    return state_home / "consentgate" / _path_safe(settings.app_id)


def _path_safe(name: str) -> str:
    """One path component for an app id (never `..` or a separator)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return f"_{safe}" if safe in {"", ".", ".."} else safe


def with_data_dir(settings: Settings) -> Settings:
    """`settings` with the data directory resolved and created, parents included."""
    data_dir = resolve_data_dir(settings)
    data_dir.mkdir(parents=True, exist_ok=True)
    return settings.replace(data_dir=data_dir)


# -- what the store says -----------------------------------------------------------------------


@dataclass(frozen=True)
class StoreFacts:
    """What is on disk: the recorded cluster and app id, and each partition database's
    persisted changelog offset (None: none persisted)."""

    cluster_id: str | None = None
    app_id: str | None = None
    persisted: Mapping[int, int | None] = field(default_factory=dict)
    unreadable: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return self.cluster_id is None and not self.persisted and not self.unreadable


def read_store(data_dir: Path, table_name: str) -> StoreFacts:
    from streams.runtime import faust_compat

    recorded: dict[str, str] = {}
    try:
        loaded = json.loads((data_dir / CLUSTER_FILE).read_text())
        if isinstance(loaded, dict):
            recorded = {k: str(v) for k, v in loaded.items()}
    except FileNotFoundError:
        pass
    except (OSError, ValueError):
        recorded = {"cluster_id": "(unreadable cluster.json)"}
    persisted: dict[int, int | None] = {}
    unreadable: list[int] = []
    for partition, path in sorted(faust_compat.table_partition_paths(data_dir, table_name).items()):
        try:
            persisted[partition] = faust_compat.read_persisted_offset(path)
        except Exception:  # a corrupt or foreign database: rebuilding is the way out
            unreadable.append(partition)
    return StoreFacts(
        recorded.get("cluster_id"), recorded.get("app_id"), persisted, tuple(unreadable)
    )


# -- the decision --------------------------------------------------------------------------------


def stale_reason(
    store: StoreFacts,
    *,
    cluster_id: str,
    app_id: str,
    changelog_ends: Mapping[int, int] | None,
) -> str | None:
    """Why the store must not be used on this cluster, or None when it fits.

    `changelog_ends` is the changelog's high watermark per partition (None: no such topic). A
    persisted offset is the offset of the last record applied, so it must be below the end."""
    if store.app_id is not None and store.app_id != app_id:
        return f"it was made for app id {store.app_id!r}, not {app_id!r}"
    if store.cluster_id is not None and store.cluster_id != cluster_id:
        return (
            f"it was made on Kafka cluster {store.cluster_id}, but the cluster now has id "
            f"{cluster_id}"
        )
    if store.unreadable:
        return f"the database of partition {store.unreadable[0]} cannot be read"
    for partition, offset in sorted(store.persisted.items()):
        if offset is None:
            continue
        if changelog_ends is None:
            return (
                f"partition {partition} has changelog offset {offset}, but the changelog topic "
                "does not exist"
            )
        end = changelog_ends.get(partition)
        if end is None:
            return (
                f"partition {partition} has changelog offset {offset}, but the changelog has "
                f"only {len(changelog_ends)} partitions"
            )
        if offset >= end:
            return (
                f"partition {partition} has changelog offset {offset}, past the changelog's end "
                f"({end})"
            )
    return None


# -- asking the cluster --------------------------------------------------------------------------


def cluster_id_of(settings: Settings, timeout: float = CLUSTER_ID_TIMEOUT_S) -> str:
    from streams.runtime.admin import admin_client

    admin = admin_client(settings)  # held: a dropped client fails its futures with _DESTROY
    try:
        description = admin.describe_cluster(request_timeout=timeout).result(timeout=timeout + 1)
    except Exception as exc:
        raise StoreCheckError(
            f"cannot ask the Kafka cluster for its id to check the local store: {exc}"
        ) from exc
    return str(description.cluster_id)


def changelog_ends(settings: Settings, topic: str) -> dict[int, int] | None:
    """High watermark per partition of `topic`; None when the topic does not exist."""
    from confluent_kafka import Consumer, TopicPartition

    from streams.kafka_config import client_config

    consumer = Consumer(
        client_config(
            settings,
            **{"group.id": f"{settings.app_id}-store-check", "enable.auto.commit": False},
        )
    )
    try:
        metadata = consumer.list_topics(topic, timeout=WATERMARK_TIMEOUT_S).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return None
        return {
            p: consumer.get_watermark_offsets(
                TopicPartition(topic, p), timeout=WATERMARK_TIMEOUT_S
            )[1]
            for p in sorted(metadata.partitions)
        }
    finally:
        consumer.close()


# -- acting on it --------------------------------------------------------------------------------


def move_aside(data_dir: Path, now: float | None = None) -> Path:
    """Rename `data_dir` to `<dir>.stale-<UTC timestamp>` (never deleted); returns the new path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    target = data_dir.with_name(f"{data_dir.name}.stale-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = data_dir.with_name(f"{data_dir.name}.stale-{stamp}-{n}")
    data_dir.rename(target)
    return target


def record_cluster(data_dir: Path, cluster_id: str, app_id: str) -> None:
    path = data_dir / CLUSTER_FILE
    written = path.with_suffix(".json.tmp")
    written.write_text(json.dumps({"cluster_id": cluster_id, "app_id": app_id}, indent=1) + "\n")
    written.replace(path)


def check_store(settings: Settings, table_name: str) -> Settings:
    """Resolve and create the data directory; move a store that does not fit the cluster aside.
    Returns the settings with the absolute data directory. Run before faust opens the store."""
    settings = with_data_dir(settings)
    data_dir = settings.data_dir
    assert data_dir is not None
    if settings.store != "rocksdb://":
        return settings  # nothing kept across restarts
    from streams.runtime import faust_compat

    cluster_id = cluster_id_of(settings)
    store = read_store(data_dir, table_name)
    if not store.empty:
        topic = faust_compat.changelog_topic_for(settings.app_id, table_name)
        has_offsets = any(offset is not None for offset in store.persisted.values())
        ends = changelog_ends(settings, topic) if has_offsets else {}
        reason = stale_reason(
            store, cluster_id=cluster_id, app_id=settings.app_id, changelog_ends=ends
        )
        if reason is not None:
            moved = move_aside(data_dir)
            data_dir.mkdir(parents=True)
            log.warning(
                "the local store does not match the cluster: %s; moved it aside to %s and "
                "rebuilding it from the changelog",
                reason,
                moved,
            )
    record_cluster(data_dir, cluster_id, settings.app_id)
    return settings
