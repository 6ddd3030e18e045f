"""Validate drops without writing anything: what the pipeline would make of each file.

Runs the same split and parse functions as the pipeline, in-process, and reports per file
the articles found, each with the layout it is in and the parts of that layout seen
(:func:`~pipeline.parse.frame.layout_of`), the rejects with their reasons and offsets, and
the variants seen across the file (layouts, languages, encodings, how segments ended, end
markers).
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from connectors.inputs import Drop
from pipeline.classify.classifier import Classifier, scanned
from pipeline.core.records import Article, RunContext
from pipeline.core.text import decode
from pipeline.parse.articles import Refusal, inspect_segment
from pipeline.parse.split import DEFAULT_MAX_SEGMENT_BYTES, segments_of

__all__ = ["DropReport", "Explanation", "RejectNote", "explain", "validate_drop"]


@dataclasses.dataclass(frozen=True)
class RejectNote:
    reason: str
    offset: int
    length: int
    message: str


@dataclasses.dataclass(frozen=True)
class Explanation:
    """How one article was classified, for ``feedlake validate --explain``."""

    title: str
    language: str
    country: str | None
    region: str
    method: str
    topics_from: str
    mentioned: list[str]
    topics: list[tuple[str, str, float]]  # (code, label, score), best first
    terms: list[tuple[str, str, float, bool]]  # (term, code, weight, in title)


def explain(article: Article, classifier: Classifier) -> Explanation:
    """Classify ``article`` and say which evidence decided."""
    classified = classifier.classify(article)
    lead, rest = scanned(article.body)  # the very text the classifier read
    matches = classifier.topics.matches(article.title, f"{lead}\n{rest}")
    return Explanation(
        title=article.title,
        language=article.language,
        country=classified.location.country,
        region=classified.location.region,
        method=classified.location.method,
        topics_from=classified.topics_from,
        mentioned=list(classified.location.mentioned),
        topics=[(t.code, t.label, t.score) for t in classified.topics],
        terms=[(m.term, m.code, m.weight, m.in_title) for m in matches],
    )


@dataclasses.dataclass
class DropReport:
    """What validating one drop found."""

    uri: str
    size: int
    sha256: str
    reference_date: str | None
    year_from: str | None
    articles: int = 0
    titles: list[str] = dataclasses.field(default_factory=list)
    # Per article, its layout and the parts of it seen: "translation (translation region,
    # source, disclaimer, date line, time line, footer :)"; a new channel shows as a known
    # layout with other parts, a broken file as rejects or a "plain" item.
    variants: list[str] = dataclasses.field(default_factory=list)
    layouts: Counter[str] = dataclasses.field(default_factory=Counter)
    languages: Counter[str] = dataclasses.field(default_factory=Counter)
    rejects: list[RejectNote] = dataclasses.field(default_factory=list)
    encodings: Counter[str] = dataclasses.field(default_factory=Counter)
    endings: Counter[str] = dataclasses.field(default_factory=Counter)
    end_markers: Counter[str] = dataclasses.field(default_factory=Counter)
    explanations: list[Explanation] = dataclasses.field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.rejects

    @property
    def segments(self) -> int:
        return self.articles + len(self.rejects)

    def rejects_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(note.reason for note in self.rejects).items()))


def validate_drop(
    drop: Drop,
    run: RunContext,
    max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
    classifier: Classifier | None = None,
) -> DropReport:
    """Split and parse ``drop`` as the pipeline would, keeping a report instead of records.

    With a ``classifier``, each article's classification is explained in the report too.
    """
    report = DropReport(
        uri=drop.uri,
        size=drop.size,
        sha256=drop.sha256,
        reference_date=drop.reference_date.isoformat() if drop.reference_date else None,
        year_from=drop.year_from,
    )
    for segment in segments_of(drop, max_segment_bytes):
        report.endings[segment.ended_by] += 1
        try:
            inspection = inspect_segment(segment, run)
        except Refusal as refusal:
            report.encodings[decode(segment.raw, segment.encoding)[1]] += 1
            report.rejects.append(
                RejectNote(refusal.reason, segment.offset, segment.length, refusal.message)
            )
            continue
        article = inspection.article
        report.articles += 1
        report.titles.append(article.title)
        report.variants.append(str(inspection.layout))
        report.layouts[inspection.layout.name] += 1
        report.languages[article.language] += 1
        report.encodings[article.lineage.encoding] += 1
        report.end_markers[inspection.end_marker or "none"] += 1
        if classifier is not None:
            report.explanations.append(explain(article, classifier))
    return report
