"""The parser on the real drop, field by field, and its refusals."""

from __future__ import annotations

import codecs
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.inputs import Drop
from pipeline.parse.articles import Refusal, infer_year, month_number, parse_dateline, parse_segment
from pipeline.parse.split import segments_of, split_drop
from tests.conftest import SAMPLE_CITIES, make_segment

TITLES = [
    "How Xi Jinping is Strengthening Good-Neighborly Ties with SCO Friends",
    "Chinese fruits are in demand among consumers from other SCO member countries",
    "Exclusive: Humanitarian cooperation in the SCO lays the foundation for long-term ties "
    "between peoples — Russian expert",
    "Xijiang Autonomous Region has achieved significant socio-economic success in 60 years – "
    "Chinese Ambassador to Russia Zhang Hanhui",
    "Almost 3,000 Afghan families returned home from Pakistan and Iran in one day",
    "Namibia launches national campaign to rebuild schools",
    "Vietnamese to receive cash ahead of National Day",
    "China's SOEs post stable performance in first 7 months of 2025",
    "The Ministry of Defense of Kyrgyzstan presented jubilee medals in honor of the 80th "
    "anniversary of the victory in the Chinese People's War of Resistance against Japanese "
    "Aggression",
    "Xi Jinping Outlines Grand Plan for New Stage of High-Quality Development of SCO",
]
CITIES = SAMPLE_CITIES


@pytest.fixture(scope="module")
def articles(sample_bytes, run):
    spans = split_drop(sample_bytes)
    return [
        parse_segment(make_segment(sample_bytes[s.offset : s.end], index=i, offset=s.offset), run)
        for i, s in enumerate(spans)
    ]


def test_real_drop_gives_ten_articles_with_their_titles(articles):
    assert [a.title for a in articles] == TITLES


def test_rubrics_are_split_from_titles(articles):
    rubrics = [a.rubric for a in articles]
    assert rubrics[2] == rubrics[9] == "SCO Summit in Tianjin"
    assert rubrics.count(None) == 8


def test_datelines_name_city_date_and_agency(articles):
    assert [a.dateline.city for a in articles] == CITIES
    assert {a.dateline.agency for a in articles} == {"Xinhua"}
    assert {a.dateline.date_text for a in articles} == {"Aug. 29"}


@pytest.mark.parametrize("filler", [b"\x00", b"\x01\x02", b" \x7f "])
def test_control_character_lines_in_the_header_act_as_blank_lines(
    filler, sample_bytes, articles, run
):
    # The first article's header with control characters where its blank lines belong.
    body = sample_bytes.index(b"BEIJING, Aug. 29")
    header = sample_bytes[:body].replace(b"\n\n", b"\n" + filler + b"\n")
    data = header + sample_bytes[body:]
    spans = split_drop(data)
    assert len(spans) == 10
    first = parse_segment(make_segment(data[spans[0].offset : spans[0].end]), run)
    assert (first.id, first.title, first.body, first.source) == (
        articles[0].id,
        articles[0].title,
        articles[0].body,
        articles[0].source,
    )


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_utf16_drop_gives_the_same_articles_decoded_as_utf16(codec, sample_bytes, articles, run):
    bom = codecs.BOM_UTF16_LE if codec == "utf-16-le" else codecs.BOM_UTF16_BE
    data = bom + sample_bytes.decode("utf-8").encode(codec)
    drop = Drop("/d/milosi-2025-08-29.txt", data, "0" * 64, None, dt.date(2025, 8, 29), "drop_name")
    parsed = [parse_segment(segment, run) for segment in segments_of(drop)]
    assert [(a.id, a.title, a.body) for a in parsed] == [(a.id, a.title, a.body) for a in articles]
    assert {a.lineage.encoding for a in parsed} == {codec}


def test_a_file_with_no_milosi_marker_is_refused_as_not_a_drop_and_binary_as_binary(run):
    readme = b"# feedlake\n\nmake run    # set up .venv\n\nBoth need only Python 3.11.\n"
    with pytest.raises(Refusal) as refused:
        parse_segment(make_segment(readme, ended_by="not_a_drop"), run)
    assert refused.value.reason == "not_a_drop"
    assert "no MIL-OSI marker" in refused.value.message
    garbage = bytes(range(256)) * 40
    with pytest.raises(Refusal, match="control characters") as refused:
        parse_segment(make_segment(garbage, ended_by="not_a_drop"), run)
    assert refused.value.reason == "binary_content"


