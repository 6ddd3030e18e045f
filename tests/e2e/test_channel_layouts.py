"""`feedlake run` over drops in every MIL-OSI layout: each item becomes one article or one
duplicate, the counts add up in the manifest, and the new fields are in the lake."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from pipeline.cli import main
from tests.conftest import ROOT
from tests.support.lake import manifests, records

pytestmark = pytest.mark.e2e
LAYOUTS = ROOT / "tests" / "fixtures" / "layouts"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    drops = tmp_path_factory.mktemp("drops")
    for path in LAYOUTS.glob("*.txt"):
        shutil.copy(path, drops)
    lake = tmp_path_factory.mktemp("lake")
    argv = ["run", "--drops", str(drops), "--lake", str(lake), "--run-id", "l1", "--quiet"]
    assert main(argv) == 0
    return lake


def test_every_item_is_an_article_or_a_duplicate_and_the_counts_add_up(lake):
    items = sum(len(json.loads(p.read_text())) for p in LAYOUTS.glob("*.expected.json"))
    (manifest,) = manifests(lake)
    counts = manifest["counts"]
    assert counts["segments"] == items == 33
    # The mixed drop repeats nine items of the other four, word for word.
    assert (counts["articles"], counts["duplicates"], counts["rejects"]) == (24, 9, 0)
    assert counts["segments"] == counts["articles"] + counts["duplicates"] + counts["rejects"]
    assert len(records(lake, "articles")) == 24 and len(records(lake, "duplicates")) == 9
    assert records(lake, "rejects") == []


def test_the_lake_holds_the_channel_the_source_link_and_why_a_topic_is_missing(lake):
    articles = records(lake, "articles") + records(lake, "duplicates")
    links = {a["source"]["origin_url"] for a in articles if a["source"]["origin_url"]}
    assert "https://www.moex.com/n73390" in links and "HTTPS: //VVV. MOEX.K.MO/N89677" in links
    assert Counter(a["source"]["milosi_channel"] for a in articles) == Counter(
        {None: 26, "Russia": 5, "Europe": 2}
    )
    russian = [a for a in articles if a["language"] == "ru"]
    assert len(russian) == 4 and {a["topics_from"] for a in russian} == {"not_english"}
    kept = [a for a in russian if a["_partition"].startswith("articles/")]
    assert kept and {a["_partition"].split("/topic=")[1] for a in kept} == {"unclassified"}
    assert not any(a["title"].startswith("MIL-OSI") for a in articles)
