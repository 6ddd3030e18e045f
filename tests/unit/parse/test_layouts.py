"""Every MIL-OSI layout seen beyond the sample drop parses whole, one article an item.

The drops in tests/fixtures/layouts/ are stories written for these tests in the layouts of
real MIL-OSI channels (the translation service's other channels, the republished feed copy,
Asia-Pacific government releases, untranslated Russian items, and all of them mixed); each
``<name>.expected.json`` says, item by item, what the parser must make of it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

import pytest

from connectors.inputs import Drop, FeedItem
from pipeline.core.records import Article
from pipeline.parse.articles import Refusal, parse_segment
from pipeline.parse.feed_items import item_article
from pipeline.parse.split import segments_of
from pipeline.validate import validate_drop
from tests.conftest import ROOT

LAYOUTS = ROOT / "tests" / "fixtures" / "layouts"
DROPS = ["translation_channels", "republished", "asia_pacific", "russian", "mixed"]
# Lines of MIL-OSI's own that never belong to an article's body.
BOILERPLATE = (
    "Please note",
    "MIL OSI",
    "MIL-OSI",
    "http",
    "EDITOR",
    "NNNN",
    "Issued at HKT",
    "Issued by",
    "Ends/",
    "ENDS",
    "Обратите внимание",
    "Region:",
    "An important disclaimer",
)


def layout_drop(name: str) -> Drop:
    path = LAYOUTS / f"{name}-2025-12-19.txt"
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    return Drop(str(path), data, digest, None, dt.date(2025, 12, 19), "drop_name")


def expected(name: str) -> list[dict]:
    return json.loads((LAYOUTS / f"{name}.expected.json").read_text(encoding="utf-8"))


def parsed(name: str, run) -> tuple[list[Article], list[tuple[str, int]]]:
    articles, rejects = [], []
    for segment in segments_of(layout_drop(name)):
        try:
            articles.append(parse_segment(segment, run))
        except Refusal as refusal:
            rejects.append((refusal.reason, segment.offset))
    return articles, rejects


def normal(text: str | None) -> str:
    return " ".join((text or "").replace("\u2014", "-").replace("\u2013", "-").split())


@pytest.mark.parametrize("name", DROPS)
def test_each_item_is_one_article_and_nothing_is_rejected(name, run):
    articles, rejects = parsed(name, run)
    assert rejects == []
    assert [normal(a.title) for a in articles] == [normal(e["title"]) for e in expected(name)]


@pytest.mark.parametrize("name", DROPS)
def test_each_body_is_whole_from_first_sentence_to_last_without_boilerplate(name, run):
    articles, _ = parsed(name, run)
    for article, item in zip(articles, expected(name), strict=True):
        assert normal(item["body_first"]) in normal(article.body[0]), article.title
        assert normal(article.body[-1]).endswith(normal(item["body_last"])), article.title
        for line in article.body:
            for words in BOILERPLATE:
                assert not line.startswith(words), (article.title, line)


@pytest.mark.parametrize("name", DROPS)
def test_headers_give_region_sources_channel_and_source_link(name, run):
    articles, _ = parsed(name, run)
    for article, item in zip(articles, expected(name), strict=True):
        source = article.source
        assert normal(source.declared_region) == normal(item["declared_region"]), article.title
        assert [normal(s) for s in source.lines] == [normal(s) for s in item["sources"]]
        channel = item["channel_prefix"] and item["channel_prefix"].removeprefix("MIL-OSI ")
        assert source.milosi_channel == channel, article.title
        assert source.origin_url == item["source_url"], article.title


@pytest.mark.parametrize("name", DROPS)
def test_language_is_detected(name, run):
    articles, _ = parsed(name, run)
    assert [a.language for a in articles] == [e["language"] for e in expected(name)]


@pytest.mark.parametrize(
    ("name", "layouts"),
    [
        ("translation_channels", {"translation": 11}),
        ("republished", {"republished": 5}),
        ("asia_pacific", {"release": 5}),
        ("russian", {"original": 3}),
        ("mixed", {"translation": 3, "release": 3, "republished": 2, "original": 1}),
    ],
)
def test_validate_names_the_layout_of_each_article(name, layouts, run):
    report = validate_drop(layout_drop(name), run)
    assert (report.articles, report.rejects) == (len(expected(name)), [])
    assert report.layouts == layouts
    assert len(report.variants) == report.articles
    assert all(variant.split(" (")[0] in layouts for variant in report.variants)


def test_validate_tells_a_new_channel_from_a_broken_file(run):
    """A known layout with parts it has not seen before is still that layout; a file cut in
    an item's header is a reject that keeps its bytes, at its offset."""
    data = layout_drop("republished").data
    new_channel = data.replace(b"MIL-OSI Europe: ", b"MIL-OSI Africa: ")
    new_channel = new_channel.replace(b"MIL OSI Europe News", b"MIL OSI Africa News")
    drop = dataclasses.replace(layout_drop("republished"), data=new_channel)
    report = validate_drop(drop, run)
    assert report.layouts == {"republished": 5} and not report.rejects
    cut = data.index(b"Source:", data.index(b"MIL-OSI Europe: "))
    broken = dataclasses.replace(layout_drop("republished"), data=data[:cut])
    report = validate_drop(broken, run)
    assert report.layouts == {"republished": 2}
    ((note),) = report.rejects
    assert (note.reason, note.offset) == ("no_body", data.index(b"MIL-OSI Europe: "))
    assert "byte" in note.message and "no body" in note.message


def test_a_feed_item_in_the_republished_layout_parses_like_a_drop(run):
    paragraphs = [
        "MIL OSI Translation. Region: Russian Federation –",
        "Source: Moscow Exchange – Moscow Exchange –",
        "09.24.2024",
        "14:29",
        "The clearing centre lowered the lower limit of the price corridor to 88.10.",
        "Please note: This information is raw content directly from the source of the "
        "information. It is exactly what the source states and does not reflect the position "
        "of MIL-OSI or its clients.",
        "https://www.moex.com/n73390",
        "MIL OSI Russia News",
    ]
    item = FeedItem(
        feed_url="https://f.example/feed",
        feed_sha256="0" * 64,
        index=0,
        title="MIL-OSI Russia: Financial news: the price corridor was changed.",
        html="".join(f"<p>{paragraph}</p>" for paragraph in paragraphs),
        link="https://f.example/2024/09/24/corridor",
    )
    article = item_article(item, run)
    assert article.title == "Financial news: the price corridor was changed."
    assert article.body == (paragraphs[4],)
    assert (article.source.milosi_channel, article.source.origin_url) == (
        "Russia",
        "https://www.moex.com/n73390",
    )
    assert article.source.item_url == "https://f.example/2024/09/24/corridor"
    assert (article.published_date, article.published_from) == (dt.date(2024, 9, 24), "header")


def test_a_source_note_under_a_table_row_does_not_cut_the_article(run):
    raw = (
        "Financial news: International reserves as of December 12.\n\n"
        "Translation. Region: Russian Federation –\n\nSource: Central Bank of Russia\n\n"
        "The reserves rose by 0.8% over the week.\n\n12.12.2025 683.4\n\n"
        "Source: Bank of Russia calculations\n\nThe next release is due on Thursday.\n"
    ).encode()
    drop = Drop("/d/cbr-2025-12-19.txt", raw, "0" * 64, None, dt.date(2025, 12, 19), "x")
    (segment,) = segments_of(drop)
    article = parse_segment(segment, run)
    assert article.body[-1] == "The next release is due on Thursday."
