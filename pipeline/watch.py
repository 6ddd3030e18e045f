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
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from connectors.feeds import Fetcher, due_feeds, load_feed_state
from pipeline.jobs import Job, JobFailed, execute, recover, skip_ingested
from pipeline.watch_events import WatchObserver

__all__ = ["watch"]


def watch(
    prepare: Callable[[], Job],
    poll_interval: float,
    stop: threading.Event,
    on_batch: Callable[[dict[str, Any]], None],
    observers: Sequence[WatchObserver] = (),
) -> int:
    """Poll and run batches until ``stop`` is set; 0 when stopped, whatever batches failed.

    Args:
        prepare: a fresh job for this moment (new run id, every drop and feed listed).
        poll_interval: seconds between polls.
        stop: set by a signal handler; checked between batches, never inside one.
        on_batch: called with each committed batch's manifest.
        observers: told of each step (start, feed polls, polls, batches, stop).
    """

    def tell(event: str, *args: Any) -> None:
        for observer in observers:
            getattr(observer, event)(*args)

    fetcher: Fetcher | None = None
    recovered = False
    while not stop.is_set():
        job = prepare()
        if not recovered:
            recover(job.config.lake)
            recovered = True
            tell("started", job.config.lake, poll_interval)
        fetcher = fetcher or Fetcher(job.config.fetch_policy)
        job, _skipped = skip_ingested(job, quiet=True)
        state = load_feed_state(job.config.lake)
        feeds = due_feeds(list(job.config.feeds), state, fetcher, partial(tell, "feed_polled"))
        job = dataclasses.replace(job, config=dataclasses.replace(job.config, feeds=tuple(feeds)))
        tell("polled", len(job.config.drops), len(feeds))
        if job.config.drops or job.config.feeds:
            run_id = job.config.run.run_id
            tell("batch_started", run_id)
            try:
                manifest = execute(job)
            except JobFailed as failed:
                tell("batch_failed", run_id, failed)
            else:
                tell("batch_committed", manifest)
                on_batch(manifest)
        stop.wait(poll_interval)
    tell("stopped")
    return 0