def test_published_date_takes_its_year_from_the_drop_name(articles):
    assert {a.published_date for a in articles} == {dt.date(2025, 8, 29)}
    assert {a.published_from for a in articles} == {"dateline"}
    assert {a.year_from for a in articles} == {"drop_name"}


def test_header_gives_translation_region_and_sources(articles):
    for article in articles:
        assert article.source.translated is True
        assert article.source.declared_region == "Russian Federal"
        assert article.source.channel == "People's Republic of China in Russian"
        assert article.source.origin == "People's Republic of China – State Council News"
        assert len(article.source.lines) == 2


def test_bodies_start_at_the_dateline_and_hold_no_boilerplate(articles):
    for article, city in zip(articles, CITIES, strict=True):
        assert article.body[0].startswith(f"{city}, Aug. 29 (Xinhua) — ")
        text = "\n".join(article.body)
        for boilerplate in ("Please note:", "disclaimer", "Source:", "Region:", "MIL-OSI"):
            assert boilerplate not in text
        assert not article.body[-1].endswith(("–0–", "-0-", "—0—"))
    assert articles[0].body[-1].endswith("plays a pioneering role in this.”")
    assert articles[7].body[-1].endswith("higher than a year earlier.")


def test_language_words_and_lineage(articles):
    assert {a.language for a in articles} == {"en"}
    assert articles[6].word_count == 87
    assert [a.lineage.segment_index for a in articles] == list(range(10))
    assert articles[1].lineage.byte_offset == 12051
    assert len({a.id for a in articles}) == 10


def _on(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 31),
    st.dates(min_value=dt.date(4, 1, 1), max_value=dt.date(9995, 12, 31)),
)
def test_infer_year_is_the_latest_date_not_after_the_reference(month, day, reference):
    latest = reference + dt.timedelta(days=1)  # a day of slack for time zones
    inferred = infer_year(month, day, reference)
    later = [_on(year, month, day) for year in range(reference.year - 1, reference.year + 2)]
    if inferred is None:  # no such day this year or last (Feb. 30; Feb. 29 off leap years)
        assert all(date is None or date > latest for date in later)
        return
    assert (inferred.month, inferred.day) == (month, day)
    assert inferred <= latest  # never in the future
    assert latest - inferred <= dt.timedelta(days=367)  # at most a year back
    assert all(date is None or date <= inferred or date > latest for date in later)


def test_a_dateline_never_lands_in_the_future_of_its_drop():
    # The case: "Mar. 16" in a drop whose file time is 2026-11-28 became 2027-03-16.
    assert infer_year(3, 16, dt.date(2026, 11, 28)) == dt.date(2026, 3, 16)
    assert infer_year(1, 2, dt.date(2025, 12, 31)) == dt.date(2025, 1, 2)
    assert infer_year(8, 31, dt.date(2025, 8, 29)) == dt.date(2024, 8, 31)
    assert infer_year(8, 29, dt.date(2025, 8, 29)) == dt.date(2025, 8, 29)


def test_infer_year_allows_a_day_of_slack_and_crosses_new_year_backwards():
    assert infer_year(8, 30, dt.date(2025, 8, 29)) == dt.date(2025, 8, 30)
    assert infer_year(1, 1, dt.date(2025, 12, 31)) == dt.date(2026, 1, 1)
    assert infer_year(12, 31, dt.date(2026, 1, 2)) == dt.date(2025, 12, 31)
    assert infer_year(2, 29, dt.date(2025, 3, 1)) == dt.date(2024, 2, 29)
    assert infer_year(2, 29, dt.date(2001, 5, 1)) == dt.date(2000, 2, 29)


def test_infer_year_gives_none_without_such_a_day_within_a_year():
    assert infer_year(2, 29, dt.date(2003, 9, 1)) is None  # 2000 is three years back
    assert infer_year(2, 30, dt.date(2025, 3, 1)) is None
    assert infer_year(4, 31, dt.date(2025, 1, 2)) is None


