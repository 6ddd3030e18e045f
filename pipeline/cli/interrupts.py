"""Ctrl-C (SIGINT) ends a command with one line and exit code 130, never a traceback.

Guarantees: the first SIGINT stops the command where it is (a ``KeyboardInterrupt`` in the
main thread) and silences the log from then on, since Beam's worker threads report the stop
as errors of the step they were running; a second SIGINT ends the process at once. Nothing
here writes to the lake: what an interrupted run staged is undone by the next writer, as
after a crash (:func:`~pipeline.lake.commit.recover`), so the lake is never left wedged.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

__all__ = [
    "EXIT_INTERRUPTED",
    "Interrupted",
    "end_interrupted",
    "interrupted",
    "stop_now",
    "stop_on_sigint",
]

EXIT_INTERRUPTED = 128 + signal.SIGINT
_SEEN = threading.Event()


class Interrupted(Exception):
    """The command was interrupted; the message says what became of its work."""


def interrupted() -> bool:
    """Whether SIGINT arrived: a failure seen after it is the interrupt, not the code."""
    return _SEEN.is_set()


def stop_now(line: str) -> None:
    """End the process at once (a second signal): ``line`` on stderr, exit 130, no cleanup."""
    logging.disable(logging.CRITICAL)
    print(line, file=sys.stderr, flush=True)
    os._exit(EXIT_INTERRUPTED)


def _on_sigint(signum, frame) -> None:
    if _SEEN.is_set():
        stop_now("feedlake: interrupted again: stopped at once")
    _SEEN.set()
    logging.disable(logging.CRITICAL)
    raise KeyboardInterrupt


def stop_on_sigint() -> None:
    """Route SIGINT to :func:`_on_sigint` (in the main thread only, as Python requires)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)


def end_interrupted(command: str, message: str) -> int:
    """Say ``message`` on one line and end: at once when Beam's threads are still running
    (they would keep the process alive), else by returning the exit code."""
    logging.disable(logging.CRITICAL)
    print(f"feedlake {command}: {message}", file=sys.stderr, flush=True)
    main = threading.main_thread()
    if any(not thread.daemon for thread in threading.enumerate() if thread is not main):
        sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)
    return EXIT_INTERRUPTED
