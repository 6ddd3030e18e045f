"""What ``feedlake watch``'s loop tells those who follow it: its log lines
(:mod:`pipeline.cli.logs`) and its metrics (:mod:`pipeline.watch.metrics`).

Guarantees: the loop calls these methods in order, from its own thread: ``started`` once,
then per poll ``feed_polled`` for each feed asked, ``polled`` (or ``poll_failed``), and when
something is new ``batch_started`` then ``batch_committed``, ``batch_failed`` or
``batch_idle``, after a committed batch sometimes ``compacted`` or ``compaction_failed``;
``stopped`` once at the end.
This module imports nothing heavy, so logging can be set up before Beam is imported.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WatchObserver"]


class WatchObserver:
    """What the loop tells whoever follows it (its log lines, its metrics); each method does
    nothing here, and an observer overrides what it needs."""

    def started(self, lake: str, poll_interval: float) -> None:
        """The loop is about to poll for the first time (the lake was recovered)."""

    def feed_polled(self, url: str, outcome: str) -> None:
        """A feed was asked whether it changed: ``ok``, ``not_modified``, or a failure."""

    def polled(self, drops: int, feeds: int) -> None:
        """A poll found ``drops`` new drops and ``feeds`` changed feeds (maybe none)."""

    def poll_failed(self, error: Exception) -> None:
        """A poll could not look at the lake (it is busy, or cannot be written); the next
        poll tries again."""

    def batch_started(self, run_id: str) -> None:
        """A batch over what the poll found begins."""

    def batch_committed(self, manifest: dict[str, Any]) -> None:
        """A batch committed with this manifest."""

    def batch_failed(self, run_id: str, error: Exception) -> None:
        """A batch did not commit; the next poll tries again."""

    def batch_idle(self, run_id: str, why: str) -> None:
        """A batch ended with nothing to commit: another writer held the lake, or had taken
        what was new by the time the lease was held."""

    def compacted(self, summary: dict[str, Any]) -> None:
        """A compaction after a batch merged files (as
        :meth:`~pipeline.lake.compact.Compacted.summary` says: folders, files and bytes
        before and after, seconds)."""

    def compaction_failed(self, error: Exception) -> None:
        """A compaction after a batch did not commit; it is tried again later."""

    def stopped(self) -> None:
        """The loop ended (a signal set ``stop``)."""
