"""Real-world drop variants, each derived from the real drop: the articles survive intact."""

from __future__ import annotations

import datetime as dt
import random
import tracemalloc
from collections import Counter

import pytest

from connectors.inputs import Drop
from pipeline.parse.articles import Refusal, inspect_segment, parse_segment
from pipeline.parse.split import split_drop
from pipeline.validate import validate_drop
from tests.conftest import make_segment

FOOTER = (
    b"Please note: This information is raw content obtained directly from the source of the "
    b"information. It is an accurate report of what the source claims and does not necessarily "
    b"reflect the position of MIL-OSI or its clients."
)
FOOTER_VARIANTS = [
    FOOTER,
    b"Please note: This information is raw content obtained directly from the source. It is an "
    b"accurate account of the source's assertions and does not necessarily reflect the position "
    b"of MIL-OSI or its clients.",
    b"Please note: This information is raw content obtained directly from the source of the "
    b"information. It is an accurate report of what the source claims.",
]


def parse_all(data: bytes, run, reference=dt.date(2025, 8, 29)):
    """Split and parse like the pipeline: (articles, rejects) with every segment accounted for."""
    articles, rejects = [], []
    for index, span in enumerate(split_drop(data)):
        segment = make_segment(
            data[span.offset : span.end],
            index=index,
            offset=span.offset,
            ended_by=span.ended_by,
            reference_date=reference,
        )
        try:
            articles.append(parse_segment(segment, run))
        except Refusal as refusal:
            rejects.append((refusal.reason, segment))
    return articles, rejects


@pytest.fixture(scope="module")
def baseline(sample_bytes, run):
    articles, rejects = parse_all(sample_bytes, run)
    assert len(articles) == 10 and not rejects
    return articles


def same_articles(found, baseline):
    assert [a.title for a in found] == [a.title for a in baseline]
    assert [a.body for a in found] == [a.body for a in baseline]
    assert [a.dateline for a in found] == [a.dateline for a in baseline]


# Bytes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"], ids=["crlf", "cr"])
def test_crlf_and_cr_line_ends(sample_bytes, baseline, run, newline):
    articles, rejects = parse_all(sample_bytes.replace(b"\n", newline), run)
    assert not rejects
    same_articles(articles, baseline)


def test_utf8_bom_is_stripped_and_recorded(sample_bytes, baseline, run):
    articles, _ = parse_all(b"\xef\xbb\xbf" + sample_bytes, run)
    same_articles(articles, baseline)
    assert articles[0].lineage.encoding == "utf-8-sig"
    assert articles[0].lineage.byte_offset == 0
    assert {a.lineage.encoding for a in articles[1:]} == {"utf-8"}


def test_windows_1252_is_decoded_and_recorded(sample_bytes, baseline, run):
    articles, rejects = parse_all(sample_bytes.decode("utf-8").encode("cp1252"), run)
    assert not rejects
    same_articles(articles, baseline)
    assert {a.lineage.encoding for a in articles} == {"cp1252"}


def test_stray_windows_1252_byte_in_utf8_keeps_the_utf8_text(sample_bytes, run):
    data = sample_bytes.replace(b"Namibian government", b"Namibia\x92s government")
    articles, _ = parse_all(data, run)
    namibia = next(a for a in articles if a.dateline.city == "WINDHOEK")
    assert namibia.lineage.encoding == "utf-8+cp1252"
    assert "Namibia’s government" in namibia.body[0]
    assert "—" in namibia.body[0]  # the UTF-8 em dash of the dateline is intact


def test_nul_bytes_are_removed(sample_bytes, baseline, run):
    data = sample_bytes.replace(b"Xinhua", b"Xin\x00hua").replace(b"SCO ", b"SCO\x00 ")
    articles, rejects = parse_all(data, run)
    assert not rejects
    same_articles(articles, baseline)


def test_html_entities_are_resolved(sample_bytes, baseline, run):
    data = (
        sample_bytes.replace("“".encode(), b"&#8220;")
        .replace("”".encode(), b"&rdquo;")
        .replace(b" and ", b" &amp; ")
    )
    articles, _ = parse_all(data, run)
    assert [a.title for a in articles] == [a.title.replace(" and ", " & ") for a in baseline]
    assert articles[1].body == tuple(p.replace(" and ", " & ") for p in baseline[1].body)


