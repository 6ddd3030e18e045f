"""``feedlake watch --metrics-port``: Prometheus metrics and a health endpoint for probes.

Guarantees: ``/metrics`` serves, in Prometheus' text format (by ``prometheus_client``), what
the watcher did since it started: batches by outcome, articles, duplicates by kind, rejects
by reason, each feed poll's outcome, polls, the time of the last poll and of the last
committed batch, batch seconds, and the seconds from each drop's arrival to the commit of
the batch that read it (arrival is the drop file's modification time, as the manifest
records it). ``/healthz`` answers 200 while the loop is alive: a batch is in progress (its
length depends on the data, so a probe must not kill it) or the last poll ended less than
``stale_after`` seconds ago; 503, with the reason, once it has not polled for longer or
after it stopped. Served from a daemon thread; the registry is the watcher's own, not the
process-wide default.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

from pipeline.watch.events import WatchObserver

__all__ = ["WatchMetrics", "serve"]

# Seconds, from a poll interval's worth up to a day of backlog.
_LATENCY_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 86400)
_BATCH_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)


def _timestamp(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


class WatchMetrics(WatchObserver):
    """The watcher's metrics and health, kept in their own registry.

    Args:
        poll_interval: seconds between polls.
        stale_after: seconds without a finished poll (outside a batch) after which the loop
            counts as stuck; default three intervals and a minute.
        clock: the wall clock (seconds since the epoch); tests pass their own.
    """

    def __init__(
        self,
        poll_interval: float,
        stale_after: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.stale_after = stale_after or 3 * poll_interval + 60
        self.registry = CollectorRegistry(auto_describe=True)
        self._last_poll = clock()  # the first poll may recover the lake and run a batch
        self._in_batch = False
        self._stopped = False
        r = self.registry
        self.batches = Counter("feedlake_batches", "Batches by outcome.", ["outcome"], registry=r)
        self.articles = Counter("feedlake_articles", "Articles kept by batches.", registry=r)
        self.duplicates = Counter(
            "feedlake_duplicates", "Duplicates found, by kind.", ["kind"], registry=r
        )
        self.rejects = Counter("feedlake_rejects", "Rejects, by reason.", ["reason"], registry=r)
        self.feed_polls = Counter(
            "feedlake_feed_polls", "Feeds asked at a poll, by outcome.", ["outcome"], registry=r
        )
        self.polls = Counter("feedlake_polls", "Polls of the drops and feeds.", registry=r)
        self.last_poll = Gauge(
            "feedlake_last_poll_timestamp_seconds", "When the last poll ended.", registry=r
        )
        self.last_success = Gauge(
            "feedlake_last_successful_batch_timestamp_seconds",
            "When the last batch committed.",
            registry=r,
        )
        self.batch_seconds = Histogram(
            "feedlake_batch_seconds",
            "Seconds a committed batch took.",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.arrival_to_commit = Histogram(
            "feedlake_drop_arrival_to_commit_seconds",
            "Seconds from a drop file's modification time to the commit of its batch.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        for outcome in ("committed", "failed"):
            self.batches.labels(outcome)  # both series exist from the start, at 0

    def feed_polled(self, url: str, outcome: str) -> None:
        self.feed_polls.labels(outcome).inc()

    def polled(self, drops: int, feeds: int) -> None:
        self._last_poll = self.clock()
        self.polls.inc()
        self.last_poll.set(self._last_poll)

    def batch_started(self, run_id: str) -> None:
        self._in_batch = True

    def batch_committed(self, manifest: dict[str, Any]) -> None:
        committed = self.clock()
        self._in_batch = False
        self._last_poll = committed
        counts = manifest["counts"]
        self.batches.labels("committed").inc()
        self.articles.inc(counts["articles"])
        for kind, n in counts["duplicates_by_kind"].items():
            self.duplicates.labels(kind).inc(n)
        for reason, n in counts["rejects_by_reason"].items():
            self.rejects.labels(reason).inc(n)
        self.last_success.set(committed)
        self.batch_seconds.observe(manifest["seconds"])
        for drop in _drops(manifest["inputs"]):
            self.arrival_to_commit.observe(max(0.0, committed - _timestamp(drop["modified"])))

    def batch_failed(self, run_id: str, error: Exception) -> None:
        self._in_batch = False
        self._last_poll = self.clock()
        self.batches.labels("failed").inc()

    def batch_idle(self, run_id: str, why: str) -> None:
        self._in_batch = False
        self._last_poll = self.clock()
        self.batches.labels("idle").inc()

    def stopped(self) -> None:
        self._stopped = True

    def health(self) -> tuple[bool, str]:
        """Whether the loop is alive, and why (the body of ``/healthz``)."""
        if self._stopped:
            return False, "stopped"
        if self._in_batch:
            return True, "ok: a batch is running"
        quiet = self.clock() - self._last_poll
        if quiet > self.stale_after:
            return False, f"no poll for {quiet:.0f} s (more than {self.stale_after:g} s)"
        return True, f"ok: last poll {quiet:.0f} s ago"


def _drops(inputs: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    return (i for i in inputs if i["type"] == "drop" and i.get("modified"))


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        """Scrapes and probes every few seconds are not worth a log line each."""


def _app(metrics: WatchMetrics):
    scrape = make_wsgi_app(metrics.registry)

    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/healthz":
            return scrape(environ, start_response)
        alive, reason = metrics.health()
        status = "200 OK" if alive else "503 Service Unavailable"
        start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
        return [f"{reason}\n".encode()]

    return app


def serve(metrics: WatchMetrics, port: int, address: str = "0.0.0.0") -> WSGIServer:
    """Serve ``/metrics`` and ``/healthz`` on ``address:port`` (0: any free port) from a
    daemon thread; the server's ``server_port`` says which port. The socket's family is the
    address's (IPv4 or IPv6, ``::1``), as ``prometheus_client.start_http_server`` picks it.

    Raises:
        OSError: the port cannot be bound (in use, or privileged).
    """
    family = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    server_class = type("_Server", (_Server,), {"address_family": family[0][0]})
    server = make_server(address, port, _app(metrics), server_class, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
