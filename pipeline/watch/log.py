"""What ``feedlake watch`` says, on the ``feedlake.watch`` logger.

Guarantees: the watcher says one line when it starts (what it watches, the lake, the
interval), one per batch, one as soon as a signal asks it to stop during a batch (it stops
once the batch commits; a second signal stops it at once) and one when it stops; each
poll's heartbeat, the pipeline's per-drop lines and the skips of drops already ingested only
with ``--verbose``; a feed that starts failing at a poll once (a warning), and once more when
it recovers. The format (plain or JSON) is the command's (:mod:`pipeline.cli.logs`).
"""

from __future__ import annotations

import logging
from typing import Any

from pipeline.watch.events import WatchObserver

__all__ = ["WATCH_LOGGER", "WatchLog"]

WATCH_LOGGER = "feedlake.watch"
_FEED_FINE = {"ok", "not_modified"}


class WatchLog(WatchObserver):
    """The watcher's own lines, on the ``feedlake.watch`` logger."""

    def __init__(self, watched: str, metrics_url: str | None = None) -> None:
        self.watched = watched
        self.metrics_url = metrics_url
        self.log = logging.getLogger(WATCH_LOGGER)
        self.batches = 0
        self.in_batch = False
        self.failing: set[str] = set()

    def _say(self, level: int, event: str, message: str, **fields: Any) -> None:
        self.log.log(level, "%s", message, extra={"fields": {"event": event, **fields}})

    def started(self, lake: str, poll_interval: float) -> None:
        metrics = f"; metrics on {self.metrics_url}" if self.metrics_url else ""
        self._say(
            logging.INFO,
            "start",
            f"watching {self.watched} into {lake} every {poll_interval:g} s{metrics}",
            lake=lake,
            poll_interval=poll_interval,
            metrics=self.metrics_url,
        )

    def feed_polled(self, url: str, outcome: str) -> None:
        if outcome not in _FEED_FINE and url not in self.failing:
            self.failing.add(url)
            self._say(
                logging.WARNING,
                "feed_failing",
                f"feed {url}: {outcome} at this poll; it is asked again at each poll",
                feed=url,
                outcome=outcome,
            )
        elif outcome in _FEED_FINE and url in self.failing:
            self.failing.discard(url)
            self._say(logging.INFO, "feed_recovered", f"feed {url}: {outcome} again", feed=url)

    def polled(self, drops: int, feeds: int) -> None:
        self._say(
            logging.DEBUG,
            "poll",
            f"poll: {drops} new drop(s), {feeds} changed feed(s)",
            drops=drops,
            feeds=feeds,
        )

    def poll_failed(self, error: Exception) -> None:
        self._say(logging.ERROR, "poll_failed", f"{error}; the next poll tries again")

    def batch_started(self, run_id: str) -> None:
        self.in_batch = True

    def stopping(self, signal_name: str) -> None:
        """A signal asked the watcher to stop: said at once, from the signal handler, when a
        batch is in hand (an idle watcher says ``stopped`` a moment later)."""
        if self.in_batch:
            self._say(
                logging.INFO,
                "stopping",
                f"{signal_name}: stopping after this batch commits ({signal_name} again stops "
                "at once)",
                signal=signal_name,
            )

    def batch_idle(self, run_id: str, why: str) -> None:
        self.in_batch = False
        self._say(logging.WARNING, "batch_idle", f"batch {run_id}: {why}", run_id=run_id)

    def batch_committed(self, manifest: dict[str, Any]) -> None:
        self.in_batch = False
        self.batches += 1
        counts = manifest["counts"]
        self._say(
            logging.INFO,
            "batch",
            f"batch {manifest['run_id']}: {counts['drops']} drop(s), {counts['feeds']} feed(s): "
            f"{counts['articles']} articles, {counts['duplicates']} duplicates, "
            f"{counts['rejects']} rejects in {manifest['seconds']:.1f} s",
            run_id=manifest["run_id"],
            seconds=manifest["seconds"],
            **{k: counts[k] for k in ("drops", "feeds", "articles", "duplicates", "rejects")},
        )

    def batch_failed(self, run_id: str, error: Exception) -> None:
        self.in_batch = False
        self._say(
            logging.ERROR,
            "batch_failed",
            f"{error}; the next poll tries again",
            run_id=run_id,
        )

    def compacted(self, summary: dict[str, Any]) -> None:
        mb = 1_000_000
        self._say(
            logging.INFO,
            "compacted",
            f"compaction {summary['run_id']}: {summary['folders']} folder(s), "
            f"{summary['files_before']} files ({summary['bytes_before'] / mb:.1f} MB) into "
            f"{summary['files_after']} ({summary['bytes_after'] / mb:.1f} MB) in "
            f"{summary['seconds']:.1f} s",
            **summary,
        )

    def compaction_failed(self, error: Exception) -> None:
        self._say(logging.ERROR, "compaction_failed", f"compaction: {error}; tried again later")

    def stopped(self) -> None:
        self._say(
            logging.INFO, "stop", f"stopped after {self.batches} batch(es)", batches=self.batches
        )
