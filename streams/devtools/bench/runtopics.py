"""The run's own topics: created before step 1 (verdict topics with broker timestamps), deleted at
the end unless `--keep`."""

from __future__ import annotations

import contextlib

from streams import topics
from streams.devtools.bench.baseline import BASELINE_TOPIC
from streams.devtools.bench.context import Log, RunContext
from streams.devtools.bench.errors import BenchError
from streams.settings import Settings


def create_topics(ctx: RunContext) -> None:
    """The verdict, baseline and changelog topics as the bench needs them, then the gate's own."""
    from confluent_kafka.admin import NewTopic

    from streams.runtime.admin import admin_client, ensure_topics

    admin = admin_client(ctx.settings)
    partitions = ctx.settings.partitions
    replication = ctx.settings.replication_factor
    # Broker time on the verdict topics too, so that every timestamp compared is the broker's.
    append_time = {"message.timestamp.type": "LogAppendTime"}
    created = admin.create_topics(
        [
            NewTopic(ctx.topic(topics.VERDICTS), partitions, replication, config=append_time),
            NewTopic(f"{ctx.prefix}{BASELINE_TOPIC}", partitions, replication,
                     config=append_time),
            # As faust declares it: one partition per recipient partition, compacted.
            NewTopic(ctx.changelog_topic, partitions, replication,
                     config={"cleanup.policy": "compact"}),
        ],
        operation_timeout=30,
    )  # fmt: skip
    for future in created.values():
        future.result()
    layout = ensure_topics(ctx.settings, admin)
    if layout.recipient_partitions != partitions:
        raise BenchError(f"recipient topics have {layout.recipient_partitions} partitions")


def delete_topics(settings: Settings, say: Log) -> None:
    """Every topic of this run (its prefix, or the worker's app id for faust's own topics)."""
    from streams.runtime.admin import admin_client

    try:
        admin = admin_client(settings)
        names = [
            name
            for name in admin.list_topics(timeout=10).topics
            if name.startswith((settings.topic_prefix, settings.app_id))
        ]
        if names:
            for future in admin.delete_topics(names, operation_timeout=30).values():
                with contextlib.suppress(Exception):
                    future.result()
            say(f"deleted the {len(names)} topics of this run")
    except Exception as exc:  # cleanup must not hide the run's own outcome
        say(f"could not delete this run's topics: {exc}")
