"""Parse article segments into records.

Guarantees: every segment becomes exactly one :class:`Article` or one :class:`Reject`
carrying the segment's raw bytes. The body starts at the dateline (or after the header when
there is none) and holds no header line, disclaimer, end marker or footer. Rejected, with a
reason code: ``binary_content``, ``segment_too_large``, ``not_a_drop`` (the splitter found no
MIL-OSI marker in the whole file), ``footer_only``, ``no_title``, ``no_body``; an unexpected
exception becomes a reject with stage ``unexpected``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.core.records import Article, Dateline, Reject, RunContext, Segment, Source
from pipeline.core.text import (
    Words,
    clean_text,
    control_bytes,
    decode,
    fingerprint,
    short_words,
    words_of,
)
from pipeline.parse import layout

__all__ = [
    "MAX_TITLE_CHARS",
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

_MONTH_NAMES = tuple(
    "January February March April May June July August September October November December".split()
)
# Every abbreviation of three letters or more, lower-cased ("aug", "sept", "august"); no two
# months share one.
_MONTHS = {
    name[:stop].lower(): number
    for number, name in enumerate(_MONTH_NAMES, start=1)
    for stop in range(3, len(name) + 1)
}
_DATELINE = re.compile(
    r"(?P<city>[A-Z][^\W\d_]*(?:[ .'\-][^\W\d_]+){0,4}\.?)"
    r"(?:,\s*[A-Z][^\W\d_.]*(?:[ .][^\W\d_]+){0,3}\.?)?"  # an optional state or country
    r",\s+(?P<date>(?P<month>[A-Z][a-z]{2,8})\.?\s+(?P<day>\d{1,2})(?:,\s*(?P<year>\d{4}))?)"
    r"\s*(?:\((?P<agency>[^()]{1,60})\)\s*)?"
    rf"[{layout.DASHES}]{{1,2}}\s*"
)
_END_MARKER = re.compile(rf"\s*[{layout.DASHES}]\s*0\s*[{layout.DASHES}]\s*$")
_RUBRIC = re.compile(r"/(?P<rubric>[^/]{1,200})/\s*(?P<title>.+)")
_C1 = re.compile(r"[\x80-\x9f]")
_CONTROL_CHARACTERS = dict.fromkeys([*range(32), 127])
_CHANNEL_END = re.compile(rf"\s+[{layout.DASHES}]\s+")
_WORDLIKE = re.compile(r"[^\W\d_]{2}")
_ENGLISH = short_words(
    b"the of and to in a is that for on with as by was were are at from said has have its".split()
)
_LANGUAGE_SAMPLE = 200  # words


class Refusal(ValueError):
    """An expected refusal: the segment is not an article, for a stated reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def month_number(word: str) -> int | None:
    """1-12 for a month name or abbreviation ('Aug', 'Sept', 'August'), else None."""
    return _MONTHS.get(word.lower())


def infer_year(month: int, day: int, reference: dt.date) -> dt.date | None:
    """The latest date with that month and day not after ``reference``, with a day of slack
    for time zones, looking back at most into the year before.

    A dateline reports news already out when the drop was made, so "Mar. 16" in a drop of
    Nov. 28, 2026 is 2026-03-16, never 2027; "Dec. 31" in a drop of Jan. 2 is last year's,
    and "Jan. 1" in a drop of Dec. 31 next year's (the slack). None when neither year has
    that day (Feb. 30; Feb. 29 with no leap year since the start of last year).
    """
    latest = reference + _SLACK
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
        agency=match["agency"].strip() if match["agency"] else None,
    )
    year = int(match["year"]) if match["year"] else None
    return dateline, month, int(match["day"]), year


def _language(words: Words) -> str:
    """'en' when English function words are common among the first 200 of ``words``
    (counted by :func:`~pipeline.core.text.words_of`), else 'und'."""
    sample = min(words.count, _LANGUAGE_SAMPLE)
    return "en" if sample and words.listed >= 0.12 * sample else "und"


def _unusual_characters(raw: bytes, text: str, encoding: str) -> int:
    count = control_bytes(raw) + text.count("\ufffd")
    if encoding == "latin-1":  # bytes no Windows-1252 character has: C1 controls
        count += len(_C1.findall(text))
    return count


@dataclasses.dataclass
class _Header:
    source_lines: list[str] = dataclasses.field(default_factory=list)
    declared_region: str | None = None
    translated: bool = False
    date: dt.date | None = None

    def read(self, line: str) -> bool:
        """Take ``line`` into the header; False when it is not a header line."""
        if match := layout.REGION_LINE.fullmatch(line):
            self.translated = self.translated or bool(match["translation"])
            self.declared_region = match["region"] or self.declared_region
        elif match := layout.SOURCE_LINE.fullmatch(line):
            self.source_lines.append(match["text"])
        elif match := layout.HEADER_DATE.fullmatch(line):
            self.date = dt.date(int(match["year"]), month_number(match["month"]), int(match["day"]))
        elif not (layout.DISCLAIMER.fullmatch(line) or layout.HEADER_TIME.fullmatch(line)):
            return False
        return True

    def source(self) -> Source:
        channel = None
        if self.source_lines:
            channel = _CHANNEL_END.split(self.source_lines[0], 1)[0].strip() or None
        return Source(
            channel=channel,
            origin=self.source_lines[-1] if self.source_lines else None,
            lines=tuple(self.source_lines),
            declared_region=self.declared_region,
            translated=self.translated,
        )


def _paragraphs(text: str) -> list[str]:
    lines = []
    for line in text.split("\n"):
        line = line.strip()
        if not line or line == ".":  # stripped, a separator line is just the dot
            continue
        if not line.isprintable() and not line.translate(_CONTROL_CHARACTERS).strip():
            continue  # only control characters: a blank line, as the splitter sees it
        if line[:6].lower() == "please" and layout.FOOTER.match(line):
            break
        lines.append(line)
    return lines


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
    return inspect_segment(segment, run)[0]


def inspect_segment(segment: Segment, run: RunContext) -> tuple[Article, str | None]:
    """Like :func:`parse_segment`, and also the end marker the body had (``–0–``), if any."""
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
    lines = _paragraphs(text)
    if not lines:
        raise Refusal("footer_only", f"{where}: only the MIL-OSI footer, no article before it.")
    title = lines[0]
    if len(title) > MAX_TITLE_CHARS or layout.is_header_line(title) or not _WORDLIKE.search(title):
        raise Refusal(
            "no_title",
            f"{where}: the segment does not start with a title line (first line: "
            f"{title[:80]!r}); the drop may be cut off or not in MIL-OSI layout.",
        )
    header = _Header()
    position = 1
    while position < len(lines) and header.read(lines[position]):
        position += 1
    body, end_marker = _strip_end_marker(lines[position:])
    if not any(_WORDLIKE.search(paragraph) for paragraph in body):
        raise Refusal("no_body", f"{where}: title {title[:80]!r} has no body paragraphs.")

    rubric = None
    if match := _RUBRIC.fullmatch(title):
        rubric, title = match["rubric"].strip(), match["title"].strip()

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

    words = words_of(" ".join(body), _ENGLISH, _LANGUAGE_SAMPLE)
    article = Article(
        id=fingerprint(words.joined),
        title=title,
        rubric=rubric,
        body=tuple(body),
        language=_language(words),
        published_date=published,
        published_from=published_from,
        year_from=year_from,
        dateline=dateline,
        source=header.source(),
        word_count=words.count,
        lineage=segment.lineage(encoding, run),
    )
    return article, end_marker


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