def test_no_trailing_newline_and_extra_trailing_blank_lines(sample_bytes, baseline, run):
    for data in (sample_bytes.rstrip(b"\n."), sample_bytes + b"\n\n\n"):
        articles, rejects = parse_all(data, run)
        assert not rejects
        same_articles(articles, baseline)


def test_file_cut_mid_body_keeps_complete_articles_and_the_tail(sample_bytes, baseline, run):
    cut = sample_bytes.index(b"The combined operating revenue")  # inside article 8's body
    articles, rejects = parse_all(sample_bytes[:cut], run)
    assert not rejects
    assert [a.title for a in articles] == [a.title for a in baseline[:8]]
    same_articles(articles[:7], baseline[:7])
    assert len(articles[7].body) == 1  # the tail: title, header and the dateline paragraph


def test_file_cut_in_the_header_rejects_the_tail_with_its_bytes(sample_bytes, run):
    start = sample_bytes.index(b"Namibia launches")
    cut = sample_bytes.index(b"Source:", start)
    articles, rejects = parse_all(sample_bytes[:cut], run)
    assert len(articles) == 5
    ((reason, segment),) = rejects
    assert reason == "no_body"
    assert segment.offset == start and segment.raw == sample_bytes[start:cut].rstrip()


def test_file_cut_mid_character_still_parses(sample_bytes, run):
    cut = sample_bytes.index("façade".encode()) + len("fa") + 1  # inside the two bytes of ç
    articles, _ = parse_all(sample_bytes[:cut], run)
    assert articles[0].body[-1].endswith("fa\ufffd")
    assert articles[0].lineage.encoding == "utf-8"


def test_binary_file_gives_only_rejects_with_exact_bytes(run):
    data = random.Random(7).randbytes(200_000)
    articles, rejects = parse_all(data, run)
    assert articles == []
    assert rejects and {reason for reason, _ in rejects} <= {
        "binary_content",
        "no_title",
        "no_body",
        "footer_only",
    }
    for _, segment in rejects:
        assert data[segment.offset : segment.offset + segment.length] == segment.raw


