"""HTTP for feeds: one requests Session per worker, patient and polite.

Connect and read timeouts; retries with exponential backoff and jitter on connection errors,
429 and 5xx, honouring ``Retry-After`` (capped); at most a few redirects; the body streamed
and abandoned past a cap; gzip; a ``User-Agent`` naming feedlake; conditional GET with the
validators of the last fetch; per host, one request at a time and a minimum interval. Every
fetch ends in a :class:`FeedReport` with a named outcome; nothing raises.
"""

from __future__ import annotations

import calendar
import dataclasses
import email.utils
import hashlib
import random
import time
from urllib.parse import urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from pipeline import __version__

__all__ = ["USER_AGENT", "FeedReport", "FetchPolicy", "Fetcher", "retry_after"]

USER_AGENT = f"feedlake/{__version__} (news ingestion; honours Retry-After and ETag)"


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

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.max_bytes < 1 or self.min_interval < 0:
            raise ValueError("FetchPolicy: attempts and max_bytes must be positive")


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
    already_in_lake: int = 0  # items whose guid or link the lake's index holds: skipped


class _Retryable(Exception):
    def __init__(self, response: requests.Response | None, message: str) -> None:
        super().__init__(message)
        self.response = response


class _TooLarge(Exception):
    pass


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
    """One requests session and the politeness state of one worker."""

    def __init__(self, policy: FetchPolicy, sleep=time.sleep) -> None:
        self.policy = policy
        self.sleep = sleep
        self.session = requests.Session()
        self.session.max_redirects = policy.max_redirects
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Accept"] = (
            "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"
        )
        self._last_request: dict[str, float] = {}

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = retry_after(getattr(error, "response", None))
        if asked is not None:
            return min(asked, self.policy.max_wait)
        backoff = self.policy.backoff * 2 ** (state.attempt_number - 1)
        return min(backoff * (1 + random.random() / 2), self.policy.max_wait)

    def _polite(self, url: str) -> None:
        host = urlsplit(url).netloc
        since = time.monotonic() - self._last_request.get(host, float("-inf"))
        if since < self.policy.min_interval:
            self.sleep(self.policy.min_interval - since)

    def _get_once(self, url: str, headers: dict[str, str]) -> tuple[requests.Response, bytes]:
        self._polite(url)
        try:
            try:
                response = self.session.get(
                    url,
                    headers=headers,
                    stream=True,
                    timeout=(self.policy.connect_timeout, self.policy.read_timeout),
                )
            except requests.exceptions.ConnectionError as error:
                raise _Retryable(None, f"connection failed: {error}") from error
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
        try:
            for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    response, body = self._get_once(url, headers)
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
