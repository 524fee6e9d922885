"""Topic administration at start-up: create what is missing, refuse what cannot work.

The three recipient topics must have the same partition count: a recipient's consent, opt-outs and
intents are co-partitioned by address, and the worker that owns partition p of one owns it of all.
A mismatch is a configuration error that no amount of retrying fixes, so it stops the worker with
a message saying which topic has how many partitions.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from streams import topics
from streams.kafka_config import client_config
from streams.settings import Settings

log = logging.getLogger(__name__)


class TopicLayoutError(RuntimeError):
    """The existing topics cannot be used as they are."""


@dataclass(frozen=True, slots=True)
class TopicLayout:
    """What start-up found or created: the partition count of every topic, by base name."""

    partitions: dict[str, int]

    @property
    def recipient_partitions(self) -> int:
        return self.partitions[topics.INTENTS.base]


def topic_configs(spec: topics.TopicSpec, settings: Settings) -> dict[str, str]:
    """The topic-level configs the registry asks for (`streams/topics.py`), with this
    deployment's durability."""
    configs = {"min.insync.replicas": str(settings.min_insync_replicas)}
    if spec.compacted:
        configs["cleanup.policy"] = "compact"
    if spec.retention_ms is not None:
        configs["retention.ms"] = str(spec.retention_ms)
    if spec.log_append_time:
        configs["message.timestamp.type"] = "LogAppendTime"
    return configs


def changelog_configs(settings: Settings) -> dict[str, str]:
    """faust's table changelog: compacted (latest value per key is the table), as durable as the
    inputs it was built from."""
    return {"cleanup.policy": "compact", "min.insync.replicas": str(settings.min_insync_replicas)}


def admin_client(settings: Settings) -> AdminClient:
    return AdminClient(client_config(settings))


def existing_partitions(
    admin: AdminClient, names: list[str], timeout: float = 10.0
) -> dict[str, int]:
    metadata = admin.list_topics(timeout=timeout)
    return {
        name: len(metadata.topics[name].partitions)
        for name in names
        if name in metadata.topics and metadata.topics[name].error is None
    }


def ensure_topics(
    settings: Settings, admin: AdminClient | None = None, *, changelog: str | None = None
) -> TopicLayout:
    """Create missing topics (and the table's `changelog`, when named, before faust would make it
    with its own defaults), warn about existing topics whose configs differ from the registry's,
    then check the recipient topics are co-partitioned."""
    if settings.min_insync_replicas > settings.replication_factor:
        raise TopicLayoutError(
            f"CONSENTGATE_MIN_INSYNC_REPLICAS={settings.min_insync_replicas} is more than "
            f"CONSENTGATE_REPLICATION_FACTOR={settings.replication_factor}: no write could succeed"
        )
    admin = admin or admin_client(settings)
    prefix = settings.topic_prefix
    names = {spec.base: spec.name(prefix) for spec in topics.ALL}
    everything = [*names.values(), *([changelog] if changelog else [])]
    found = existing_partitions(admin, everything)
    recipient_counts = {
        spec.base: found[names[spec.base]]
        for spec in topics.RECIPIENT_TOPICS
        if names[spec.base] in found
    }
    # New recipient topics follow the existing ones, so adding one never breaks co-partitioning.
    recipient_n = next(iter(recipient_counts.values()), settings.partitions)
    wanted = {
        names[spec.base]: (
            recipient_n if spec.recipient_keyed else settings.partitions,
            topic_configs(spec, settings),
        )
        for spec in topics.ALL
    }
    if changelog:
        wanted[changelog] = (recipient_n, changelog_configs(settings))
    warn_about_configs(admin, {name: wanted[name][1] for name in wanted if name in found})
    missing = [
        NewTopic(
            name,
            num_partitions=partitions,
            replication_factor=settings.replication_factor,
            config=configs,
        )
        for name, (partitions, configs) in wanted.items()
        if name not in found
    ]
    if missing:
        for name, future in admin.create_topics(missing, operation_timeout=30).items():
            try:
                future.result()
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise TopicLayoutError(f"cannot create topic {name}: {exc}") from exc
        # Metadata catches up with creation a moment later.
        deadline = time.monotonic() + 15
        while True:
            found = existing_partitions(admin, everything)
            if all(name in found for name in everything) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    absent = [name for name in everything if name not in found]
    if absent:
        raise TopicLayoutError(f"topics missing after creation: {', '.join(absent)}")
    check_copartitioned({names[s.base]: found[names[s.base]] for s in topics.RECIPIENT_TOPICS})
    return TopicLayout({base: found[name] for base, name in names.items()})


def config_differences(wanted: dict[str, str], actual: dict[str, str]) -> dict[str, str]:
    """Each config the registry asks for that the topic does not have: `key -> 'has X, want Y'`."""
    return {
        key: f"has {actual.get(key, 'unset')}, want {value}"
        for key, value in wanted.items()
        if actual.get(key) != value
    }


def warn_about_configs(admin: AdminClient, wanted: dict[str, dict[str, str]]) -> None:
    """Existing topics keep their configs (changing retention is the operator's call, and may be
    refused by ACLs), but a topic that would expire the history a rebuild needs is worth a
    warning at every start."""
    if not wanted:
        return
    resources = [ConfigResource(ResourceType.TOPIC, name) for name in wanted]
    try:
        futures = admin.describe_configs(resources, request_timeout=10)
    except KafkaException as exc:
        log.warning("could not read topic configs to check them: %s", exc)
        return
    for resource, future in futures.items():
        try:
            entries = future.result()
        except KafkaException as exc:
            log.warning("could not read the configs of topic %s: %s", resource.name, exc)
            continue
        actual = {key: str(entry.value) for key, entry in entries.items()}
        for key, difference in config_differences(wanted[resource.name], actual).items():
            log.warning(
                "topic %s: %s %s (set it with kafka-configs.sh; see docs/operations.md, "
                "Durable topics)",
                resource.name,
                key,
                difference,
            )


def check_copartitioned(counts: dict[str, int]) -> None:
    if len(set(counts.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in sorted(counts.items()))
        raise TopicLayoutError(
            "the recipient topics must have the same number of partitions, "
            f"but {shown}; repartition them (or use a new topic prefix) before starting the gate"
        )