def test_twenty_megabyte_line_is_rejected_in_bounded_pieces_in_bounded_memory(run):
    data = b"word " * 4_000_000  # 20 MB, no line end
    tracemalloc.start()
    spans = split_drop(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2_000_000  # the splitter copies nothing of the line
    assert len(spans) == 20 and {s.ended_by for s in spans} == {"oversize"}
    assert sum(s.end - s.offset for s in spans) == len(data)
    assert max(s.end - s.offset for s in spans) <= 1 << 20
    segment = make_segment(data[spans[0].offset : spans[0].end], ended_by="oversize")
    with pytest.raises(Refusal, match="no article boundary"):
        parse_segment(segment, run)


# Layout -----------------------------------------------------------------------------------


@pytest.mark.parametrize("footer", FOOTER_VARIANTS, ids=["report", "account", "short"])
def test_footer_wording_variants(sample_bytes, baseline, run, footer):
    articles, rejects = parse_all(sample_bytes.replace(FOOTER, footer), run)
    assert not rejects
    same_articles(articles, baseline)


@pytest.mark.parametrize("marker", ["–0–", "-0-", "—0—", " — 0 — ", ""])
def test_end_marker_variants_never_reach_the_body(sample_bytes, baseline, run, marker):
    data = sample_bytes.replace(" –0–".encode(), f" {marker}".encode()).replace(
        b" -0-", f" {marker}".encode()
    )
    articles, _ = parse_all(data, run)
    same_articles(articles, baseline)


def test_end_marker_on_its_own_line_is_dropped(sample_bytes, baseline, run):
    articles, _ = parse_all(sample_bytes.replace(" –0–".encode(), "\n\n–0–".encode()), run)
    same_articles(articles, baseline)


def without_dots(data: bytes) -> bytes:
    return data.replace(b"\n\n.\n\n", b"\n\n").removesuffix(b"\n\n.")


@pytest.mark.parametrize(
    ("variant", "endings"),
    [
        (lambda d: d.replace(FOOTER + b"\n\n", b""), {"separator": 10}),
        (without_dots, {"footer": 10}),
        (lambda d: without_dots(d).replace(FOOTER, b""), {"next_title": 9, "end_of_file": 1}),
    ],
    ids=["dot-without-footer", "footer-alone", "neither"],
)
def test_separator_styles(sample_bytes, baseline, run, variant, endings):
    data = variant(sample_bytes)
    assert Counter(span.ended_by for span in split_drop(data)) == endings
    articles, rejects = parse_all(data, run)
    assert not rejects
    same_articles(articles, baseline)


def test_optional_header_parts_may_be_missing(sample_bytes, baseline, run):
    data = (
        sample_bytes.replace(b"Translation. ", b"")
        .replace(b"An important disclaimer is at the bottom of this article.\n\n", b"")
        .replace(b"Source: People's Republic of China \xe2\x80\x93 State Council News\n\n", b"")
    )
    articles, rejects = parse_all(data, run)
    assert not rejects
    same_articles(articles, baseline)
    assert {a.source.translated for a in articles} == {False}
    assert {a.source.origin for a in articles} == {
        "People's Republic of China in Russian – People's Republic of China in Russian"
    }


def test_no_header_at_all(sample_bytes, run):
    raw = b"A plain title\n\nBEIJING, Aug. 29 (Xinhua) -- A body.\n"
    article = parse_segment(make_segment(raw), run)
    assert article.source.lines == () and article.source.declared_region is None
    assert article.dateline.city == "BEIJING"


def test_trailing_dash_on_region_and_several_source_lines(run):
    raw = (
        "Title\n\nRegion: Asia Pacific –\n\nSource: A – B –\n\nSource: C —\n\n"
        "Source: Ministry of Foreign Affairs -\n\nHANOI, Aug. 29 (VNA) — Body.\n"
    ).encode()
    article = parse_segment(make_segment(raw), run)
    assert article.source.declared_region == "Asia Pacific"
    assert article.source.lines == ("A – B", "C", "Ministry of Foreign Affairs")
    assert (article.source.channel, article.source.origin) == ("A", "Ministry of Foreign Affairs")


def test_date_and_time_lines_before_the_dateline_stay_out_of_the_body(sample_bytes, run):
    raw = (
        "Title\n\nTranslation. Region: Russian Federal\n\nSource: X –\n\n"
        "An important disclaimer is at the bottom of this article.\n\n"
        "October 21, 2025\n\n15:06\n\nMOSCOW, Oct. 21 (TASS) — Body text here.\n"
    ).encode()
    article = parse_segment(make_segment(raw, reference_date=dt.date(2026, 3, 1)), run)
    assert article.body == ("MOSCOW, Oct. 21 (TASS) — Body text here.",)
    assert article.published_date == dt.date(2025, 10, 21)
    assert article.year_from == "header"


def test_no_dateline_takes_the_header_date_or_else_the_ingest_date(run):
    with_date = b"Title\n\nOctober 21, 2025\n\n15:06\n\nThe body has no dateline.\n"
    article = parse_segment(make_segment(with_date), run)
    assert (article.published_date, article.published_from) == (dt.date(2025, 10, 21), "header")
    assert article.dateline is None and article.body == ("The body has no dateline.",)
    bare = parse_segment(make_segment(b"Title\n\nThe body has no dateline.\n"), run)
    assert (bare.published_date, bare.published_from) == (run.ingest_time.date(), "ingest")


def test_inspect_reports_the_end_marker_and_the_layout(run):
    raw = "Title\n\nBody one.\n\nBody two. —0—\n".encode()
    inspection = inspect_segment(make_segment(raw), run)
    assert inspection.end_marker == "—0—"
    assert inspection.article.body == ("Body one.", "Body two.")
    assert str(inspection.layout) == "plain (end marker —0—)"


def test_validate_reports_variants_and_rejects(sample_bytes, run):
    cut = sample_bytes.index(b"Source:", sample_bytes.index(b"Namibia launches"))
    data = sample_bytes[:cut].replace(b"\n", b"\r\n")
    drop = Drop("/d/milosi-2025-08-29.txt", data, "0" * 64, None, dt.date(2025, 8, 29), "x")
    report = validate_drop(drop, run)
    assert (report.articles, report.rejects_by_reason()) == (5, {"no_body": 1})
    assert report.endings == {"footer": 5, "end_of_file": 1}
    assert report.end_markers == {"–0–": 5}
    assert report.rejects[0].offset == data.index(b"Namibia launches")
    assert not report.clean
