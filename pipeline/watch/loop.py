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
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from connectors.feeds import Fetcher, due_feeds
from pipeline.jobs import Job, JobFailed, repair, run_batch, skip_ingested, writing
from pipeline.lake.compact import CompactionFailed, CompactionSchedule, compact_lake
from pipeline.lake.feed_state import load_feed_state
from pipeline.lake.lease import LeaseError, LeaseHeld
from pipeline.watch.events import WatchObserver

__all__ = ["watch"]


def watch(
    prepare: Callable[[], Job],
    poll_interval: float,
    stop: threading.Event,
    on_batch: Callable[[dict[str, Any]], None],
    observers: Sequence[WatchObserver] = (),
    compact_every: float = 0.0,
) -> int:
    """Poll and run batches until ``stop`` is set; 0 when stopped, whatever batches failed.

    Args:
        prepare: a fresh job for this moment (new run id, every drop and feed listed).
        poll_interval: seconds between polls.
        stop: set by a signal handler; checked between batches, never inside one.
        on_batch: called with each committed batch's manifest.
        observers: told of each step (start, feed polls, polls, batches, compactions, stop).
        compact_every: hours between compactions, each right after a committed batch
            (:class:`~pipeline.lake.compact.CompactionSchedule`); 0 never compacts.
    """

    def tell(event: str, *args: Any) -> None:
        for observer in observers:
            getattr(observer, event)(*args)

    fetcher: Fetcher | None = None
    repaired = False
    schedule = CompactionSchedule(compact_every)
    while not stop.is_set():
        job = prepare()
        try:
            if not repaired:
                repair(job.config.lake, "watch", wait=poll_interval)
                repaired = True
                tell("started", job.config.lake, poll_interval)
            fetcher = fetcher or Fetcher(job.config.fetch_policy)
            looked, _skipped = skip_ingested(job, quiet=True)  # without the lease: a first look
            state = load_feed_state(job.config.lake)
            feeds = due_feeds(list(job.config.feeds), state, fetcher, partial(tell, "feed_polled"))
            tell("polled", len(looked.config.drops), len(feeds))
        except (JobFailed, LeaseError) as failed:
            tell("poll_failed", failed)
            stop.wait(poll_interval)
            continue
        if looked.config.drops or feeds:
            batch = dataclasses.replace(
                looked, config=dataclasses.replace(looked.config, feeds=tuple(feeds))
            )
            run_id = batch.config.run.run_id
            tell("batch_started", run_id)
            try:
                outcome = run_batch(batch, "watch", wait=poll_interval, quiet_skips=True)
            except LeaseHeld as busy:
                tell("batch_idle", run_id, str(busy))
            except (JobFailed, LeaseError) as failed:
                tell("batch_failed", run_id, failed)
            else:
                if outcome.status == "succeeded":
                    tell("batch_committed", outcome.manifest)
                    on_batch(outcome.manifest)
                    if schedule.due(job.config.lake):
                        _compact(job.config.lake, poll_interval, schedule, tell)
                else:
                    tell("batch_idle", run_id, "nothing new once the lease was held")
        stop.wait(poll_interval)
    tell("stopped")
    return 0


def _compact(lake: str, wait: float, schedule: CompactionSchedule, tell) -> None:
    """Compact the lake under its own lease; a busy lake is tried after the next batch, a
    failure after the schedule's interval."""
    try:
        with writing(lake, "watch", wait) as lease:
            compacted = compact_lake(lake, lease)
    except LeaseHeld as busy:
        tell("compaction_failed", busy)
        return
    except (JobFailed, LeaseError, CompactionFailed, OSError) as failed:
        schedule.done()
        tell("compaction_failed", failed)
        return
    schedule.done()
    if compacted.manifest is not None:
        tell("compacted", compacted.summary())
