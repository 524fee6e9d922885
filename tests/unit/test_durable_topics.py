"""Durable topics: every topic the gate creates takes its configs from the registry
(`streams/topics.py`) and the replication settings; existing topics that differ are warned about.
A fake admin client stands in for the broker (no Kafka needed)."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pytest

from streams import topics
from streams.runtime import admin
from streams.runtime.admin import TopicLayoutError, ensure_topics, topic_configs
from streams.settings import Settings

CHANGELOG = "gate-recipients-changelog"


def _done(value: Any) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


@dataclass
class _Entry:
    value: str


@dataclass
class FakeAdmin:
    """Topics by name: (partitions, configs)."""

    topics: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)
    created: list[Any] = field(default_factory=list)

    def list_topics(self, timeout: float = 0) -> Any:
        class Meta:
            def __init__(self, n: int) -> None:
                self.partitions = dict.fromkeys(range(n))
                self.error = None

        class All:
            topics = {name: Meta(n) for name, (n, _) in self.topics.items()}

        return All()

    def create_topics(self, new: list[Any], operation_timeout: float = 0) -> dict[str, Future]:
        for topic in new:
            self.created.append(topic)
            self.topics[topic.topic] = (topic.num_partitions, dict(topic.config))
        return {topic.topic: _done(None) for topic in new}

    def describe_configs(self, resources: list[Any], request_timeout: float = 0) -> dict:
        return {
            r: _done({k: _Entry(v) for k, v in self.topics[r.name][1].items()}) for r in resources
        }


def _settings(**changes: Any) -> Settings:
    return Settings().replace(app_id="gate", topic_prefix="p.", partitions=3, **changes)


def test_state_topics_are_kept_forever_and_agreements_compacted():
    settings = _settings(min_insync_replicas=2, replication_factor=3)
    for spec in (topics.CONSENT, topics.OPTOUT, topics.PARTNER):
        assert topic_configs(spec, settings)["retention.ms"] == "-1", spec.base
    assert topic_configs(topics.PARTNER, settings)["cleanup.policy"] == "compact"
    assert "retention.ms" not in topic_configs(topics.VERDICTS, settings)  # the broker's choice
    assert topic_configs(topics.INTENTS, settings)["message.timestamp.type"] == "LogAppendTime"
    for spec in topics.ALL:
        assert topic_configs(spec, settings)["min.insync.replicas"] == "2"


def test_every_created_topic_gets_the_replication_and_min_isr_the_changelog_included():
    fake = FakeAdmin()
    settings = _settings(replication_factor=3, min_insync_replicas=2)
    ensure_topics(settings, fake, changelog=CHANGELOG)  # type: ignore[arg-type]
    created = {t.topic: t for t in fake.created}
    assert set(created) == {spec.name("p.") for spec in topics.ALL} | {CHANGELOG}
    for topic in created.values():
        assert topic.replication_factor == 3
        assert topic.config["min.insync.replicas"] == "2"
    changelog = created[CHANGELOG]
    assert changelog.config["cleanup.policy"] == "compact"
    assert changelog.num_partitions == created[topics.INTENTS.name("p.")].num_partitions


def test_the_changelog_follows_existing_recipient_topics():
    fake = FakeAdmin({spec.name("p."): (8, {}) for spec in topics.RECIPIENT_TOPICS})
    ensure_topics(_settings(), fake, changelog=CHANGELOG)  # type: ignore[arg-type]
    assert fake.topics[CHANGELOG][0] == 8


def test_existing_topics_with_short_retention_are_warned_about_not_changed(caplog):
    wanted = {spec.name("p."): (3, topic_configs(spec, _settings())) for spec in topics.ALL}
    wanted[topics.OPTOUT.name("p.")] = (3, {"retention.ms": "604800000",
                                            "min.insync.replicas": "1"})  # fmt: skip
    fake = FakeAdmin(dict(wanted))
    with caplog.at_level(logging.WARNING, logger=admin.__name__):
        ensure_topics(_settings(), fake)  # type: ignore[arg-type]
    assert fake.created == []
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert topics.OPTOUT.name("p.") in warning and "retention.ms has 604800000, want -1" in warning
    assert fake.topics[topics.OPTOUT.name("p.")][1]["retention.ms"] == "604800000"


def test_topics_as_the_registry_asks_give_no_warning(caplog):
    fake = FakeAdmin()
    ensure_topics(_settings(), fake, changelog=CHANGELOG)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger=admin.__name__):
        ensure_topics(_settings(), fake, changelog=CHANGELOG)  # type: ignore[arg-type]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_min_isr_above_the_replication_factor_is_refused_before_any_request():
    with pytest.raises(TopicLayoutError, match="MIN_INSYNC_REPLICAS=3"):
        ensure_topics(_settings(replication_factor=2, min_insync_replicas=3), admin=None)


def test_replication_settings_are_read_from_the_environment():
    settings = Settings.from_env(
        {"CONSENTGATE_REPLICATION_FACTOR": "3", "CONSENTGATE_MIN_INSYNC_REPLICAS": "2"}
    )
    assert (settings.replication_factor, settings.min_insync_replicas) == (3, 2)
