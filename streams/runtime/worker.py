"""Build and run the gate's worker process.

Start-up order matters: the local store is checked against the cluster first (`store_check.py`: a
store made for another cluster is moved aside before anything opens it), then topics (a
co-partitioning error stops the worker before it joins the group), then schemas (the codec needs
their ids), then the consent table's changelog in bulk (`recovery.py`), then the faust worker,
which replays the rest of the changelog before any agent runs. `consentgate worker`
(`streams.cli.worker`) is the command around this.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from streams import topics
from streams.policy.jurisdictions import table_for
from streams.runtime.admin import ensure_topics
from streams.runtime.store_check import check_store, with_data_dir
from streams.settings import Settings

log = logging.getLogger("consentgate.worker")


def build(settings: Settings) -> Any:
    """Topics, schemas and the faust app, ready to run. Returns the `WorkerApp`."""
    from streams.runtime import faust_compat
    from streams.runtime.app import TABLE_NAME, create_app
    from streams.serdes import codec_for

    table_for(settings.policy)  # a broken override table stops the worker now, not per intent
    settings = with_data_dir(settings)
    changelog = faust_compat.changelog_topic_for(settings.app_id, TABLE_NAME)
    layout = ensure_topics(settings, changelog=changelog)
    return create_app(
        settings,
        partitions=layout.recipient_partitions,
        partner_partitions=layout.partitions[topics.PARTNER.base],
        codec=codec_for(settings, register=True),
    )


def use_event_loop(name: str) -> None:
    """Install the event loop policy before anything makes a loop (`name` is validated by
    Settings: uvloop or asyncio)."""
    if name != "uvloop":
        return
    try:
        import uvloop
    except ImportError:
        log.warning("uvloop is not installed: the worker runs on asyncio's event loop")
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    log.info("event loop: uvloop %s", uvloop.__version__)


GC_GEN0_THRESHOLD = 50_000


def tune_gc(enabled: bool) -> None:
    """With `enabled`, freeze what start-up made (modules, the app, the jurisdiction tables:
    never garbage, scanned by every full collection otherwise) and collect the youngest
    generation less often; the older thresholds stay."""
    if not enabled:
        return
    import gc

    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)
    log.info("garbage collector: %d start-up objects frozen, gen-0 threshold %d",
             gc.get_freeze_count(), GC_GEN0_THRESHOLD)  # fmt: skip


def serve(settings: Settings) -> None:
    """Run the worker until SIGTERM or SIGINT. Raises TopicLayoutError or TableError before
    joining the group when the cluster or the jurisdiction table is not usable, and
    StoreCheckError when the cluster cannot be asked whether the local store fits it."""
    from streams.runtime.app import TABLE_NAME

    use_event_loop(settings.event_loop)
    settings = check_store(settings, TABLE_NAME)  # before anything opens the store
    worker_app = build(settings)
    from faust import Worker

    from streams.runtime.recovery import load_changelog

    load_changelog(settings, worker_app.table)  # faust then replays only the tail
    worker_app.metrics.watch_gc()  # for the process's life: one worker per process
    tune_gc(settings.gc_tuning)

    log.info(
        "consentgate worker: app %s, topics prefix %r, web http://%s:%d/metrics",
        settings.app_id,
        settings.topic_prefix,
        settings.web_bind,
        settings.web_port,
    )
    worker = Worker(worker_app.app, loglevel=settings.log_level, redirect_stdouts=False)
    worker.execute_from_commandline()
