"""Classification of what MIL-OSI's other channels send: their layouts, their kinds of story,
articles not in English, and the story country when the header and the dateline disagree."""

from __future__ import annotations

import pytest

from benchmarks.topic_eval import evaluate
from pipeline.classify.classifier import classifier
from pipeline.core.records import Dateline, Source, primary_topic
from tests.conftest import make_article
from tests.unit.parse.test_layouts import DROPS, expected, parsed


@pytest.fixture(scope="module")
def labelled():
    return evaluate()


@pytest.mark.parametrize("name", DROPS)
def test_layout_drops_get_their_story_country_and_topic(name, run):
    articles, _ = parsed(name, run)
    for article, item in zip(articles, expected(name), strict=True):
        classified = classifier().classify(article)
        assert classified.location.country == item["country"], (article.title, classified.location)
        if "region" in item:  # no country: an EU institution's, or a release naming no place
            assert classified.location.region == item["region"], article.title
        # Where an editor could file it either way (an official's greeting: a ceremony, or
        # politics), the item lists both.
        acceptable = set(item.get("acceptable_topics", [item["topic"]]))
        if classified.topics_from == "not_english":
            assert item["language"] != "en" and classified.topics == ()
            continue
        assert primary_topic(classified) in acceptable, (article.title, classified.topics[:3])


def test_held_out_labels_are_met_as_well_as_the_tuned_ones(labelled):
    """Terms were tuned on the odd-numbered half; the even half was never looked at."""
    english = [row for row in labelled if row["topics_from"] == "terms"]
    assert len(labelled) >= 60 and len(english) >= 60
    for half in ("tuning", "held out"):
        rows = [row for row in english if row["half"] == half]
        right = sum(row["topic"] == row["got_topic"] for row in rows)
        assert right / len(rows) >= 0.9, (half, right, len(rows))
        rows = [row for row in labelled if row["half"] == half]
        right = sum(row["country"] == row["got_country"] for row in rows)
        assert right / len(rows) >= 0.95, (half, right, len(rows))


@pytest.mark.parametrize(
    ("kind", "topic"),
    [
        ("price corridor", "economy-business-and-finance"),
        ("deposit auction", "economy-business-and-finance"),
        ("coupon", "economy-business-and-finance"),
        ("university sport", "sport"),
        ("court", "crime-law-and-justice"),
        ("greeting", "human-interest"),
    ],
)
def test_the_kinds_of_text_other_channels_send_get_their_topic(labelled, kind, topic):
    cues = {
        "price corridor": ("price corridor",),
        "deposit auction": ("deposit auction",),
        "coupon": ("coupon",),
        "university sport": ("univers", "student"),
        "court": ("court", "fined", "sentenced"),
        "greeting": ("congratulat", "greet"),
    }[kind]
    rows = [
        row
        for row in labelled
        if row["topic"] == topic
        and row["topics_from"] == "terms"
        and any(cue in (row["title"] + row["body"]).lower() for cue in cues)
    ]
    assert len(rows) >= 2
    right = [row for row in rows if row["got_topic"] == topic]
    assert len(right) >= len(rows) - 1, [(r["title"], r["top"]) for r in rows if r not in right]


def test_an_article_not_in_english_says_so_instead_of_guessing():
    russian = make_article(
        title="Банк России сохранил ключевую ставку",
        body=("Совет директоров Банка России принял решение сохранить ключевую ставку.",),
        language="ru",
        source=Source(declared_region="Russian Federation"),
    )
    classified = classifier().classify(russian)
    assert (classified.topics, classified.topics_from) == ((), "not_english")
    assert primary_topic(classified) == "unclassified"
    location = classified.location
    assert (location.country, location.method, location.mentioned) == ("RU", "declared_region", ())
    nowhere = classifier().classify(
        make_article(title="Китай", body=("Китай и Япония.",), language="ru")
    )
    assert (nowhere.location.country, nowhere.location.method) == (None, "not_english")


def test_the_dateline_city_wins_over_a_declared_region_that_disagrees():
    minister = make_article(
        title="Russian deputy prime minister chairs commission session in Beijing",
        body=("Beijing, December 24 (Xinhua) — A Russian deputy prime minister co-chaired it.",),
        dateline=Dateline("Beijing", "December 24", "Xinhua"),
        source=Source(declared_region="Russian Federation"),
    )
    location = classifier().classify(minister).location
    assert (location.country, location.method) == ("CN", "dateline")
    assert "RU" in location.mentioned


def test_a_source_line_names_the_country_when_nothing_before_it_does():
    release = make_article(
        title="Temporary closure of public library for renovation",
        body=("The library will close for three weeks from Monday for repairs.",),
        source=Source(lines=("Hong Kong Government special administrative region – 4",)),
    )
    location = classifier().classify(release).location
    assert (location.country, location.method) == ("HK", "source")


def test_names_that_hold_a_country_but_are_no_place_are_not_mentions():
    disease = make_article(
        title="CHP investigates case of Japanese encephalitis",
        body=(
            "The Centre for Health Protection is investigating a case of Japanese encephalitis.",
        ),
        source=Source(lines=("Hong Kong Government special administrative region",)),
    )
    location = classifier().classify(disease).location
    assert "JP" not in location.mentioned and location.country == "HK"
