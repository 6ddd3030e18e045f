"""``feedlake watch``: keep the lake current by running a batch whenever something is new.

Every poll it lists the drop locations and asks each feed whether it changed (a conditional
GET; a local feed file is hashed). When a drop's bytes are not in any committed manifest, or
a feed changed, it runs one batch over just those inputs: the same pipeline, deduplicated
against the lake's index, files published atomically, a manifest per batch. Everything it
remembers is in the lake (manifests, index, feed state), so a restart picks up where the
last committed batch ended, and a batch killed mid-write is undone by the next start.
SIGINT or SIGTERM lets the batch in hand finish and commit, then ends the loop.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import Any

from connectors.feeds import Fetcher, due_feeds, load_feed_state
from pipeline.jobs import Job, JobFailed, execute, recover, skip_ingested

__all__ = ["watch"]

_LOG = logging.getLogger("feedlake")


def watch(
    prepare: Callable[[], Job],
    poll_interval: float,
    stop: threading.Event,
    on_batch: Callable[[dict[str, Any]], None],
) -> int:
    """Poll and run batches until ``stop`` is set; 0 when stopped, whatever batches failed.

    Args:
        prepare: a fresh job for this moment (new run id, every drop and feed listed).
        poll_interval: seconds between polls.
        stop: set by a signal handler; checked between batches, never inside one.
        on_batch: called with each committed batch's manifest.
    """
    fetcher: Fetcher | None = None
    recovered = False
    while not stop.is_set():
        job = prepare()
        if not recovered:
            recover(job.config.lake)
            recovered = True
        fetcher = fetcher or Fetcher(job.config.fetch_policy)
        job, _skipped = skip_ingested(job, quiet=True)
        feeds = due_feeds(list(job.config.feeds), load_feed_state(job.config.lake), fetcher)
        job = dataclasses.replace(job, config=dataclasses.replace(job.config, feeds=tuple(feeds)))
        if job.config.drops or job.config.feeds:
            try:
                on_batch(execute(job))
            except JobFailed as failed:
                _LOG.error("%s; the next poll tries again", failed)
        stop.wait(poll_interval)
    _LOG.info("stopped")
    return 0
