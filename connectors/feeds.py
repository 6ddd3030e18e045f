"""Read RSS and Atom feeds: lists, fetching (:mod:`connectors.http`), parsing.

Guarantees: every feed URL ends with exactly one :class:`FeedReport` (``ok``,
``not_modified``, ``http_error``, ``timeout``, ``too_large``, ``too_many_redirects``,
``connection_error``, ``not_a_feed``) and a failed feed never fails the run. Feeds are
grouped by host so that each host sees one request at a time. feedparser always gets the
fetched bytes with the response headers, never a URL; a malformed ("bozo") feed keeps its
readable entries and says why. A local path in the feed list is read from disk. Items the
caller already holds are skipped: known by their guid, by their link only when they have no
guid (:func:`~connectors.inputs.item_identity`). Conditional-GET validators come from the
caller, which keeps them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import mimetypes
import os
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Container, Iterator
from urllib.parse import urlsplit

import apache_beam as beam
import feedparser
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from connectors.feed_entries import entry_json, entry_spans
from connectors.http import FeedReport, Fetcher, FetchPolicy, retry_after
from connectors.inputs import FeedItem

__all__ = [
    "FeedReport",
    "FetchPolicy",
    "Fetcher",
    "ReadFeeds",
    "due_feeds",
    "load_feed_list",
    "parse_feed",
    "read_feed",
    "read_feed_list",
    "retry_after",
]

_LOG = logging.getLogger(__name__)
_FEED_TYPES = ("rss", "atom", "rdf", "xml")


_NOT_IN_A_PATH = frozenset("`|<>\"'*")  # markup and prose, not a file name in a feed list


def _why_not_a_feed(entry: str, folder: str | None) -> str | None:
    """Why a feed list's ``entry`` is neither a feed URL nor a path; None when it is one.

    A URL is ``scheme://...`` without spaces that urllib can split (with a host for HTTP).
    A path is anything else without spaces, control characters or markup (``|``, backquotes,
    quotes, ``<``, ``>``, ``*``), or a file that exists (relative to ``folder``).
    """
    if "://" in entry:
        if any(ch.isspace() for ch in entry):
            return "a URL with spaces"
        try:
            parts = urlsplit(entry)
            host = parts.hostname
        except ValueError as error:
            return f"not a usable URL: {error}"
        if parts.scheme in ("http", "https") and not host:
            return "a URL without a host"
        return None
    if not any(ch.isspace() or not ch.isprintable() or ch in _NOT_IN_A_PATH for ch in entry):
        return None
    if folder is not None and os.path.isfile(os.path.join(folder, entry)):
        return None
    return "not a URL; spaces or markup, and no such file"


def read_feed_list(text: str, folder: str | None = None) -> list[str]:
    """Feed URLs (or paths) from an OPML document or from one URL or path per line.

    Raises:
        ValueError: the OPML cannot be read, or entries are neither feed URLs nor paths
            (``--feeds README.md``); the message names the first few by line.
    """
    if text.lstrip().startswith("<"):
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError as error:
            raise ValueError(f"not a readable OPML file: {error}") from None
        numbered = [
            (f"outline {n}", node.get("xmlUrl").strip())
            for n, node in enumerate(root.iter("outline"), start=1)
            if node.get("xmlUrl")
        ]
    else:
        numbered = [(f"line {n}", line.strip()) for n, line in enumerate(text.splitlines(), 1)]
        numbered = [(at, line) for at, line in numbered if line and not line.startswith("#")]
    bad = [(at, entry) for at, entry in numbered if _why_not_a_feed(entry, folder)]
    if bad:
        named = "; ".join(
            f"{at} {entry[:60]!r} ({_why_not_a_feed(entry, folder)})" for at, entry in bad[:3]
        )
        raise ValueError(
            f"{len(bad)} of {len(numbered)} lines are neither a feed URL nor a path, first: "
            f"{named}. Give one feed URL or file path per line ('#' starts a comment), or an "
            "OPML file."
        )
    return list(dict.fromkeys(entry for _, entry in numbered))


def load_feed_list(path: str) -> list[str]:
    """The feeds a list file names; relative paths are taken from the file's folder."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        folder = os.path.dirname(os.path.abspath(path)) if "://" not in path else None
        entries = read_feed_list(fh.read().decode("utf-8"), folder)
    return [
        entry if "://" in entry or folder is None else os.path.join(folder, entry)
        for entry in entries
    ]


