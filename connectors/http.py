"""HTTP for feeds: one requests Session per worker, patient and polite.

Connect and read timeouts; retries with exponential backoff and jitter on connection errors,
429 and 5xx, honouring ``Retry-After`` (capped); at most a few redirects; the body streamed
and abandoned past a cap; gzip; a ``User-Agent`` naming feedlake; conditional GET with the
validators of the last fetch; per host, one request at a time and a minimum interval.

Guarantees: every fetch ends in a :class:`FeedReport` with a named outcome within the
policy's ``deadline`` (plus about a tenth of a second); nothing raises. The read timeout
bounds one socket read, so a server dripping a byte a second never trips it: past the
deadline a watchdog shuts the socket of the request under way (status line, headers or
body) and the outcome is ``timeout``. A redirect to a URL that cannot be parsed is
``bad_redirect``, naming the ``Location``.
"""

from __future__ import annotations

import calendar
import contextlib
import dataclasses
import email.utils
import hashlib
import math
import random
import socket
import threading
import time
from urllib.parse import urlsplit

import requests
import urllib3.connection
import urllib3.connectionpool
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

__all__ = ["WATCHDOG", "FeedReport", "FetchPolicy", "Fetcher", "feedlake_agent", "retry_after"]

WATCHDOG = "feed deadline watchdog"  # the name of the thread that cuts a late fetch


def feedlake_agent(version: str) -> str:
    """The ``User-Agent`` feedlake fetches with: its name, version and manners."""
    return f"feedlake/{version} (news ingestion; honours Retry-After and ETag)"


@dataclasses.dataclass(frozen=True)
class FetchPolicy:
    """How politely and how patiently feeds are fetched."""

    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    attempts: int = 4
    backoff: float = 1.0  # first wait; doubles per attempt, plus up to 50% jitter
    max_wait: float = 30.0  # cap on any wait, Retry-After included
    max_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5
    min_interval: float = 1.0  # per host, between the end of one request and the next
    deadline: float = 120.0  # the whole fetch of one feed: attempts, waits and every read
    user_agent: str = feedlake_agent("0+unknown")  # the command names its installed version

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.max_bytes < 1 or self.min_interval < 0:
            raise ValueError("FetchPolicy: attempts and max_bytes must be positive")
        if not 0 < self.deadline < math.inf:  # NaN too; the watchdog cannot wait for ever
            raise ValueError(
                "FetchPolicy: the deadline (--feed-deadline) must be a positive, finite number "
                f"of seconds, not {self.deadline}"
            )


@dataclasses.dataclass(frozen=True)
class FeedReport:
    """What became of one feed URL: for the run summary, the manifest and the feed state."""

    uri: str
    outcome: str
    status: int | None = None
    items: int = 0
    size: int = 0
    sha256: str | None = None
    attempts: int = 0
    seconds: float = 0.0
    message: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    already_in_lake: int = 0  # items the lake's index holds (by guid, else link): skipped


class _Retryable(Exception):
    def __init__(self, response: requests.Response | None, message: str) -> None:
        super().__init__(message)
        self.response = response


class _TooLarge(Exception):
    pass


class _Late(Exception):
    pass


class _BadRedirect(Exception):
    pass


class _Watch:
    """The request under way, for the deadline's watchdog: one fetch at a time per Fetcher."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None  # kept: http.client lets go of it at a close
        self.late = False

    def cut(self) -> None:
        """Shut the socket of the request under way (its blocked read returns at once)."""
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed: nothing left to cut
                sock.shutdown(socket.SHUT_RDWR)


class _Noted:
    """A urllib3 connection that gives its watch its socket as it connects or sends a
    request (a kept-alive connection sends on the socket it has)."""

    watch: _Watch

    def connect(self) -> None:
        super().connect()
        self.watch.sock = self.sock

    def request(self, *args, **kwargs) -> None:
        self.watch.sock = self.sock
        super().request(*args, **kwargs)


def _watched_pools(watch: _Watch) -> dict[str, type]:
    """urllib3 pool classes whose connections are :class:`_Noted` to ``watch``."""
    pools = {}
    for scheme, pool in (
        ("http", urllib3.connectionpool.HTTPConnectionPool),
        ("https", urllib3.connectionpool.HTTPSConnectionPool),
    ):
        connection = type("Connection", (_Noted, pool.ConnectionCls), {"watch": watch})
        pools[scheme] = type("Pool", (pool,), {"ConnectionCls": connection})
    return pools


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter, its connections watched (see :func:`_watched_pools`)."""

    def __init__(self, watch: _Watch) -> None:
        self.watch = watch  # before HTTPAdapter.__init__, which builds the pool manager
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _watched_pools(self.watch)

    def proxy_manager_for(self, proxy: str, **kwargs):
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _watched_pools(self.watch)
        return manager


