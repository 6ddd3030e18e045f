"""How the commands log: a plain line for people, or one JSON object a line for journald,
Kubernetes and log shippers (``--log-format json``).

Guarantees: every record of feedlake, Beam and the libraries goes through one handler on
stderr, in the chosen format; a JSON line always has ``time`` (UTC, ISO 8601), ``level``,
``logger`` and ``message``, plus an ``event`` and its fields where feedlake gave them. What
the watcher says is :mod:`pipeline.watch.log`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

from pipeline.lake.confine import DamagedLakeFile
from pipeline.watch.log import WATCH_LOGGER

__all__ = ["FORMATS", "JsonFormatter", "configure"]

FORMATS = ("text", "json")
_OURS = ("feedlake", "pipeline", "connectors")


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
    root.handlers[0].addFilter(_not_said_by_feedlake)
    # Without --verbose even Beam's errors stay quiet: a failed run says why in one line
    # of its own (a full disk's traceback from a worker would bury it).
    root.setLevel(logging.INFO if verbose else logging.CRITICAL)
    ours = _handler(json_lines, "feedlake: %(message)s")
    level = logging.WARNING if quiet or (watching and not verbose) else logging.INFO
    for name in _OURS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [ours]
        logger.propagate = False
        logger.setLevel(level)
    watch_level = logging.DEBUG if verbose else logging.INFO
    logging.getLogger(WATCH_LOGGER).setLevel(logging.WARNING if quiet else watch_level)


def _not_said_by_feedlake(record: logging.LogRecord) -> bool:
    """Whether to keep a library's record: Beam's error line and traceback for a damaged file
    of the lake are left out, feedlake says it in one line naming the file."""
    return not (record.exc_info and isinstance(record.exc_info[1], DamagedLakeFile))


def _handler(json_lines: bool, text_format: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(text_format))
    return handler
