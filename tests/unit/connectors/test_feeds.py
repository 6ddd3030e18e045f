"""Feed lists, fetching against a real local server, parsing, and items as articles."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from connectors.feeds import (
    FeedReport,
    Fetcher,
    FetchPolicy,
    load_feed_list,
    parse_feed,
    read_feed,
    read_feed_list,
    retry_after,
)
from connectors.http import WATCHDOG
from connectors.inputs import FeedItem
from pipeline.parse.feed_items import html_paragraphs, item_article
from tests.support.feed_server import (
    BAD_LOCATIONS,
    DRIP_SECONDS,
    ETAG,
    ITEMS,
    README_MD,
    YEAR_ZERO,
    FeedServer,
)

FAST = FetchPolicy(read_timeout=2, connect_timeout=2, attempts=3, backoff=0.05, min_interval=0)


@pytest.fixture(scope="module")
def server():
    with FeedServer() as running:
        yield running


def test_feed_lists_read_opml_and_plain_text():
    opml = (
        '<opml version="2.0"><body><outline text="News">'
        '<outline type="rss" xmlUrl="https://a.example/feed"/>'
        '<outline type="rss" xmlUrl="https://b.example/rss"/></outline></body></opml>'
    )
    assert read_feed_list(opml) == ["https://a.example/feed", "https://b.example/rss"]
    plain = "# comment\nhttps://a.example/feed\n\nfeeds/local.rss\nhttps://a.example/feed\n"
    assert read_feed_list(plain) == ["https://a.example/feed", "feeds/local.rss"]
    with pytest.raises(ValueError, match="OPML"):
        read_feed_list("<opml><body>")


def test_a_list_of_lines_neither_urls_nor_paths_is_refused_naming_the_first(tmp_path):
    prose = "# Notes\nhttps://a.example/feed\nThese are my feeds.\n\n| a | table |\nhttp://[::1/x\n"
    with pytest.raises(ValueError) as refused:
        read_feed_list(prose)
    message = str(refused.value)
    assert "3 of 4 lines are neither a feed URL nor a path" in message
    assert "line 3 'These are my feeds.'" in message and "line 5 '| a | table |'" in message
    assert "line 6 'http://[::1/x'" in message
    spaced = tmp_path / "My Feeds" / "local news.xml"
    spaced.parent.mkdir()
    spaced.write_text("<rss/>")
    listing = tmp_path / "feeds.txt"
    listing.write_text("My Feeds/local news.xml\nfeeds/missing.rss\nhttps://b.example/rss\n")
    assert load_feed_list(str(listing)) == [
        str(spaced),
        str(tmp_path / "feeds" / "missing.rss"),  # a path; reading it is that feed's outcome
        "https://b.example/rss",
    ]


def test_retry_after_reads_seconds_and_dates():
    class Response:
        def __init__(self, value):
            self.headers = {"Retry-After": value}

    assert retry_after(Response("7")) == 7.0
    assert retry_after(Response("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0  # in the past
    assert retry_after(None) is None


def test_fetch_sends_user_agent_and_keeps_validators(server):
    report, body, headers = Fetcher(FAST).fetch(f"{server.url}/rss.xml")
    assert (report.outcome, report.status, report.etag) == ("ok", 200, ETAG)
    assert body.startswith(b"<?xml") and headers["content-type"].startswith("application/rss")
    assert server.requests[-1]["user-agent"] == FAST.user_agent
    assert FAST.user_agent.startswith("feedlake/")
    again, body, _ = Fetcher(FAST).fetch(f"{server.url}/rss.xml", {"etag": ETAG})
    assert (again.outcome, again.status, body) == ("not_modified", 304, b"")


def test_429_waits_as_retry_after_says(server):
    waits = []
    report, _, _ = Fetcher(FAST, sleep=waits.append).fetch(f"{server.url}/limited.xml")
    assert (report.outcome, report.attempts) == ("ok", 2)
    assert waits == [1.0]


def test_500_is_retried_with_backoff(server):
    waits = []
    report, _, _ = Fetcher(FAST, sleep=waits.append).fetch(f"{server.url}/flaky.xml")
    assert (report.outcome, report.attempts) == ("ok", 2)
    assert 0.05 <= waits[0] <= 0.075  # first backoff plus up to 50% jitter


@pytest.mark.parametrize(
    ("path", "outcome"),
    [("/huge.xml", "too_large"), ("/loop", "too_many_redirects"), ("/missing", "http_error")],
)
def test_hostile_answers_end_in_a_named_outcome(server, path, outcome):
    policy = FetchPolicy(read_timeout=5, attempts=1, max_bytes=1_000_000, min_interval=0)
    report, body, _ = Fetcher(policy).fetch(server.url + path)
    assert (report.outcome, body) == (outcome, b"")
    assert report.message


@pytest.mark.parametrize("path", sorted(BAD_LOCATIONS))
def test_a_redirect_to_an_unparseable_url_is_that_feeds_outcome(server, path):
    report, body, _ = Fetcher(FAST).fetch(server.url + path)
    assert (report.outcome, body) == ("bad_redirect", b"")
    assert BAD_LOCATIONS[path][:40] in report.message and server.url + path in report.message


@pytest.mark.parametrize("path", ["/drip.xml", "/drip-head.xml"])
def test_a_dripping_server_is_cut_at_the_feed_deadline(server, path):
    policy = FetchPolicy(read_timeout=5 * DRIP_SECONDS, attempts=3, min_interval=0, deadline=2)
    started = time.monotonic()
    report, body, _ = Fetcher(policy).fetch(server.url + path)
    seconds = time.monotonic() - started
    assert (report.outcome, body) == ("timeout", b"")
    assert 2 <= seconds < 2 + DRIP_SECONDS + 1  # each byte came well within the read timeout
    assert server.url + path in report.message and "2 s" in report.message
    assert not [t for t in threading.enumerate() if t.name == WATCHDOG]  # nothing left running


def test_an_error_no_outcome_names_is_that_feeds_outcome(server, monkeypatch):
    def failing_parse(*args):  # a fault no server can cause: feedparser itself raising
        raise RuntimeError("feedparser broke")

    monkeypatch.setattr("connectors.feeds.parse_feed", failing_parse)
    report, items = read_feed(f"{server.url}/rss.xml", Fetcher(FAST), None, set())
    assert (report.outcome, items) == ("unexpected_error", [])
    assert "RuntimeError: feedparser broke" in report.message and server.url in report.message


def test_an_item_the_lake_holds_is_known_by_its_guid_not_a_shared_link(server):
    home = "https://milosi.example/"
    server.live_items = [
        {**ITEMS[0], "guid": "story-1", "link": home},
        {**ITEMS[1], "guid": "story-2", "link": home},  # new story, same link
        {**ITEMS[2], "guid": "", "link": "https://milosi.example/held/"},  # no guid: the link
    ]
    seen = {"story-1", home, "https://milosi.example/held/"}  # what the lake's index holds
    report, items = read_feed(f"{server.url}/live.xml", Fetcher(FAST), None, seen)
    assert [item.guid for item in items] == ["story-2"]
    assert (report.items, report.already_in_lake) == (1, 2)


@pytest.mark.parametrize("deadline", [0, -1, float("inf"), float("nan")])
def test_a_deadline_is_a_positive_finite_number_of_seconds(deadline):
    with pytest.raises(ValueError, match="--feed-deadline"):
        FetchPolicy(deadline=deadline)


def test_politeness_spaces_requests_to_one_host(server):
    waits = []
    fetcher = Fetcher(FetchPolicy(min_interval=5, attempts=1), sleep=waits.append)
    fetcher.fetch(f"{server.url}/atom.xml")
    fetcher.fetch(f"{server.url}/atom.xml")
    assert len(waits) == 1 and 4 < waits[0] <= 5


def test_parse_keeps_readable_entries_of_a_malformed_feed(server):
    report, body, headers = Fetcher(FAST).fetch(f"{server.url}/malformed.xml")
    report, items = parse_feed(report.uri, body, headers, report)
    assert report.outcome == "ok" and "malformed" in report.message
    assert len(items) >= 2 and items[0].title.startswith("How Xi Jinping")


def test_an_unusable_date_is_ignored_and_the_item_kept():
    report = FeedReport("https://f.example/atom", "ok", sha256="0" * 64)
    headers = {"content-type": "application/atom+xml"}
    report, items = parse_feed(report.uri, YEAR_ZERO, headers, report)
    assert (report.outcome, len(items)) == ("ok", 2)
    assert items[0].published is None and items[1].published == dt.date(2025, 8, 29)


def test_an_html_page_is_not_a_feed(server):
    report, body, headers = Fetcher(FAST).fetch(f"{server.url}/page.html")
    report, items = parse_feed(report.uri, body, headers, report)
    assert report.outcome == "not_a_feed" and "text/html" in report.message
    ((page,),) = [items]  # one item, the page, rejected with its bytes
    assert (page.raw, page.refusal, page.offset) == (body, "not_a_feed", 0)


def test_a_markdown_file_that_mentions_items_is_not_a_feed(server):
    # Issue 27: feedparser found "entries" in it: outcome ok and an empty_item reject each.
    report, body, headers = Fetcher(FAST).fetch(f"{server.url}/readme.md")
    report, items = parse_feed(report.uri, body, headers, report)
    assert (report.outcome, report.items) == ("not_a_feed", 1)
    assert [(item.raw, item.refusal) for item in items] == [(README_MD, "not_a_feed")]


def test_html_becomes_paragraphs():
    html = "<p>One &amp; two</p><div>Three<br/>Four</div><script>x()</script><ul><li>Five</li></ul>"
    assert html_paragraphs(html) == ["One & two", "Three", "Four", "Five"]
    assert html_paragraphs("plain text\n\nsecond") == ["plain text", "second"]


def test_a_milosi_item_parses_like_a_drop_segment(run):
    report = FeedReport("https://f.example/rss", "ok", sha256="0" * 64)
    from tests.support.feed_server import RSS

    _, items = parse_feed(report.uri, RSS, {"content-type": "application/rss+xml"}, report)
    article = item_article(items[4], run)
    assert article.dateline.city == "KABUL" and article.source.translated
    assert article.source.origin == "People's Republic of China – State Council News"
    assert (article.source.feed_url, article.source.guid) == (
        "https://f.example/rss",
        items[4].guid,
    )
    assert article.source.item_url == items[4].link and article.source.categories == (
        "Asia Pacific",
    )
    assert (article.published_date, article.year_from) == (dt.date(2025, 8, 29), "feed")
    assert not any("Please note" in p for p in article.body)


def test_a_generic_item_takes_the_feed_date(run):
    item = FeedItem(
        feed_url="https://f.example/rss",
        feed_sha256="0" * 64,
        index=0,
        title="Council approves new bridge",
        html="<p>The city council approved a new bridge over the river on Monday.</p>",
        link="https://f.example/bridge",
        guid="bridge-1",
        author="Desk",
        published=dt.date(2025, 3, 3),
    )
    article = item_article(item, run)
    assert (article.published_date, article.published_from) == (dt.date(2025, 3, 3), "feed")
    assert article.body == ("The city council approved a new bridge over the river on Monday.",)
    assert article.source.author == "Desk" and article.dateline is None
