"""Split drops into article segments.

Guarantees: every segment is exactly ``drop[offset:offset + length]``; segments never
overlap; the bytes between them are only blank lines and ``.`` separator lines, so nothing
with content is lost. A segment ends at a ``.`` line, after the MIL-OSI footer, or where the
next article's title and header block begins. Nothing is rejected here: a segment longer
than ``max_segment_bytes`` is cut into pieces marked ``cut="oversize"``, which the parser
turns into rejects, so a 20 MB line costs bounded memory per element.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.layout import BYTES
from pipeline.records import Drop, Segment

__all__ = ["DEFAULT_MAX_SEGMENT_BYTES", "DropSummary", "SplitDrops", "split_drop"]

DEFAULT_MAX_SEGMENT_BYTES = 1 << 20
MAX_TITLE_BYTES = 600  # a line longer than this is body text, never a title

_LOG = logging.getLogger(__name__)
_CONTENT_LINE = re.compile(rb"[^\r\n]+")


@dataclasses.dataclass(frozen=True)
class _Span:
    offset: int
    end: int
    cut: str | None = None


class _Splitter:
    """Walks the content lines of one drop and closes segments as the layout says."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.spans: list[_Span] = []
        self.start: int | None = None
        self.end = 0
        self.cut: str | None = None
        self.body_seen = False
        self.prev: tuple[int, int] | None = None  # (start, end) of the last content line
        self.end_before_prev = 0

    def close(self, end: int | None = None) -> None:
        if self.start is not None:
            self.spans.append(_Span(self.start, self.end if end is None else end, self.cut))
        self.start, self.cut, self.body_seen, self.prev = None, None, False, None

    def open(self, start: int) -> None:
        self.start, self.end = start, start

    def add(self, start: int, end: int, line: bytes) -> None:
        header = BYTES.is_header_line(line)
        if header and self.body_seen and self.prev is not None:
            title_start, title_end = self.prev
            if title_end - title_start <= MAX_TITLE_BYTES:
                # No separator and no footer: the previous line is the next article's title.
                self.close(self.end_before_prev)
                self.open(title_start)
                self.end = title_end
                self.prev = (title_start, title_end)
        if self.start is None:
            self.open(start)
        elif not header and self.prev is not None:
            self.body_seen = True
        self.end_before_prev = self.end
        self._extend(start, end)
        self.prev = (start, end)

    def _extend(self, start: int, end: int) -> None:
        if end - self.start <= self.max_bytes:
            self.end = end
            return
        if self.start < start:
            self.cut = "oversize"
            self.close()
            self.open(start)
        while end - start > self.max_bytes:
            self.spans.append(_Span(start, start + self.max_bytes, "oversize"))
            start += self.max_bytes
        self.start, self.end, self.cut = start, end, "oversize"


def split_drop(data: bytes, max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES) -> list[_Span]:
    """Cut a drop into article segments.

    Args:
        data: the drop's bytes, in any ASCII-compatible encoding, any line ends.
        max_segment_bytes: the longest segment; longer runs are cut into marked pieces.

    Returns:
        Spans in file order; ``data[span.offset:span.end]`` is a segment.
    """
    if max_segment_bytes < MAX_TITLE_BYTES:
        raise ValueError(f"split_drop: max_segment_bytes must be at least {MAX_TITLE_BYTES}")
    splitter = _Splitter(max_segment_bytes)
    for match in _CONTENT_LINE.finditer(data):
        line = match.group()
        if not line.strip():
            continue
        if BYTES.separator.fullmatch(line):
            splitter.close()
            continue
        splitter.add(match.start(), match.end(), line)
        if BYTES.footer.match(line):
            splitter.close()
    splitter.close()
    return splitter.spans


@dataclasses.dataclass(frozen=True)
class DropSummary:
    """What one drop was, for the run manifest."""

    uri: str
    size: int
    sha256: str
    modified: str | None
    reference_date: str | None
    year_from: str | None
    segments: int


class _SplitDropFn(beam.DoFn):
    SUMMARIES = "summaries"

    def __init__(self, max_segment_bytes: int) -> None:
        self.max_segment_bytes = max_segment_bytes
        self.segments = Metrics.counter("feedlake", "segments")
        self.cut = Metrics.counter("feedlake", "segments_cut")

    def process(self, drop: Drop) -> Iterator[Segment | beam.pvalue.TaggedOutput]:
        spans = split_drop(drop.data, self.max_segment_bytes)
        for index, span in enumerate(spans):
            self.segments.inc()
            if span.cut:
                self.cut.inc()
            yield Segment(
                source_uri=drop.uri,
                source_sha256=drop.sha256,
                index=index,
                offset=span.offset,
                raw=drop.data[span.offset : span.end],
                reference_date=drop.reference_date,
                year_from=drop.year_from,
                cut=span.cut,
            )
        _LOG.info("%s: %d segments in %s bytes", drop.uri, len(spans), f"{drop.size:,}")
        yield beam.pvalue.TaggedOutput(
            self.SUMMARIES,
            DropSummary(
                uri=drop.uri,
                size=drop.size,
                sha256=drop.sha256,
                modified=drop.modified.isoformat() if drop.modified else None,
                reference_date=drop.reference_date.isoformat() if drop.reference_date else None,
                year_from=drop.year_from,
                segments=len(spans),
            ),
        )


class SplitDrops(beam.PTransform):
    """Drops in; ``segments`` and one ``summaries`` record per drop out."""

    def __init__(self, max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES) -> None:
        super().__init__()
        if max_segment_bytes < MAX_TITLE_BYTES:
            raise ValueError(f"SplitDrops: max_segment_bytes must be at least {MAX_TITLE_BYTES}")
        self.max_segment_bytes = max_segment_bytes

    def expand(self, drops):
        return drops | "Cut at separators and footers" >> beam.ParDo(
            _SplitDropFn(self.max_segment_bytes)
        ).with_outputs(_SplitDropFn.SUMMARIES, main="segments")