def due_feeds(
    urls: list[str],
    state: dict[str, dict[str, str]],
    fetcher: Fetcher,
    on_outcome: Callable[[str, str], None] | None = None,
) -> list[str]:
    """The feeds that changed since the lake last read them (``feedlake watch`` polls these).

    A URL is asked with its validators (an unchanged feed answers 304); a local file is
    hashed. A feed that fails now is not due: the next poll tries again. ``on_outcome`` is
    told each feed's outcome (``ok``, ``not_modified`` or a failure).
    """
    due = []
    for url in urls:
        known = state.get(url, {})
        if "://" in url:
            report, _, _ = fetcher.fetch(url, known)
        else:
            report, _, _ = _read_local(url, fetcher.policy.max_bytes)
        if on_outcome is not None:
            on_outcome(url, report.outcome)
        if report.outcome == "ok" and (report.sha256 != known.get("sha256") or not known):
            due.append(url)
    return due


def _entry_date(entry) -> dt.date | None:
    """The entry's published (else updated) date; None when it has none or no date holds it
    (feedparser turns year 1 at +01:00 into year 0 in UTC)."""
    for field in ("published_parsed", "updated_parsed"):
        parsed = entry.get(field)
        try:
            return dt.date(*parsed[:3])
        except (TypeError, ValueError):  # none given (None), or not a date
            continue
    return None


def _item_of(entry, base: FeedItem) -> FeedItem:
    """``base`` (the entry's place and bytes) with the fields feedparser read of ``entry``."""
    content = entry.get("content") or []
    html = content[0].get("value") if content else entry.get("summary", "")
    return dataclasses.replace(
        base,
        title=entry.get("title", ""),
        html=html or "",
        link=entry.get("link") or None,
        guid=entry.get("id") or None,
        author=entry.get("author"),
        published=_entry_date(entry),
        categories=tuple(t["term"] for t in entry.get("tags", []) if t.get("term")),
    )


def _not_a_feed(
    uri: str, body: bytes, headers: dict[str, str], report: FeedReport, parsed
) -> tuple[FeedReport, list[FeedItem]]:
    """A document with no RSS or Atom root (an HTML page, a Markdown file, even one whose
    text mentions ``<item>``): ``not_a_feed``, and one item holding its bytes, rejected."""
    kind = headers.get("content-type", "unknown content type")
    reason = str(parsed.get("bozo_exception") or "no feed elements")
    message = f"not an RSS or Atom feed ({kind}; {reason}); check the URL"
    document = FeedItem(
        uri,
        report.sha256 or "",
        0,
        "",
        "",
        raw=body,
        offset=0,
        encoding=parsed.get("encoding") or "utf-8",
        problem=f"the document is {message}",
        refusal="not_a_feed",
    )
    report = dataclasses.replace(report, outcome="not_a_feed", message=message, items=1)
    return report, [document] if body else []


def parse_feed(
    uri: str, body: bytes, headers: dict[str, str], report: FeedReport
) -> tuple[FeedReport, list[FeedItem]]:
    """Parse fetched bytes with feedparser; the report updated, and every entry as an item.

    Each item carries its entry's bytes as served (located by
    :func:`~connectors.feed_entries.entry_spans`), or where they cannot be located a JSON
    serialisation of the entry. An entry whose fields cannot be read is an item with a
    ``problem`` (the item's reject says it), never the feed's failure.
    """
    parsed = feedparser.parse(body, response_headers={"content-location": uri, **headers})
    version = parsed.get("version") or ""
    if not version.startswith(_FEED_TYPES):
        return _not_a_feed(uri, body, headers, report, parsed)
    notes = []
    if parsed.bozo:
        notes.append(f"malformed feed, readable entries kept: {parsed.bozo_exception}")
    spans = entry_spans(body) if parsed.entries else []
    if spans is None or len(spans) != len(parsed.entries):
        notes.append(
            "the entries could not be located in the feed's bytes, so its rejects keep a JSON "
            "serialisation of each entry"
        )
        spans = None
    channel = parsed.feed.get("title")
    items = []
    for index, entry in enumerate(parsed.entries):
        base = FeedItem(uri, report.sha256 or "", index, "", "", channel=channel)
        if spans is None:
            base = dataclasses.replace(base, raw=entry_json(entry))
        else:
            start, end = spans[index]
            encoding = parsed.get("encoding") or "utf-8"
            base = dataclasses.replace(base, raw=body[start:end], offset=start, encoding=encoding)
        try:
            items.append(_item_of(entry, base))
        except Exception as error:  # one entry's failure is that entry's reject
            problem = f"its fields could not be read: {type(error).__name__}: {error}"
            guid, link = entry.get("id") or None, entry.get("link") or None
            items.append(dataclasses.replace(base, guid=guid, link=link, problem=problem))
    message = "; ".join(notes) or None
    return dataclasses.replace(report, items=len(items), message=message), items


