"""``feedlake watch``: keep the lake current by running a batch whenever something is new.

Every poll it lists the drop locations and asks each feed whether it changed (a conditional
GET; a local feed file is hashed). When a drop's bytes are not in any committed manifest, or
a feed changed, it runs one batch over just those inputs: the same pipeline, deduplicated
against the lake's index, committed as one manifest per batch. It holds the lake's writer
lease while it runs a batch (and while it repairs the lake at start), not between batches,
so a scheduled ``feedlake run`` or ``compact`` can write the same lake between two polls.
Everything it remembers is in the lake (manifests, index, feed state), so a restart picks up
where the last committed batch ended, and a batch killed mid-write is undone at the next
start. SIGINT or SIGTERM lets the batch in hand finish and commit, then ends the loop.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import Any

from connectors.feeds import Fetcher, due_feeds, load_feed_state
from pipeline.jobs import Job, JobFailed, repair, run_batch, skip_ingested
from pipeline.lake.lease import LeaseError

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
    repaired = False
    while not stop.is_set():
        job = prepare()
        try:
            if not repaired:
                repair(job.config.lake, "watch", wait=poll_interval)
                repaired = True
            fetcher = fetcher or Fetcher(job.config.fetch_policy)
            looked, _skipped = skip_ingested(job, quiet=True)  # without the lease: a first look
            feeds = due_feeds(list(job.config.feeds), load_feed_state(job.config.lake), fetcher)
            if looked.config.drops or feeds:
                batch = dataclasses.replace(
                    looked, config=dataclasses.replace(looked.config, feeds=tuple(feeds))
                )
                outcome = run_batch(batch, "watch", wait=poll_interval, quiet_skips=True)
                if outcome.status == "succeeded":
                    on_batch(outcome.manifest)
        except (JobFailed, LeaseError) as failed:
            _LOG.error("%s; the next poll tries again", failed)
        stop.wait(poll_interval)
    _LOG.info("stopped")
    return 0
