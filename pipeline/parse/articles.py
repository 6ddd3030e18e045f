"""Parse article segments into records.

Guarantees: every segment becomes exactly one :class:`Article` or one :class:`Reject`
carrying the segment's raw bytes. The body starts at the dateline (or after the header when
there is none) and holds no header line, disclaimer, end marker, footer or closing line (a
release's end lines, the source's URL, a trailer: see :mod:`~pipeline.parse.frame`); a
release's title repeated as its first line is not kept twice. Rejected, with a
reason code: ``binary_content``, ``segment_too_large``, ``not_a_drop`` (the splitter found no
MIL-OSI marker in the whole file), ``footer_only``, ``no_title``, ``no_body``; an unexpected
exception becomes a reject with stage ``unexpected``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.core.records import Article, Dateline, Reject, RunContext, Segment
from pipeline.core.text import clean_text, control_bytes, decode, fingerprint, short_words, words_of
from pipeline.parse import layout
from pipeline.parse.frame import (
    Closing,
    Header,
    Layout,
    item_lines,
    layout_of,
    month_number,
    read_title,
)
from pipeline.parse.language import ENGLISH_SAMPLE, language

__all__ = [
    "MAX_TITLE_CHARS",
    "Inspection",
    "ParseArticles",
    "Refusal",
    "infer_year",
    "inspect_segment",
    "parse_dateline",
    "parse_each",
    "parse_segment",
    "reject_for",
    "reject_unexpected",
]

MAX_TITLE_CHARS = 400
_SLACK = dt.timedelta(days=1)  # a dateline's day may run a day ahead of the drop's (time zones)

_DATELINE = re.compile(
    r"(?P<city>[A-Z][^\W\d_]*(?:[ .'\-][^\W\d_]+){0,4}\.?)"
    r"(?:,\s*[A-Z][^\W\d_.]*(?:[ .][^\W\d_]+){0,3}\.?)?"  # an optional state or country
    r",\s+(?P<date>(?P<month>[A-Z][a-z]{2,8})\.?\s+(?P<day>\d{1,2})(?:,\s*(?P<year>\d{4}))?)"
    r"\s*(?:\((?P<agency>[^()]{1,60})\)\s*|/(?P<slashed>[^/]{1,60})/\s*)?"
    rf"[{layout.DASHES}]{{1,2}}\s*"
)
_END_MARKER = re.compile(rf"\s*[{layout.DASHES}]\s*0\s*[{layout.DASHES}]\s*$")
_C1 = re.compile(r"[\x80-\x9f]")
_WORDLIKE = re.compile(r"[^\W\d_]{2}")
_ENGLISH = short_words(
    b"the of and to in a is that for on with as by was were are at from said has have its".split()
)
_ASTERISKS = re.compile(r"\*{3,}")  # the rule under a release's repeated title


class Refusal(ValueError):
    """An expected refusal: the segment is not an article, for a stated reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def infer_year(month: int, day: int, reference: dt.date) -> dt.date | None:
    """The latest date with that month and day not after ``reference``, with a day of slack
    for time zones, looking back at most into the year before.

    A dateline reports news already out when the drop was made, so "Mar. 16" in a drop of
    Nov. 28, 2026 is 2026-03-16, never 2027; "Dec. 31" in a drop of Jan. 2 is last year's,
    and "Jan. 1" in a drop of Dec. 31 next year's (the slack). None when neither year has
    that day (Feb. 30; Feb. 29 with no leap year since the start of last year). A reference
    within the slack of the calendar's end (9999-12-31, a file's clock) is taken as that end.
    """
    latest = min(reference, dt.date.max - _SLACK) + _SLACK
    for year in range(latest.year, reference.year - 2, -1):
        try:
            date = dt.date(year, month, day)
        except ValueError:  # Feb. 29, or no such day
            continue
        if date <= latest:
            return date
    return None


def parse_dateline(paragraph: str) -> tuple[Dateline, int, int, int | None] | None:
    """The dateline opening ``paragraph``, with its month, day and year (if written)."""
    match = _DATELINE.match(paragraph)
    if match is None:
        return None
    month = month_number(match["month"])
    if month is None:
        return None
    dateline = Dateline(
        city=match["city"].rstrip("."),
        date_text=match["date"],
        agency=agency.strip() if (agency := match["agency"] or match["slashed"]) else None,
    )
    year = int(match["year"]) if match["year"] else None
    return dateline, month, int(match["day"]), year


def _unusual_characters(raw: bytes, text: str, encoding: str) -> int:
    count = control_bytes(raw) + text.count("\ufffd")
    if encoding == "latin-1":  # bytes no Windows-1252 character has: C1 controls
        count += len(_C1.findall(text))
    return count