def test_a_dateline_in_a_drop_dated_by_its_file_time_takes_the_past_year(run):
    segment = make_segment(
        "Title\n\nMOSCOW, Mar. 16 (Xinhua) — Talks went on for a second day here.\n".encode(),
        reference_date=dt.date(2026, 11, 28),
        year_from="file_mtime",
    )
    article = parse_segment(segment, run)
    assert (article.published_date, article.year_from) == (dt.date(2026, 3, 16), "file_mtime")


@pytest.mark.parametrize(
    ("body", "language", "words"),
    [
        ("Le sommet s'ouvre demain à Pékin avec les dirigeants de la région.", "fr", 12),
        ("The summit opens in Beijing tomorrow with the leaders of the region.", "en", 12),
        ("Саммит открывается завтра в Пекине с участием лидеров региона.", "ru", 9),
        ("OFZ 26245 683.4 678.1", "und", 6),
        # 200 words without a function word, then English: only the first 200 count.
        (" ".join(["Pékin"] * 200) + " the of and to in a is that for on with", "fr", 211),
        (" ".join(["Pékin"] * 150) + " the of and to in a is that for on with" * 5, "en", 205),
    ],
)
def test_language_is_detected_and_words_counted(run, body, language, words):
    article = parse_segment(make_segment(f"Re\n\n{body}\n".encode()), run)
    assert (article.language, article.word_count) == (language, words)


def test_year_end_dateline_keeps_its_text_and_takes_last_year(run):
    raw = "Title\n\nMOSCOW, Dec. 31 (TASS) — New year news.\n".encode()
    article = parse_segment(make_segment(raw, reference_date=dt.date(2026, 1, 2)), run)
    assert article.published_date == dt.date(2025, 12, 31)
    assert article.dateline.date_text == "Dec. 31"


@pytest.mark.parametrize(
    ("word", "number"),
    [("Aug", 8), ("Sept", 9), ("Sep", 9), ("June", 6), ("December", 12), ("Augt", None)],
)
def test_month_names_and_abbreviations(word, number):
    assert month_number(word) == number


@pytest.mark.parametrize(
    ("paragraph", "city", "agency"),
    [
        ("NEW DELHI, Sept. 3 (Xinhua) -- India said", "NEW DELHI", "Xinhua"),
        ("ADDIS ABABA, May 5 (Xinhua) — The", "ADDIS ABABA", "Xinhua"),
        ("WASHINGTON, Jan. 7 — The", "WASHINGTON", None),
        ("Ulan Bator, June 30 (Montsame) – The", "Ulan Bator", "Montsame"),
    ],
)
def test_dateline_variants(paragraph, city, agency):
    dateline = parse_dateline(paragraph)[0]
    assert (dateline.city, dateline.agency) == (city, agency)


def test_sentence_is_not_a_dateline():
    assert parse_dateline("The year 2025 marks, Aug. 29 the anniversary") is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x00\x01\x02\x03\xff\xfe" * 50, "binary_content"),
        (b"Just a title\n\nTranslation. Region: Russian Federal\n", "no_body"),
        (b"Please note: This information is raw content obtained directly", "footer_only"),
        (b"Source: somebody\n\nBody text follows here.\n", "no_title"),
        (b"x" * 500 + b"\n\nA body.", "no_title"),
    ],
)
def test_refusals_name_their_reason_and_place(raw, reason, run):
    with pytest.raises(Refusal) as refused:
        parse_segment(make_segment(raw, offset=1234), run)
    assert refused.value.reason == reason
    assert "milosi-2025-08-29.txt at byte 1234" in refused.value.message


def test_cut_segments_are_refused_as_too_large(run):
    with pytest.raises(Refusal) as refused:
        parse_segment(make_segment(b"A title\n\nA body.", ended_by="oversize"), run)
    assert refused.value.reason == "segment_too_large"


@pytest.mark.parametrize("reference", [dt.date.max, dt.date.min, dt.date(1, 1, 2)])
def test_infer_year_at_the_ends_of_the_calendar_is_a_date_or_none_never_an_error(reference):
    # Issue 27: a reference of 9999-12-31 (a flag, a file's clock) overflowed, and every
    # segment of the drop became a parser_error that blamed feedlake.
    for month, day in ((1, 1), (12, 31), (2, 29)):
        inferred = infer_year(month, day, reference)
        assert inferred is None or (inferred - reference).days <= 1
    assert infer_year(1, 1, dt.date.max) == dt.date(9999, 1, 1)
