"""How the commands log: a plain line for people, or one JSON object a line for journald,
Kubernetes and log shippers (``--log-format json``); and what ``feedlake watch`` says.

Guarantees: every record of feedlake, Beam and the libraries goes through one handler on
stderr, in the chosen format; a JSON line always has ``time`` (UTC, ISO 8601), ``level``,
``logger`` and ``message``, plus an ``event`` and its fields where feedlake gave them. The
watcher says one line when it starts (what it watches, the lake, the interval), one per
batch and one when it stops; each poll's heartbeat, the pipeline's per-drop lines and the
skips of drops already ingested only with ``--verbose``; a feed that starts failing at a
poll once (a warning), and once more when it recovers.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

from pipeline.watch_events import WatchObserver

__all__ = ["FORMATS", "JsonFormatter", "WatchLog", "configure"]

FORMATS = ("text", "json")
WATCH_LOGGER = "feedlake.watch"
_OURS = ("feedlake", "pipeline", "connectors")
_FEED_FINE = {"ok", "not_modified"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record; ``extra={"fields": {...}}`` adds fields to it."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        document.update(getattr(record, "fields", {}))
        if record.exc_info:
            document["error"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, ensure_ascii=False)


def configure(quiet: bool, verbose: bool, fmt: str = "text", watching: bool = False) -> None:
    """Route every logger to stderr in ``fmt``.

    Beam and the libraries speak only with ``verbose``; feedlake's own lines at INFO unless
    ``quiet``. A watcher keeps only its own lines (start, batches, stop) and warnings, unless
    ``verbose``: the per-drop and per-run lines would repeat at every poll.
    """
    json_lines = fmt == "json"
    root = logging.getLogger()
    root.handlers[:] = [_handler(json_lines, "%(levelname)s %(name)s: %(message)s")]
    root.setLevel(logging.INFO if verbose else logging.ERROR)
    ours = _handler(json_lines, "feedlake: %(message)s")
    level = logging.WARNING if quiet or (watching and not verbose) else logging.INFO
    for name in _OURS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [ours]
        logger.propagate = False
        logger.setLevel(level)
    watch_level = logging.DEBUG if verbose else logging.INFO
    logging.getLogger(WATCH_LOGGER).setLevel(logging.WARNING if quiet else watch_level)


def _handler(json_lines: bool, text_format: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(text_format))
    return handler


class WatchLog(WatchObserver):
    """The watcher's own lines, on the ``feedlake.watch`` logger."""

    def __init__(self, watched: str, metrics_url: str | None = None) -> None:
        self.watched = watched
        self.metrics_url = metrics_url
        self.log = logging.getLogger(WATCH_LOGGER)
        self.batches = 0
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

    def batch_idle(self, run_id: str, why: str) -> None:
        self._say(logging.WARNING, "batch_idle", f"batch {run_id}: {why}", run_id=run_id)

    def batch_committed(self, manifest: dict[str, Any]) -> None:
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
