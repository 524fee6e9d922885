"""A child worker gets every setting of its parent, policy settings included."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from streams.devtools.runner import worker_env
from streams.settings import Settings, documented_fields


def test_child_environment_rebuilds_the_same_settings() -> None:
    base = Settings()
    policy = dataclasses.replace(
        base.policy,
        first_party="acme",
        optout_confirmation_window=timedelta(hours=3),
    )
    settings = base.replace(
        app_id="child-test",
        topic_prefix="x.",
        data_dir=Path("/tmp/child-data"),
        ordering_max_wait=timedelta(seconds=2.5),
        security_protocol="sasl_ssl",
        sasl_username="consentgate-worker",
        sasl_password="s3cret-for-the-child",
        ssl_ca_file=Path("/tmp/ca.pem"),
        registry_password="registry-s3cret",
        policy=policy,
    )
    env = worker_env(settings)
    # Secrets reach the child unmasked (it must connect), unlike what `consentgate config` shows.
    assert Settings.from_env(env) == settings


def test_child_environment_names_every_documented_variable() -> None:
    env = worker_env(Settings())
    missing = [name for name, _, _ in documented_fields() if name not in env]
    assert missing == []


def test_started_workers_are_tracked_by_identity() -> None:
    from pathlib import Path

    from streams.devtools.runner import WorkerProcess, kill_leftovers

    worker = WorkerProcess(Settings(), Path("/nonexistent/worker.log"))
    assert hash(worker) != hash(WorkerProcess(Settings(), Path("/nonexistent/worker.log")))
    assert kill_leftovers() == 0  # nothing started, nothing alive