def _strip_end_marker(body: list[str]) -> tuple[list[str], str | None]:
    # Only the tail can hold the marker; searching the whole paragraph costs a scan per dash.
    tail = max(0, len(body[-1]) - 16) if body else 0
    if not body or not (match := _END_MARKER.search(body[-1], tail)):
        return body, None
    last = body[-1][: match.start()].strip()
    return ([*body[:-1], last] if last else body[:-1]), match.group().strip()


def parse_segment(segment: Segment, run: RunContext) -> Article:
    """Parse one segment into an article.

    Raises:
        Refusal: the segment is not an article; ``reason`` says why.
    """
    return _read(segment, run)[0]


@dataclasses.dataclass(frozen=True)
class Inspection:
    """An article, the end marker its body had (``–0–``), if any, and its layout."""

    article: Article
    end_marker: str | None
    layout: Layout


class _Parts(NamedTuple):
    """What the parser saw around the body, for :func:`inspect_segment`."""

    header: Header
    closing: Closing
    prefixed: bool
    repeated_title: bool
    end_marker: str | None


def inspect_segment(segment: Segment, run: RunContext) -> Inspection:
    """Like :func:`parse_segment`, and also what the segment's layout was."""
    article, parts = _read(segment, run)
    features = ["repeated title"] if parts.repeated_title else []
    if any(layout.ATTRIBUTION.fullmatch(line) for line in article.body if line[:4] == "When"):
        features.append("attribution line")
    if article.dateline is not None:
        agency = article.dateline.agency
        features.append(f"dateline ({agency})" if agency else "dateline")
    if parts.end_marker:
        features.append(f"end marker {parts.end_marker}")
    found = layout_of(parts.header, parts.closing, parts.prefixed, features)
    return Inspection(article, parts.end_marker, found)