def retry_after(response: requests.Response | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    when = email.utils.parsedate_tz(value)
    return max(0.0, calendar.timegm(when[:9]) - (when[9] or 0) - time.time()) if when else None


class Fetcher:
    """One requests session and the politeness state of one worker; one fetch at a time."""

    def __init__(self, policy: FetchPolicy, sleep=time.sleep) -> None:
        self.policy = policy
        self.sleep = sleep
        self.session = requests.Session()
        self._watch = _Watch()
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, _WatchedAdapter(self._watch))
        self.session.max_redirects = policy.max_redirects
        self.session.headers["User-Agent"] = policy.user_agent
        self.session.headers["Accept"] = (
            "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"
        )
        self._last_request: dict[str, float] = {}
        self._deadline = float("inf")

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = retry_after(getattr(error, "response", None))
        if asked is not None:
            return min(asked, self.policy.max_wait, self._left())
        backoff = self.policy.backoff * 2 ** (state.attempt_number - 1)
        return min(backoff * (1 + random.random() / 2), self.policy.max_wait, self._left())

    def _left(self) -> float:
        """Seconds until the deadline of the fetch under way: no wait outlasts it."""
        return max(0.0, self._deadline - time.monotonic())

    def _watchdog(self, done: threading.Event) -> None:
        """At the deadline, mark the fetch late and cut its request; again every 0.1 s while
        it runs (a connection still connecting has no socket to cut yet)."""
        if done.wait(self._left()):
            return
        self._watch.late = True
        while True:
            self._watch.cut()
            if done.wait(0.1):
                return

    def _polite(self, url: str) -> None:
        host = urlsplit(url).netloc
        since = time.monotonic() - self._last_request.get(host, float("-inf"))
        if since < self.policy.min_interval:
            self.sleep(self.policy.min_interval - since)

    def _get_once(self, url: str, headers: dict[str, str]) -> tuple[requests.Response, bytes]:
        """One attempt; :class:`_Late` once the deadline passed, whatever the cut read gave."""
        if self._watch.late:
            raise _Late()
        try:
            response, body = self._request(url, headers)
        except Exception as error:
            if self._watch.late:
                raise _Late() from error
            raise
        if self._watch.late:
            raise _Late()
        return response, body

    def _request(self, url: str, headers: dict[str, str]) -> tuple[requests.Response, bytes]:
        self._polite(url)
        locations: list[str] = []

        def note_redirect(response: requests.Response, *args, **kwargs) -> None:
            if response.is_redirect:
                locations.append(response.headers["Location"])

        try:
            try:
                response = self.session.get(
                    url,
                    headers=headers,
                    stream=True,
                    timeout=(self.policy.connect_timeout, self.policy.read_timeout),
                    hooks={"response": note_redirect},
                )
            except requests.exceptions.ConnectionError as error:
                raise _Retryable(None, f"connection failed: {error}") from error
            except ValueError as error:  # urllib.parse's and urllib3's, on a bad Location
                if not locations or isinstance(error, requests.exceptions.RequestException):
                    raise
                raise _BadRedirect(
                    f"redirected to {locations[-1]!r}, which is not a usable URL ({error}); "
                    "ask the feed's owner for its current address"
                ) from error
            try:
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Retryable(response, f"HTTP {response.status_code}")
                return response, self._read_capped(response)
            finally:
                response.close()
        finally:  # the interval runs from the end of this request, whatever became of it
            self._last_request[urlsplit(url).netloc] = time.monotonic()

    def _read_capped(self, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.policy.max_bytes:
            raise _TooLarge(f"Content-Length {int(declared):,} bytes")
        chunks, size = [], 0
        for chunk in response.iter_content(chunk_size=64 * 1024):
            size += len(chunk)
            if size > self.policy.max_bytes:
                raise _TooLarge(f"more than {self.policy.max_bytes:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def fetch(
        self, url: str, validators: dict[str, str] | None = None
    ) -> tuple[FeedReport, bytes, dict[str, str]]:
        """GET ``url`` as the policy says; the report, the body and the response headers."""
        started = time.monotonic()
        headers = {}
        if validators and validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators and validators.get("last_modified"):
            headers["If-Modified-Since"] = validators["last_modified"]
        attempts = 0

        def report(outcome: str, **fields) -> FeedReport:
            return FeedReport(
                uri=url,
                outcome=outcome,
                attempts=attempts,
                seconds=round(time.monotonic() - started, 3),
                **fields,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(self.policy.attempts),
            wait=self._wait,
            sleep=self.sleep,
            reraise=True,
        )
        late = (
            f"{url}: no complete answer within the feed deadline of {self.policy.deadline:g} s "
            "(--feed-deadline), over all attempts; the server may be dripping its answer. The "
            "next run asks again."
        )
        self._deadline = started + self.policy.deadline
        self._watch.late, self._watch.sock, done = False, None, threading.Event()
        watchdog = threading.Thread(target=self._watchdog, args=(done,), name=WATCHDOG, daemon=True)
        watchdog.start()
        try:
            for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    response, body = self._get_once(url, headers)
        except _Late:
            return report("timeout", message=late), b"", {}
        except _BadRedirect as error:
            return report("bad_redirect", message=f"{url}: {error}"), b"", {}
        except _Retryable as error:
            status = error.response.status_code if error.response is not None else None
            outcome = "http_error" if status else "connection_error"
            message = f"{error} after {attempts} attempts"
            return report(outcome, status=status, message=message), b"", {}
        except requests.exceptions.Timeout as error:
            return report("timeout", message=f"no answer within the timeout: {error}"), b"", {}
        except requests.exceptions.TooManyRedirects:
            message = f"more than {self.policy.max_redirects} redirects"
            return report("too_many_redirects", message=message), b"", {}
        except _TooLarge as error:
            return report("too_large", message=f"body abandoned: {error}"), b"", {}
        except requests.exceptions.RequestException as error:
            return report("connection_error", message=str(error)), b"", {}
        finally:
            done.set()
            watchdog.join()
        response_headers = {k.lower(): v for k, v in response.headers.items()}
        fields = dict(
            status=response.status_code,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )
        if response.status_code == 304:
            return report("not_modified", **fields), b"", response_headers
        if response.status_code >= 400:
            message = f"HTTP {response.status_code}"
            return report("http_error", message=message, **fields), b"", {}
        digest = hashlib.sha256(body).hexdigest()
        return report("ok", size=len(body), sha256=digest, **fields), body, response_headers
