"""Property tests: generated drops in random layout variants split back into their articles;
any bytes at all split and parse without an unexpected error, and nothing is lost."""

from __future__ import annotations

import dataclasses
import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.inputs import Drop
from pipeline.parse.articles import Refusal, parse_segment
from pipeline.parse.split import content_lines, segments_of, split_drop
from tests.conftest import RUN, make_segment

WORDS = st.sampled_from(
    "river market policy summit trade grain port rail energy school water harvest council "
    "minister province export growth festival bridge treaty youth science".split()
)
FOOTER = (
    "Please note: This information is raw content obtained directly from the source of the "
    "information. It is an accurate report of what the source claims and does not necessarily "
    "reflect the position of MIL-OSI or its clients."
)


def phrase(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.lists(WORDS, min_size=min_size, max_size=max_size).map(" ".join)


@dataclasses.dataclass
class GeneratedArticle:
    title: str
    rubric: str | None
    region: str | None
    translated: bool
    sources: list[str]
    disclaimer: bool
    date_lines: list[str]
    dateline: str | None
    body: list[str]
    end_marker: str
    footer: bool
    dot: bool
    dash_after_header: bool

    @property
    def has_header(self) -> bool:
        # Date and time lines alone do not start an article: after a body they are table text.
        return bool(self.region or self.sources or self.disclaimer)

    def lines(self) -> list[str]:
        title = self.title if self.rubric is None else f"/{self.rubric}/ {self.title}"
        dash = " –" if self.dash_after_header else ""
        lines = [title]
        if self.region:
            lines.append(f"{'Translation. ' if self.translated else ''}Region: {self.region}{dash}")
        lines += [f"Source: {source}{dash}" for source in self.sources[:1]]
        if self.disclaimer:
            lines.append("An important disclaimer is at the bottom of this article.")
        lines += [f"Source: {source}{dash}" for source in self.sources[1:]]
        lines += self.date_lines
        body = list(self.expected_body())
        body[-1] += self.end_marker
        lines += body
        if self.footer:
            lines.append(FOOTER)
        if self.dot:
            lines.append(".")
        return lines

    def expected_body(self) -> tuple[str, ...]:
        first = f"{self.dateline}{self.body[0]}" if self.dateline else self.body[0]
        return (first, *self.body[1:])


def paragraph() -> st.SearchStrategy[str]:
    return phrase(3, 25).map(lambda text: text.capitalize() + ".")


articles = st.builds(
    GeneratedArticle,
    title=phrase(1, 10).map(str.title),
    rubric=st.none() | phrase(1, 4).map(str.title),
    region=st.none() | phrase(1, 3).map(str.title),
    translated=st.booleans(),
    sources=st.lists(phrase(1, 4).map(str.title), max_size=3),
    disclaimer=st.booleans(),
    date_lines=st.sampled_from([[], ["October 21, 2025"], ["October 21, 2025", "15:06"]]),
    dateline=st.none() | st.sampled_from(["BEIJING, Aug. 29 (Xinhua) — ", "Moscow, Sept. 3 -- "]),
    body=st.lists(paragraph(), min_size=1, max_size=4),
    end_marker=st.sampled_from(["", " –0–", " -0-", " —0—"]),
    footer=st.booleans(),
    dot=st.booleans(),
    dash_after_header=st.booleans(),
)


@st.composite
def drops(draw):
    generated = draw(st.lists(articles, min_size=1, max_size=6))
    for before, after in itertools.pairwise(generated):
        if not (before.footer or before.dot or after.has_header):
            before.dot = True  # with no separator, only a header block can start an article
    blank = draw(st.sampled_from(["\n", "\n\n", "\n\n\n"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    text = blank.join(line for article in generated for line in article.lines())
    text += draw(st.sampled_from(["", "\n", "\n\n"]))
    return generated, text.replace("\n", newline).encode(encoding)


def split_and_parse(data: bytes):
    articles, rejects, spans = [], [], split_drop(data, max_segment_bytes=4096)
    for index, span in enumerate(spans):
        segment = make_segment(
            data[span.offset : span.end], index=index, offset=span.offset, ended_by=span.ended_by
        )
        try:
            articles.append(parse_segment(segment, RUN))
        except Refusal as refusal:
            rejects.append((refusal.reason, segment))
    return spans, articles, rejects


@settings(max_examples=150, deadline=None)
@given(drops())
def test_generated_drops_split_back_into_exactly_their_articles(drop):
    generated, data = drop
    _, parsed, rejects = split_and_parse(data)
    assert rejects == []
    assert [a.title for a in parsed] == [g.title for g in generated]
    assert [a.rubric for a in parsed] == [g.rubric for g in generated]
    assert [a.body for a in parsed] == [g.expected_body() for g in generated]
    assert [a.source.lines for a in parsed] == [tuple(g.sources) for g in generated]
    assert [a.source.declared_region for a in parsed] == [g.region for g in generated]
    assert [a.source.translated for a in parsed] == [
        bool(g.region and g.translated) for g in generated
    ]
    assert [a.dateline is not None for a in parsed] == [g.dateline is not None for g in generated]


# What may lie between segments: blank lines (spaces, or control characters where an empty
# line belongs) and separator dots.
BLANK_OR_DOT = bytes([*range(32), 127]) + b" ."


@settings(max_examples=150, deadline=None)
@given(drops())
def test_a_generated_drop_is_split_unless_it_has_no_marker_at_all(drop):
    generated, data = drop
    marked = any(
        g.region or g.sources or g.disclaimer or g.dateline or g.end_marker or g.footer
        for g in generated
    )
    record = Drop("/d/drop.txt", data, "0" * 64, None, None, None)
    spans = [(s.offset, s.offset + s.length, s.ended_by) for s in segments_of(record, 4096)]
    if marked:
        assert spans == [(s.offset, s.end, s.ended_by) for s in split_drop(data, 4096)]
    else:  # titles, bodies and dates alone: nothing says MIL-OSI
        assert spans == [(0, len(data), "not_a_drop")]


def assert_nothing_lost(data: bytes, spans) -> None:
    position = 0
    for span in spans:
        assert position <= span.offset < span.end <= len(data)
        gap = data[position : span.offset]
        assert not gap.translate(None, BLANK_OR_DOT), gap
        position = span.end
    assert not data[position:].translate(None, BLANK_OR_DOT)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=6000))
def test_random_bytes_never_raise_and_lose_nothing(data):
    spans, articles, rejects = split_and_parse(data)
    assert len(articles) + len(rejects) == len(spans)
    assert_nothing_lost(data, spans)
    for _, segment in rejects:
        assert data[segment.offset : segment.offset + segment.length] == segment.raw


@settings(max_examples=150, deadline=None)
@given(
    drops(),
    st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=8)), max_size=4),
)
def test_damaged_drops_never_raise_and_lose_nothing(drop, damage):
    _, data = drop
    for position, noise in damage:  # overwrite, insert, or cut the drop short
        at = position % (len(data) + 1)
        data = data[:at] + noise + data[at + len(noise) :] if position % 3 else data[:at]
    spans, articles, rejects = split_and_parse(data)
    assert len(articles) + len(rejects) == len(spans)
    assert_nothing_lost(data, spans)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"\xe2\x80\x94", b".", b" ", b"\n", b"\r", b"\r\n"])))
def test_content_lines_are_the_runs_between_line_ends(pieces):
    data = b"".join(pieces)
    for text in (data, data.replace(b"\r", b"")):  # the CR walk, and the LF-only fast path
        expected = [line.span() for line in re.finditer(rb"[^\r\n]+", text)]
        assert list(content_lines(text)) == expected