def _read(segment: Segment, run: RunContext) -> tuple[Article, _Parts]:
    if segment.ended_by == "too_large":
        raise Refusal(
            "drop_too_large",
            f"{segment.source_uri}: holds more than --max-drop-bytes once inflated, so it was "
            f"not read; its first {segment.length:,} bytes are kept in this reject and the file "
            "is left where it is. If it is a real drop, run again with a larger --max-drop-bytes.",
        )
    if segment.ended_by == "oversize":
        raise Refusal(
            "segment_too_large",
            f"{segment.source_uri} at byte {segment.offset}: no article boundary within "
            f"{segment.length:,} bytes; the bytes are kept in this reject. Check that the file "
            "is a MIL-OSI drop.",
        )
    decoded, encoding = decode(segment.raw, segment.encoding)
    text = clean_text(decoded)
    where = f"{segment.source_uri} at byte {segment.offset}"
    # UTF-16's ASCII characters carry a NUL byte each: count its controls as characters.
    raw = segment.raw if segment.encoding is None else decoded.encode("utf-8")
    if _unusual_characters(raw, text, encoding) > max(8, len(raw) // 20):
        raise Refusal(
            "binary_content",
            f"{where}: {segment.length:,} bytes are mostly control characters, not text; "
            "is this a drop file?",
        )
    if segment.ended_by == "not_a_drop":
        raise Refusal(
            "not_a_drop",
            f"{where}: {segment.length:,} bytes with no MIL-OSI marker (no Region or Source "
            "line, dateline, end marker or footer in the whole file): not a drop, kept whole "
            "in this reject. Move it out of the drop folder, or check it is the file you meant.",
        )
    lines, closing = item_lines(text)
    if not lines:
        raise Refusal("footer_only", f"{where}: only the MIL-OSI footer, no article before it.")
    title, rubric, milosi_channel = read_title(lines[0])
    if len(title) > MAX_TITLE_CHARS or layout.is_header_line(title) or not _WORDLIKE.search(title):
        raise Refusal(
            "no_title",
            f"{where}: the segment does not start with a title line (first line: "
            f"{title[:80]!r}); the drop may be cut off or not in MIL-OSI layout.",
        )
    header = Header()
    position = 1
    while position < len(lines) and header.read(lines[position]):
        position += 1
    body, repeated_title = _body(lines[position:], lines[0])
    body, end_marker = _strip_end_marker(body)
    if not any(_WORDLIKE.search(paragraph) for paragraph in body):
        raise Refusal(
            "no_body",
            f"{where}: title {title[:80]!r} has no body paragraphs; its bytes are kept in this "
            "reject. If the file was cut off after this title, write it whole and run again.",
        )

    dateline, published, published_from, year_from = None, None, "ingest", None
    if parsed := parse_dateline(body[0]):
        dateline, month, day, year = parsed
        if year is not None:
            published = _safe_date(year, month, day)
        else:
            reference = header.date or segment.reference_date
            year_from = "header" if header.date else segment.year_from
            published = infer_year(month, day, reference) if reference else None
        if published is not None:
            published_from = "dateline"
        else:
            year_from = None
    if published is None and header.date is not None:
        published, published_from = header.date, "header"
    if published is None:
        published = run.ingest_time.date()

    words = words_of(" ".join(body), _ENGLISH, ENGLISH_SAMPLE)
    article = Article(
        id=fingerprint(words.joined),
        title=title,
        rubric=rubric,
        body=tuple(body),
        language=language(title, body, min(words.count, ENGLISH_SAMPLE), words.listed),
        published_date=published,
        published_from=published_from,
        year_from=year_from,
        dateline=dateline,
        source=header.source(milosi_channel or closing.channel, closing.url),
        word_count=words.count,
        lineage=segment.lineage(encoding, run),
    )
    parts = _Parts(header, closing, milosi_channel is not None, repeated_title, end_marker)
    return article, parts


def _body(lines: list[str], title_line: str) -> tuple[list[str], bool]:
    """The body's lines, without a release's repeated title and the rule under it."""
    if not lines or lines[0] != title_line:
        return lines, False
    if len(lines) > 1 and _ASTERISKS.fullmatch(lines[1]):
        return lines[2:], True
    return lines[1:], True


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def reject_for(segment: Segment, run: RunContext, stage: str, reason: str, message: str) -> Reject:
    """A reject that keeps the segment's bytes and lineage."""
    encoding = decode(segment.raw, segment.encoding)[1]
    return Reject(
        stage=stage,
        reason=reason,
        message=message,
        raw=segment.raw,
        lineage=segment.lineage(encoding, run),
    )


class _ParseFn(beam.DoFn):
    """Parses each input with ``parse``; a refusal becomes ``reject_of(input, ...)``."""

    REJECTS = "rejects"

    def __init__(self, run: RunContext, parse: Callable, reject_of: Callable) -> None:
        self.run = run
        self.parse = parse
        self.reject_of = reject_of
        self.articles = Metrics.counter("feedlake", "articles")
        self.rejects = Metrics.counter("feedlake", "rejects")

    def process(self, element) -> Iterator[Article | beam.pvalue.TaggedOutput]:
        try:
            article = self.parse(element, self.run)
        except Refusal as refusal:
            self.rejects.inc()
            Metrics.counter("feedlake", f"rejects_{refusal.reason}").inc()
            yield beam.pvalue.TaggedOutput(
                self.REJECTS,
                self.reject_of(element, self.run, "parse", refusal.reason, refusal.message),
            )
            return
        self.articles.inc()
        yield article


def reject_unexpected(failure: tuple, run: RunContext, reject_of: Callable = reject_for) -> Reject:
    """A reject for an input whose parsing raised: ``(input, (class, repr, traceback))``."""
    segment, (_exc_class, exc_repr, _traceback) = failure
    return reject_of(
        segment,
        run,
        "unexpected",
        "parser_error",
        f"{segment.where}: the parser failed with {exc_repr}; "
        "this is a feedlake bug, please report it with this reject's raw bytes.",
    )


def parse_each(
    inputs: beam.PCollection,
    run: RunContext,
    parse: Callable = parse_segment,
    reject_of: Callable = reject_for,
) -> dict[str, beam.PCollection]:
    """``articles`` and ``rejects`` of parsing every input; exceptions become rejects too.

    ``parse(input, run)`` makes the article or raises :class:`Refusal`;
    ``reject_of(input, run, stage, reason, message)`` makes the reject that keeps its bytes.
    """
    parsed = inputs | "Parse each" >> beam.ParDo(_ParseFn(run, parse, reject_of)).with_outputs(
        _ParseFn.REJECTS, main="articles"
    ).with_exception_handling(main_tag="articles", dead_letter_tag="failed")
    failed = parsed["failed"] | "Keep failures as rejects" >> beam.Map(
        lambda failure, run: reject_unexpected(failure, run, reject_of), run
    )
    rejects = (parsed[_ParseFn.REJECTS], failed) | "Gather rejects" >> beam.Flatten()
    return {"articles": parsed["articles"], "rejects": rejects}


class ParseArticles(beam.PTransform):
    """Segments in; ``articles`` and ``rejects`` out (unexpected errors become rejects too)."""

    def __init__(self, run: RunContext) -> None:
        super().__init__()
        if not run.run_id:
            raise ValueError("ParseArticles: run.run_id must not be empty")
        self.run = run

    def expand(self, segments):
        return parse_each(segments, self.run)