def _read_local(path: str, max_bytes: int) -> tuple[FeedReport, bytes, dict[str, str]]:
    """A feed file on disk, read up to ``max_bytes`` (as a served feed is); its type comes
    from its name, as a server's header would."""
    started = time.monotonic()
    try:
        with open(path, "rb") as fh:
            body = fh.read(max_bytes + 1)
    except OSError as error:
        return FeedReport(uri=path, outcome="connection_error", message=str(error)), b"", {}
    if len(body) > max_bytes:
        message = f"file abandoned: more than {max_bytes:,} bytes (--feed-max-bytes)"
        return FeedReport(uri=path, outcome="too_large", message=message, attempts=1), b"", {}
    report = FeedReport(
        uri=path,
        outcome="ok",
        size=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        attempts=1,
        seconds=round(time.monotonic() - started, 3),
    )
    kind = mimetypes.guess_type(path)[0] or "application/xml"
    return report, body, {"content-type": "application/xml" if kind == "text/plain" else kind}


def read_feed(
    url: str, fetcher: Fetcher, validators: dict[str, str] | None, seen: Container[str]
) -> tuple[FeedReport, list[FeedItem]]:
    """Fetch (or read) and parse one feed; the report, and the items the lake does not hold.

    Whatever goes wrong is this feed's outcome: an exception no outcome names becomes
    ``unexpected_error`` with its message, and the other feeds and drops of the run go on.
    """
    try:
        if "://" in url:
            report, body, headers = fetcher.fetch(url, validators)
        else:
            report, body, headers = _read_local(os.path.abspath(url), fetcher.policy.max_bytes)
        if report.outcome != "ok":
            return report, []
        report, items = parse_feed(report.uri, body, headers, report)
    except Exception as error:  # one feed's failure is that feed's outcome, never the run's
        _LOG.exception("feed %s: unexpected error", url)
        message = (
            f"{url}: reading the feed raised {type(error).__name__}: {error}; the run went on "
            "without it. If the feed is valid, report this with its URL."
        )
        return FeedReport(uri=url, outcome="unexpected_error", message=message), []
    fresh = [item for item in items if item.identity not in seen]
    report = dataclasses.replace(report, items=len(fresh), already_in_lake=len(items) - len(fresh))
    return report, fresh


class _FetchHostFn(beam.DoFn):
    REPORTS = "reports"

    def __init__(
        self,
        policy: FetchPolicy,
        validators: dict[str, dict[str, str]],
        known: Callable[[], Container[str]] | None,
    ) -> None:
        self.policy = policy
        self.validators = validators
        self.load_known = known

    def setup(self) -> None:
        self.fetcher = Fetcher(self.policy)
        self.known: Container[str] = frozenset()
        if self.load_known is not None:
            self.known = self.load_known()

    def process(
        self, grouped: tuple[str, list[str]]
    ) -> Iterator[FeedItem | beam.pvalue.TaggedOutput]:
        _host, urls = grouped
        for url in sorted(urls):  # one host, one request at a time
            report, items = read_feed(url, self.fetcher, self.validators.get(url), self.known)
            Metrics.counter("feedlake", f"feeds_{report.outcome}").inc()
            _LOG.info(
                "feed %s: %s (%d new items, %d already in the lake)",
                report.uri,
                report.outcome,
                report.items,
                report.already_in_lake,
            )
            yield from items
            yield beam.pvalue.TaggedOutput(self.REPORTS, report)


def _host_of(url: str) -> tuple[str, str]:
    return (urlsplit(url).netloc or "local files", url)


class ReadFeeds(beam.PTransform):
    """Feed URLs (or local paths) in the constructor; ``items`` and ``reports`` out.

    Feeds are grouped by host so that each host sees one request at a time.

    Args:
        urls: the feeds.
        validators: per URL, the ``etag`` and ``last_modified`` of its last fetch.
        policy: timeouts, retries, caps and politeness.
        known: called once on each worker, gives the identities of the feed items already
            held (by guid, or link for items without one: :func:`~connectors.inputs.item_identity`);
            those items are skipped, so each is processed once across runs. It must pickle
            (a module-level function or a ``functools.partial`` of one). None: skip nothing.
    """

    def __init__(
        self,
        urls: list[str],
        validators: dict[str, dict[str, str]] | None = None,
        policy: FetchPolicy | None = None,
        known: Callable[[], Container[str]] | None = None,
    ) -> None:
        super().__init__()
        if not urls:
            raise ValueError("ReadFeeds: give at least one feed")
        self.urls = list(urls)
        self.validators = validators or {}
        self.policy = policy or FetchPolicy()
        self.known = known

    def expand(self, pbegin):
        return (
            pbegin
            | "List feeds" >> beam.Create(self.urls, reshuffle=False)
            | "Key feeds by host" >> beam.Map(_host_of)
            | "Group feeds by host" >> beam.GroupByKey()
            | "Fetch and parse feeds"
            >> beam.ParDo(_FetchHostFn(self.policy, self.validators, self.known)).with_outputs(
                _FetchHostFn.REPORTS, main="items"
            )
        )
