"""Region and topic classification: the real drop, labelled fixtures, and the tables."""

from __future__ import annotations

import json

import pytest

from pipeline.classify import gazetteer as gazetteer_module
from pipeline.classify.classifier import classifier
from pipeline.classify.gazetteer import REGION_SLUGS, city_table, gazetteer
from pipeline.classify.topics import Taxonomy, slug, taxonomy
from pipeline.core.records import Dateline, Source, primary_topic
from pipeline.parse.articles import parse_segment
from pipeline.parse.split import split_drop
from tests.conftest import ROOT, make_article, make_segment

LABELLED = ROOT / "tests" / "fixtures" / "labelled.jsonl"
# What an editor would accept as each real article's primary topic.
ACCEPTABLE_TOPICS = [
    {"politics"},
    {"economy-business-and-finance"},
    {"education", "politics", "arts-culture-entertainment-and-media"},
    {"politics"},
    {"politics", "society"},
    {"education"},
    {"society", "economy-business-and-finance", "politics"},
    {"economy-business-and-finance"},
    {"conflict-war-and-peace", "politics"},
    {"politics"},
]


@pytest.fixture(scope="module")
def real_articles(sample_bytes, run):
    spans = split_drop(sample_bytes)
    return [
        classifier().classify(parse_segment(make_segment(sample_bytes[s.offset : s.end]), run))
        for s in spans
    ]


def test_real_datelines_give_the_expected_countries(real_articles):
    countries = [a.location.country for a in real_articles]
    assert countries == ["CN", "CN", "RU", "RU", "AF", "NA", "VN", "CN", "KG", "CN"]
    assert {a.location.method for a in real_articles} == {"dateline"}
    assert [a.location.region for a in real_articles][:6] == [
        "asia",
        "asia",
        "europe",
        "europe",
        "asia",
        "africa",
    ]
    kabul = real_articles[4].location
    assert (kabul.subregion, kabul.subregion_m49, kabul.region_m49) == (
        "Southern Asia",
        "034",
        "142",
    )
    assert kabul.mentioned[:3] == ("AF", "PK", "IR")


def test_real_articles_get_topics_an_editor_accepts(real_articles):
    for article, acceptable in zip(real_articles, ACCEPTABLE_TOPICS, strict=True):
        assert primary_topic(article) in acceptable, (article.title, article.topics)
        assert article.topics[0].code.startswith("medtop:")
        scores = [t.score for t in article.topics]
        assert scores == sorted(scores, reverse=True)


def test_labelled_fixtures_accuracy(run):
    rows = [json.loads(line) for line in LABELLED.read_text().splitlines() if line]
    assert len(rows) >= 40
    assert {r["topic"] for r in rows} == taxonomy().slugs - {"unclassified"}  # all 17
    continents = {gazetteer().countries[r["country"]].region for r in rows}
    assert continents == set(REGION_SLUGS) - {"unknown"}
    country_hits = topic_hits = 0
    for row in rows:
        raw = "\n\n".join([row["title"], *row["body"]]).encode()
        article = classifier().classify(parse_segment(make_segment(raw), run))
        country_hits += article.location.country == row["country"]
        topic_hits += primary_topic(article) == row["topic"]
    country_accuracy, topic_accuracy = country_hits / len(rows), topic_hits / len(rows)
    print(
        f"labelled: {len(rows)} texts, country {country_accuracy:.3f}, topic {topic_accuracy:.3f}"
    )
    assert country_accuracy >= 0.9 and topic_accuracy >= 0.85


@pytest.mark.parametrize(
    ("city", "country"),
    [
        ("BEIJING", "CN"),
        ("Vladivostok", "RU"),
        ("NEW DELHI", "IN"),
        ("ADDIS ABABA", "ET"),
        ("ULAN BATOR", "MN"),
        ("WASHINGTON", "US"),
        ("Moscow", "RU"),  # not Moscow, Idaho: the most populous wins
    ],
)
def test_dateline_cities_resolve(city, country):
    assert gazetteer().country_of_city(city) == country


def test_ambiguous_city_follows_the_countries_the_text_names():
    places = gazetteer()
    assert places.country_of_city("Hyderabad") == "IN"
    assert places.country_of_city("Hyderabad", ["PK"]) == "PK"
    assert places.country_of_city("Qwzxy") is None


def test_the_city_table_is_built_once_then_read_from_the_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("FEEDLAKE_CACHE_DIR", str(tmp_path / "cache"))
    built = city_table()
    assert built["hyderabad"].split()[:1] == ["IN"] and "PK" in built["hyderabad"].split()
    (cached,) = (tmp_path / "cache").iterdir()

    def build_again():
        raise AssertionError("the table should come from the cache")

    monkeypatch.setattr(gazetteer_module, "_build_city_table", build_again)
    assert city_table() == built
    cached.write_bytes(b"not a marshal")  # a damaged cache is rebuilt, never trusted
    with pytest.raises(AssertionError, match="from the cache"):
        city_table()


