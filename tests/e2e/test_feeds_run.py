"""`feedlake run --feeds` against a real local server with good, broken and hostile feeds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import fastavro
import pytest

from pipeline.cli import main
from tests.conftest import SAMPLE_DROP
from tests.support.feed_server import ETAG, ITEMS, UNFIT, UNFIT_ITEMS, FeedServer
from tests.support.lake import manifests

pytestmark = pytest.mark.e2e
ROUTES = {
    "/rss.xml": "ok",
    "/atom.xml": "ok",
    "/malformed.xml": "ok",
    "/flaky.xml": "ok",
    "/limited.xml": "ok",
    "/slow.xml": "timeout",
    "/huge.xml": "too_large",
    "/loop": "too_many_redirects",
    "/page.html": "not_a_feed",
}
FLAGS = ["--feed-timeout", "3", "--feed-min-interval", "0.05", "--feed-max-bytes", "5000000"]


def records(lake: Path, kind: str) -> list[dict]:
    found = []
    for path in lake.glob(f"{kind}/**/*.avro"):
        with path.open("rb") as fh:
            found += list(fastavro.reader(fh))
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("feeds")
    with FeedServer() as server:
        listing = folder / "feeds.txt"
        listing.write_text("\n".join(server.url + route for route in ROUTES) + "\n")
        lake = folder / "lake"
        started = time.monotonic()
        code = main(["run", "--feeds", str(listing), "--lake", str(lake), "--quiet", *FLAGS])
        seconds = time.monotonic() - started
        yield server, listing, lake, code, seconds


def test_the_run_succeeds_in_bounded_time(served):
    _, _, _, code, seconds = served
    assert code == 0
    assert seconds < 60  # the slow endpoint would take 40 s; the timeout is 3 s


def test_every_feed_outcome_is_reported_by_url(served):
    server, _, lake, _, _ = served
    (manifest,) = manifests(lake)
    feeds = {
        i["uri"].removeprefix(server.url): i for i in manifest["inputs"] if i["type"] == "feed"
    }
    assert {route: feed["outcome"] for route, feed in feeds.items()} == ROUTES
    assert feeds["/flaky.xml"]["attempts"] == 2 and feeds["/limited.xml"]["attempts"] == 2
    assert "malformed" in feeds["/malformed.xml"]["message"]
    for route in ("/slow.xml", "/huge.xml", "/loop", "/page.html"):
        assert feeds[route]["message"], route
    assert manifest["counts"]["feeds"] == len(ROUTES)


def test_every_good_article_is_kept_once(served):
    _, _, lake, _, _ = served
    counts = manifests(lake)[0]["counts"]
    articles = records(lake, "articles")
    assert len({a["id"] for a in articles}) == len(articles) == 10
    assert counts["segments"] == counts["articles"] + counts["duplicates"] + counts["rejects"]
    assert all(a["source"]["feed_url"] and a["source"]["guid"] for a in articles)
    duplicates = records(lake, "duplicates")
    assert {d["dedup"]["kind"] for d in duplicates} <= {"exact", "link"}


def test_an_unchanged_feed_costs_one_304_and_a_drop_copy_is_a_duplicate(served, tmp_path):
    server, _, lake, _, _ = served
    state = json.loads((lake / "_state" / "feeds.json").read_text())
    assert state[server.url + "/rss.xml"]["etag"] == ETAG
    only_rss = tmp_path / "rss.txt"
    only_rss.write_text(server.url + "/rss.xml\n")
    before = server.hits.get("/rss.xml", 0)
    argv = ["run", "--feeds", str(only_rss), "--drops", str(SAMPLE_DROP), "--lake", str(lake)]
    assert main([*argv, "--quiet", *FLAGS]) == 0
    latest = manifests(lake)[-1]
    feed = next(i for i in latest["inputs"] if i["type"] == "feed")
    assert (feed["outcome"], feed["status"]) == ("not_modified", 304)
    assert server.hits["/rss.xml"] == before + 1
    assert server.requests[-1]["if-none-match"] == ETAG
    counts = latest["counts"]
    assert (counts["articles"], counts["duplicates"]) == (0, 10)  # the drop's stories: by RSS


HOSTILE = {
    "/year-zero.xml": "ok",
    "/redirect-bad-ipv6": "bad_redirect",
    "/redirect-long-label": "bad_redirect",
    "/drip.xml": "timeout",
    "/drip-head.xml": "timeout",
}


def test_a_hostile_feed_fails_alone_and_the_drop_beside_it_is_ingested(tmp_path):
    with FeedServer() as server:
        listing = tmp_path / "feeds.txt"
        listing.write_text("\n".join(server.url + route for route in HOSTILE) + "\n")
        lake = tmp_path / "lake"
        argv = ["run", "--feeds", str(listing), "--drops", str(SAMPLE_DROP), "--lake", str(lake)]
        started = time.monotonic()
        code = main([*argv, "--quiet", *FLAGS, "--feed-deadline", "2"])
        seconds = time.monotonic() - started
    assert code == 0
    assert seconds < 60  # each dripping feed is cut at 2 s; unbounded before
    (manifest,) = manifests(lake)
    inputs = {i["uri"].removeprefix(server.url): i for i in manifest["inputs"]}
    assert {route: inputs[route]["outcome"] for route in HOSTILE} == HOSTILE
    assert "deadline of 2 s" in inputs["/drip.xml"]["message"]
    assert "[::1/x" in inputs["/redirect-bad-ipv6"]["message"]
    drop = inputs[str(SAMPLE_DROP)]
    assert (drop["articles"] + drop["duplicates"], drop["rejects"]) == (10, 0)
    year_zero = inputs["/year-zero.xml"]
    assert (year_zero["items"], year_zero["articles"] + year_zero["duplicates"]) == (2, 2)
    assert len(records(lake, "articles")) == 10


def test_a_new_story_sharing_a_home_page_link_reaches_the_lake(tmp_path):
    home = "https://milosi.example/"
    first = {**ITEMS[0], "guid": "story-1", "link": home}
    second = {**ITEMS[1], "guid": "story-2", "link": home}
    listing, lake = tmp_path / "feeds.txt", tmp_path / "lake"
    argv = ["run", "--feeds", str(listing), "--lake", str(lake), "--quiet", *FLAGS]
    with FeedServer() as server:
        listing.write_text(server.url + "/live.xml\n")
        server.live_items = [first]
        assert main([*argv, "--run-id", "1-first"]) == 0
        server.live_items = [first, second]
        assert main([*argv, "--run-id", "2-second"]) == 0
    feed = next(i for i in manifests(lake)[-1]["inputs"] if i["type"] == "feed")
    assert (feed["items"], feed["already_in_lake"], feed["articles"]) == (1, 1, 1)
    guids = sorted(a["source"]["guid"] for a in records(lake, "articles"))
    assert guids == ["story-1", "story-2"]


def test_a_feed_reject_keeps_the_item_as_served_with_its_guid_link_and_reason(tmp_path):
    listing, lake = tmp_path / "feeds.txt", tmp_path / "lake"
    with FeedServer() as server:
        listing.write_text(server.url + "/unfit.xml\n")
        assert main(["run", "--feeds", str(listing), "--lake", str(lake), "--quiet", *FLAGS]) == 0
    rejects = {r["guid"]: r for r in records(lake, "rejects")}
    assert set(rejects) == set(UNFIT_ITEMS)
    for guid, (item, reason) in UNFIT_ITEMS.items():
        reject, lineage = rejects[guid], rejects[guid]["lineage"]
        assert (reject["reason"], reject["raw"]) == (reason, item.encode())
        assert UNFIT[lineage["byte_offset"] :][: lineage["byte_length"]] == item.encode()
        assert lineage["source_uri"].endswith("/unfit.xml") and guid in reject["message"]
    assert rejects["title-only-2"]["item_url"] == "https://f.example/c"
    feed = next(i for i in manifests(lake)[0]["inputs"] if i["type"] == "feed")
    assert (feed["articles"], feed["rejects_by_reason"]) == (
        1,
        {"empty_item": 1, "no_body": 1, "no_title": 1},
    )


def test_a_feed_list_of_prose_is_a_usage_error_naming_its_first_bad_lines(tmp_path, capsys):
    readme = Path(__file__).resolve().parents[2] / "README.md"
    lake = tmp_path / "lake"
    assert main(["run", "--feeds", str(readme), "--lake", str(lake), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert "neither a feed URL nor a path" in error and "line 3 " in error
    assert not lake.exists()  # nothing ran
