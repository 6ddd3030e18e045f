"""Each feed entry's bytes as served: located with expat, else serialised; kept by rejects."""

from __future__ import annotations

import json

import pytest

from connectors.feed_entries import entry_json, entry_spans
from connectors.feeds import FeedReport, parse_feed
from pipeline.parse.articles import Refusal
from pipeline.parse.feed_items import item_article, item_reject
from tests.support.feed_server import MALFORMED, UNFIT, UNFIT_ITEMS

RSS_HEADERS = {"content-type": "application/rss+xml"}


def located(body: bytes, codec: str = "latin-1") -> list[str]:
    return [body[start:end].decode(codec) for start, end in entry_spans(body)]


def test_rss_items_are_located_byte_for_byte():
    assert located(UNFIT)[1:] == [item for item, _ in UNFIT_ITEMS.values()]


def test_atom_and_rdf_entries_and_odd_markup_are_located():
    atom = (
        '\ufeff<?xml version="1.0" encoding="utf-8"?><a:feed xmlns:a="http://www.w3.org/2005/Atom">'
        '<a:entry><a:id>1</a:id><a:content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        "<entry>inline, not an entry</entry></div></a:content></a:entry>"
        '<a:entry a="x>y"/><other:entry xmlns:other="urn:x"/></a:feed>'
    ).encode()
    assert located(atom, "utf-8") == [
        '<a:entry><a:id>1</a:id><a:content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        "<entry>inline, not an entry</entry></div></a:content></a:entry>",
        '<a:entry a="x>y"/>',
    ]
    rdf = (
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        b'xmlns="http://purl.org/rss/1.0/"><item rdf:about="u"><title>A &nbsp; B</title>'
        b"<description><![CDATA[</item>]]></description></item></rdf:RDF>"
    )
    assert located(rdf) == [
        '<item rdf:about="u"><title>A &nbsp; B</title>'
        "<description><![CDATA[</item>]]></description></item>"
    ]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "shift_jis", "cp1252"])
def test_entries_are_located_in_any_encoding_expat_can_tokenise(codec):
    entry = {
        "utf-16": "<entry><title>日本 – Ünï</title></entry>",
        "utf-16-be": "<entry><title>日本 – Ünï</title></entry>",
        "shift_jis": "<entry><title>日本語のニュース</title></entry>",  # trail bytes 0x40-0xFC
        "cp1252": "<entry><title>Café – déjà</title></entry>",
    }[codec]
    text = f'<?xml version="1.0" encoding="{codec}"?><feed xmlns="http://www.w3.org/2005/Atom">'
    body = (text + entry + "</feed>").encode(codec)
    ((start, end),) = entry_spans(body)
    assert body[start:end].decode(codec) == entry


def test_a_feed_that_is_not_well_formed_has_no_spans():
    assert entry_spans(MALFORMED) is None


def test_items_carry_their_bytes_and_rejects_keep_them(run):
    report = FeedReport("https://f.example/unfit.xml", "ok", sha256="0" * 64)
    _, items = parse_feed(report.uri, UNFIT, RSS_HEADERS, report)
    empty = next(item for item in items if item.guid == "empty-1")
    assert (
        UNFIT[empty.offset :][: len(empty.raw)] == empty.raw == UNFIT_ITEMS["empty-1"][0].encode()
    )
    with pytest.raises(Refusal) as refused:
        item_article(empty, run)
    assert refused.value.reason == "empty_item" and "empty-1" in str(refused.value)
    reject = item_reject(empty, run, "parse", refused.value.reason, str(refused.value))
    assert (reject.raw, reject.guid, reject.lineage.byte_offset) == (
        empty.raw,
        "empty-1",
        empty.offset,
    )
    article = item_article(items[0], run)
    assert article.lineage.byte_offset == items[0].offset
    assert article.lineage.byte_length == len(items[0].raw) and article.lineage.encoding == "utf-8"


def test_entries_of_a_malformed_feed_are_kept_as_json_of_every_field(run):
    report = FeedReport("https://f.example/malformed.xml", "ok", sha256="0" * 64)
    report, items = parse_feed(report.uri, MALFORMED, RSS_HEADERS, report)
    assert "JSON" in report.message
    broken = items[-1]
    assert (broken.offset, broken.encoding) == (None, "json")
    assert json.loads(broken.raw) == {}  # the cut-off item: feedparser read no field of it
    fields = json.loads(items[0].raw)
    assert fields["title"] == items[0].title and fields["id"] == items[0].guid
    assert "title_detail" in fields and "published_parsed" in fields
    reject = item_reject(broken, run, "parse", "no_body", "m")
    assert reject.lineage.encoding == "json" and reject.raw == broken.raw


def test_entry_json_keeps_dates_and_nested_fields():
    entry = {"title": "T", "tags": [{"term": "x"}], "published_parsed": (2025, 8, 29, 0, 0, 0)}
    assert json.loads(entry_json(entry)) == {**entry, "published_parsed": [2025, 8, 29, 0, 0, 0]}


def test_an_entry_whose_fields_cannot_be_read_is_that_items_reject(run, monkeypatch):
    def failing_date(entry):  # a fault no feed reaches today: reading a field raises
        if entry.get("id") == "title-only-2":
            raise RuntimeError("cannot read the date")
        return None

    monkeypatch.setattr("connectors.feeds._entry_date", failing_date)
    report = FeedReport("https://f.example/unfit.xml", "ok", sha256="0" * 64)
    report, items = parse_feed(report.uri, UNFIT, RSS_HEADERS, report)
    assert report.items == len(items) == 4
    (unreadable,) = [item for item in items if item.problem]
    with pytest.raises(Refusal) as refused:
        item_article(unreadable, run)
    assert refused.value.reason == "unreadable_item"
    assert "RuntimeError: cannot read the date" in str(refused.value)
    assert unreadable.raw == UNFIT_ITEMS["title-only-2"][0].encode()
    assert unreadable.link == "https://f.example/c"