def test_the_city_table_is_built_where_nothing_can_be_cached(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("FEEDLAKE_CACHE_DIR", str(blocked / "cache"))  # below a file
    assert city_table()["moscow"].startswith("RU")
    assert blocked.read_text() == ""


def test_mentions_find_names_demonyms_and_whole_words_only():
    mentioned = gazetteer().mentions(
        [
            ("title", "Afghan families return"),
            ("body", "Vietnamese and Kazakh officials met a woman from China's Viet Nam office."),
        ]
    )
    assert mentioned[0] == "AF"
    assert set(mentioned) == {"AF", "VN", "KZ", "CN"}  # no Oman in "woman"


def test_chinese_names_china_not_macau():
    assert gazetteer().mentions([("body", "Chinese exporters")]) == ["CN"]


def test_declared_regions_normalise():
    places = gazetteer()
    assert places.declared("Russian Federal") == ("RU", "europe")
    assert places.declared("Asia Pacific") == (None, "asia")
    assert places.declared("Nowhere at all") == (None, None)


def test_region_order_of_trust():
    cls = classifier()
    no_dateline = make_article(title="Talks in Kenya", body=("Kenyan and Ugandan ministers met.",))
    location = cls.classify(no_dateline).location
    assert (location.country, location.method) == ("KE", "mentions")
    declared = make_article(
        title="A plain title",
        body=("Nothing here names a place.",),
        source=Source(declared_region="Russian Federal"),
    )
    assert cls.classify(declared).location.method == "declared_region"
    assert cls.classify(declared).location.country == "RU"
    nothing = make_article(title="A plain title", body=("Nothing here names a place.",))
    region = cls.classify(nothing).location
    assert (region.country, region.region, region.method) == (None, "unknown", "none")
    dateline = make_article(dateline=Dateline("KABUL", "Aug. 29", "Xinhua"))
    assert cls.classify(dateline).location.method == "dateline"


def test_unclassified_below_threshold():
    article = make_article(title="A note", body=("Nothing in particular happened today.",))
    assert classifier().classify(article).topics == ()
    assert primary_topic(classifier().classify(article)) == "unclassified"


def test_taxonomy_has_the_17_iptc_top_level_topics():
    tax = taxonomy()
    top = {code for code, entry in tax.entries.items() if entry.parent is None}
    assert top == {f"medtop:{n:02d}000000" for n in range(1, 18)}
    assert "economy-business-and-finance" in tax.slugs and "politics" in tax.slugs
    assert tax.version and "IPTC" in tax.source
    for needed in (
        "diplomacy",
        "international relations",
        "international trade",
        "agriculture",
        "defence",
        "migration of people",
        "school",
    ):
        assert needed in {entry.label for entry in tax.entries.values()}
    assert slug("crime, law and justice") == "crime-law-and-justice"


def test_country_table_covers_iso_and_m49():
    countries = gazetteer().countries
    assert len(countries) >= 240
    assert {c.region for c in countries.values()} == set(REGION_SLUGS)
    assert countries["CN"].subregion == "Eastern Asia" and countries["CN"].region_m49 == "142"


def test_a_plural_the_taxonomy_lists_itself_counts_once():
    topics = taxonomy()
    for phrase, payloads in zip(topics.index.phrases, topics.index.payloads, strict=True):
        codes = [code for code, _ in payloads]
        assert len(codes) == len(set(codes)), phrase
    # "student" and "students" are both listed for education: one match, not two.
    found = [m.code for m in topics.matches("", "The students returned.")]
    assert found.count("medtop:05000000") == 1


def test_equal_evidence_is_a_tie_whatever_the_order_of_the_sums():
    # 0.1 + 0.1 + 0.1 is 0.30000000000000004 in floats: summed that way, "alpha" would beat
    # "beta" (0.3, seen first) by rounding alone.
    topics = Taxonomy(
        {
            "version": "test",
            "source": "test",
            "threshold": 0.1,
            "topics": [
                {"code": "t:beta", "label": "beta", "terms": {"beta": 0.3}},
                {"code": "t:alpha", "label": "alpha", "terms": {"alpha": 0.1}},
            ],
        }
    )
    ranked = topics.classify("", "beta alpha alpha alpha", word_count=100)
    assert [(t.label, t.score) for t in ranked] == [("beta", 0.3), ("alpha", 0.3)]


def test_a_name_cut_by_the_end_of_the_title_is_not_a_mention():
    cut = make_article(title="A message to the United", body=("States of mind were discussed.",))
    assert "US" not in classifier().classify(cut).location.mentioned
    whole = make_article(title="A message", body=("The United States replied.",))
    assert classifier().classify(whole).location.mentioned == ("US",)


def test_settling_the_heap_freezes_live_objects_once_and_frees_garbage_first():
    import gc
    import weakref

    from pipeline.core import heap

    class Node:
        pass

    before = gc.get_threshold()
    gc.disable()  # no automatic collection may free the cycle before settle() does
    try:
        heap._settled.clear()
        gc.unfreeze()
        node = Node()
        node.self = node  # garbage in a cycle: must be collected, not frozen
        garbage = weakref.ref(node)
        del node
        heap.settle()
        frozen = gc.get_freeze_count()
        assert garbage() is None
        assert frozen > 0 and gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
        alive = [Node() for _ in range(100)]  # what a second freeze would freeze
        heap.settle()  # once per process
        # Frozen objects can still be freed by reference counting (another thread's, say),
        # so the count may drop; a second freeze would raise it by the hundred new objects.
        assert gc.get_freeze_count() < frozen + len(alive)
    finally:
        gc.enable()
        gc.unfreeze()
        gc.set_threshold(*before)
