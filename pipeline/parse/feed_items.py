"""Turn feed items into article records.

Guarantees: every item becomes one :class:`~pipeline.core.records.Article` or one
:class:`~pipeline.core.records.Reject`. The item's HTML becomes paragraphs first; then its title
and paragraphs go through the same parser as a drop segment, so MIL-OSI's layout in
``content:encoded`` (Region and Source lines, disclaimer, dateline, end marker, footer) is
read exactly as in a drop, and any other item becomes a plain article (title, content or
summary as body). The record's source carries the feed URL, item link, guid, author and
categories; without a dateline the item's own date is the published date (``feed``), and a
dateline's year comes from it. Every record's lineage points at the item's element in the
feed as served. Rejected, with the item's bytes, guid and link: ``unreadable_item`` (its
fields could not be read), ``not_a_feed`` (the whole document of a feed that is none),
``empty_item`` (no title and no text), ``no_body`` (a
title only), ``no_title`` (one paragraph and no title), and the drop parser's refusals
(``binary_content``, ``footer_only``, ``no_title``, ``no_body``) in a feed item's words.
"""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser

import apache_beam as beam

from connectors.inputs import FeedItem
from pipeline.core.records import Article, Lineage, Reject, RunContext, Segment
from pipeline.parse.articles import Refusal, parse_each, parse_segment

__all__ = [
    "ParseFeedItems",
    "html_paragraphs",
    "item_article",
    "item_lineage",
    "item_reject",
    "item_segment",
]

_BLOCKS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote pre table tr section article header"
    " footer".split()
)
_SKIPPED = frozenset({"script", "style"})


class _Paragraphs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._text: list[str] = []
        self._skipping = 0

    def _close(self) -> None:
        text = " ".join("".join(self._text).split())
        if text:
            self.paragraphs.append(text)
        self._text = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag in _BLOCKS:
            self._close()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCKS:
            self._close()

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._text.append(data)


def html_paragraphs(html: str) -> list[str]:
    """The text of ``html`` as paragraphs: one per block element, entities resolved."""
    if "<" not in html:
        return [" ".join(line.split()) for line in html.splitlines() if line.strip()]
    parser = _Paragraphs()
    parser.feed(html)
    parser.close()
    parser._close()
    return parser.paragraphs


def item_segment(item: FeedItem) -> Segment:
    """The item as the parser's input: its title and paragraphs, one per line pair."""
    text = "\n\n".join([" ".join(item.title.split()), *html_paragraphs(item.html)])
    return Segment(
        source_uri=item.feed_url,
        source_sha256=item.feed_sha256,
        index=item.index,
        offset=0,
        raw=text.encode("utf-8"),
        reference_date=item.published,
        year_from="feed" if item.published else None,
        ended_by="end_of_file",
    )


def item_lineage(item: FeedItem, run: RunContext) -> Lineage:
    """Where a record made from ``item`` came from: its element's bytes in the feed."""
    return Lineage(
        source_uri=item.feed_url,
        source_sha256=item.feed_sha256,
        segment_index=item.index,
        byte_offset=item.offset or 0,
        byte_length=len(item.raw),
        encoding=item.encoding,
        ingest_time=run.ingest_time,
        run_id=run.run_id,
        pipeline_version=run.pipeline_version,
    )


def item_reject(item: FeedItem, run: RunContext, stage: str, reason: str, message: str) -> Reject:
    """A reject that keeps the item: its bytes as served (or their serialisation), guid, link."""
    return Reject(
        stage=stage,
        reason=reason,
        message=message,
        raw=item.raw,
        lineage=item_lineage(item, run),
        guid=item.guid,
        item_url=item.link,
    )


# What each refusal of the drop parser means for a feed item.
_REFUSED = {
    "binary_content": "its text is mostly control characters",
    "footer_only": "its text is only the MIL-OSI footer",
    "no_title": "its title is not a title line (too long, a header line, or no words)",
    "no_body": "it has a title but no body paragraph with words",
}


def _refusal(item: FeedItem, reason: str, what: str) -> Refusal:
    return Refusal(reason, f"{item.where}: {what}; the item's bytes are kept in this reject.")


def _check_item(item: FeedItem, paragraphs: list[str]) -> None:
    """Refuse what cannot become an article before the drop parser reads it."""
    titled = bool(item.title.strip())
    if item.problem:
        raise _refusal(item, item.refusal, item.problem)
    if not titled and not paragraphs:
        raise _refusal(item, "empty_item", "it has no title, and no text in a content or summary")
    if not paragraphs:
        raise _refusal(item, "no_body", "it has a title but no text in a content or summary")
    if not titled and len(paragraphs) == 1:
        raise _refusal(item, "no_title", "it has no title, and one paragraph of text")


def item_article(item: FeedItem, run: RunContext) -> Article:
    """The article an item holds; without a title, its first paragraph is the title.

    Raises:
        Refusal: the item is no article (``unreadable_item``, ``empty_item``, ``no_body``,
            ``no_title``, or a refusal of the drop parser); ``reason`` says why.
    """
    _check_item(item, html_paragraphs(item.html))
    try:
        article = parse_segment(item_segment(item), run)
    except Refusal as refusal:
        raise _refusal(item, refusal.reason, _REFUSED.get(refusal.reason, str(refusal))) from None
    source = dataclasses.replace(
        article.source,
        channel=article.source.channel or item.channel,
        feed_url=item.feed_url,
        item_url=item.link,
        guid=item.guid,
        author=item.author,
        categories=item.categories,
    )
    article = dataclasses.replace(article, source=source, lineage=item_lineage(item, run))
    if article.published_from == "ingest" and item.published is not None:
        article = dataclasses.replace(
            article, published_date=item.published, published_from="feed", year_from=None
        )
    return article


class ParseFeedItems(beam.PTransform):
    """Feed items in; ``articles`` and ``rejects`` out."""

    def __init__(self, run: RunContext) -> None:
        super().__init__()
        if not run.run_id:
            raise ValueError("ParseFeedItems: run.run_id must not be empty")
        self.run = run

    def expand(self, items):
        return parse_each(items, self.run, item_article, item_reject)
