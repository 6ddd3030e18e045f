"""Classify articles by region (ISO 3166 country, UN M49 areas) and topic (IPTC Media Topics).

Guarantees: every article leaves with a :class:`~pipeline.core.records.Region` whose ``method``
says what decided it (``dateline``, ``mentions``, ``declared_region``, ``source``, ``feed``,
``none`` or ``not_english``) and with its topics best first (empty when unclassified), and
``topics_from`` says what they were read from (``terms``, or ``not_english``: the terms and
the country names are English words, so an article in another language is given no topic
and no mentions rather than a guess). Nothing is rejected here.
Region order of trust: the dateline city (where the story was filed: a Russian minister at a
meeting in Beijing, declared ``Region: Russian Federation``, is a story in CN); the
countries named in title and body, weighted by position and count, leaving out names that
are not places ("Japanese encephalitis", "Sea of Japan"); the declared ``Region:`` line; the
country of the publisher a ``Source:`` line names ("Hong Kong Government ..."); a feed's
hints.

Country names and topic terms share one phrase index: title, lead paragraph and the rest
are folded apart and scanned once together, each hit counted for the part it lies in.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.classify.gazetteer import (
    NOT_PLACES,
    PLACE_WEIGHT,
    Gazetteer,
    gazetteer,
    most_mentioned,
)
from pipeline.classify.phrases import PhraseIndex, padded
from pipeline.classify.topics import TITLE_WEIGHT, Taxonomy, taxonomy
from pipeline.core import heap
from pipeline.core.bundles import in_global_window
from pipeline.core.records import Article, Region, evolve
from pipeline.core.text import fold

__all__ = [
    "MAX_SCAN_CHARS",
    "TERM_LANGUAGES",
    "Classifier",
    "ClassifyArticles",
    "classifier",
    "scanned",
]

# News puts what a story is about, and where, first: reading the title and the first 1,200
# characters of the body keeps the cost per article flat however long the article is.
MAX_SCAN_CHARS = 1200
_CHARS_PER_WORD = 6  # English news averages about 6 characters a word, space included
# The languages the taxonomy's terms and the country names are written in ('und': too few
# letters to tell, often a table under an English title).
TERM_LANGUAGES = frozenset({"en", "und"})
_NOT_A_PLACE = object()  # in Classifier._country: the phrase is a name that holds no place
# What a hit weighs for the country it names and for its topics, by the part it is in.
_TITLE = (PLACE_WEIGHT["title"], TITLE_WEIGHT)
_LEAD = (PLACE_WEIGHT["lead"], 1.0)
_BODY = (PLACE_WEIGHT["body"], 1.0)


class Classifier:
    """Region and topics of an article, from one scan over its words."""

    def __init__(self, places: Gazetteer, topics: Taxonomy) -> None:
        self.places = places
        self.topics = topics
        self.index: PhraseIndex[tuple[str, object]] = PhraseIndex(
            [(name, ("country", alpha2)) for name, alpha2 in places.names.items()]
            + [(term, ("topic", hit)) for term, hit in topics.terms]
            + [(phrase, ("not_a_place", None)) for phrase in NOT_PLACES]
        )
        # Per phrase id: the country it names (or None) and its topic weights, spread to the
        # ancestors, so that a hit costs a few additions.
        # (A name that is no place is marked in the same list: one lookup a hit, as before.)
        self._country = [
            _NOT_A_PLACE
            if any(what == "not_a_place" for what, _ in payloads)
            else next((alpha2 for what, alpha2 in payloads if what == "country"), None)
            for payloads in self.index.payloads
        ]
        self._topic_weights = [
            topics.spread([hit for what, hit in payloads if what == "topic"])
            for payloads in self.index.payloads
        ]

    def classify(self, article: Article, feed_hint: str | None = None) -> Article:
        """The article with its region and topics filled in."""
        if article.language not in TERM_LANGUAGES:
            return evolve(
                article,
                location=self.region(article, [], feed_hint, "not_english"),
                topics=(),
                topics_from="not_english",
            )
        lead, rest = scanned(article.body)
        # One scan of title, lead and rest; a hit's place says which part it is in (the pad
        # and the space after each part: see word_text).
        folded = [fold(article.title), fold(lead), fold(rest)]
        words = padded(folded)
        title_end = len(folded[0]) + 1
        lead_end = title_end + len(folded[1]) + 1
        country_of, weights_of = self._country, self._topic_weights
        countries: dict[str, float] = {}
        scores: dict[str, float] = {}
        masks: list[tuple[int, int]] = []
        hits = self.index.hits(words)
        for phrase, start, stop in hits:
            end = stop - 1
            if end <= title_end:
                place, factor = _TITLE
            elif start >= lead_end:
                place, factor = _BODY
            elif start >= title_end and end <= lead_end:
                place, factor = _LEAD
            else:  # across the end of a part: two parts' words, not a phrase of the text
                continue
            if (country := country_of[phrase]) is _NOT_A_PLACE:
                masks.append((start, stop))
            elif country is not None:
                countries[country] = countries.get(country, 0.0) + place
            for code, weight in weights_of[phrase]:
                scores[code] = scores.get(code, 0.0) + weight * factor
        if masks:  # "Japanese" in "Japanese encephalitis" names no place: its hit is taken back
            countries = self._unmasked(countries, hits, masks, title_end, lead_end)
        mentioned = most_mentioned(countries)
        scanned_words = min(article.word_count, (len(lead) + len(rest)) // _CHARS_PER_WORD)
        return evolve(
            article,
            location=self.region(article, mentioned, feed_hint),
            topics=self.topics.rank(scores, scanned_words),
        )

    def _unmasked(
        self,
        countries: dict[str, float],
        hits: list[tuple[int, int, int]],
        masks: list[tuple[int, int]],
        title_end: int,
        lead_end: int,
    ) -> dict[str, float]:
        """``countries`` less the hits that lie inside a name that is no place."""
        for phrase, start, stop in hits:
            country = self._country[phrase]
            if (
                country is None
                or country is _NOT_A_PLACE
                or not any(low <= start and stop <= high for low, high in masks)
            ):
                continue
            end = stop - 1
            if end <= title_end:
                countries[country] -= _TITLE[0]
            elif start >= lead_end:
                countries[country] -= _BODY[0]
            else:
                countries[country] -= _LEAD[0]
        return {country: score for country, score in countries.items() if score > 0}

    def region(
        self,
        article: Article,
        mentioned: list[str],
        feed_hint: str | None,
        undecided: str = "none",
    ) -> Region:
        """Where the story happens, which signal decided it, and ``undecided`` when none did."""
        places = self.places
        if article.dateline is not None:
            country = places.country_of_city(article.dateline.city, mentioned)
            if country is not None:
                return places.region(country, "dateline", mentioned)
        if mentioned:
            return places.region(mentioned[0], "mentions", mentioned)
        signals = [("declared_region", article.source.declared_region)]
        signals += [("source", line) for line in article.source.lines]
        signals.append(("feed", feed_hint))
        for method, declared in signals:
            country, region = places.declared(declared)
            if country is not None or region is not None:
                return places.region(country, method, mentioned, region)
        return places.region(None, undecided, mentioned)


def scanned(body: tuple[str, ...]) -> tuple[str, str]:
    """The lead paragraph and what follows it, together at most MAX_SCAN_CHARS long."""
    lead = body[0][:MAX_SCAN_CHARS] if body else ""
    budget = MAX_SCAN_CHARS - len(lead)
    taken = []
    for paragraph in body[1:]:
        if budget <= 0:
            break
        taken.append(paragraph[:budget])
        budget -= len(paragraph) + 1
    return lead, " ".join(taken)


@functools.cache
def classifier() -> Classifier:
    """The process's classifier (built on first use: 0.2 s with the city table cached, about a
    second more without)."""
    return Classifier(gazetteer(), taxonomy())


class _ClassifyFn(beam.DoFn):
    """Classifies articles ``BATCH`` at a time.

    One article after another keeps the phrase automaton and the tables in the CPU's caches;
    classifying each between parsing and writing another evicts them (a chain of parse,
    classify and write measured about 20% slower per article than the same steps in batches).
    """

    BATCH = 256

    def setup(self) -> None:
        self.classifier = classifier()
        heap.settle()  # the gazetteer and the taxonomy: the worker's largest tables
        self.unclassified = Metrics.counter("feedlake", "unclassified")
        self.regions_unknown = Metrics.counter("feedlake", "region_unknown")

    def start_bundle(self) -> None:
        self.waiting: list[Article] = []

    def process(self, article: Article) -> Iterator[Article]:
        self.waiting.append(article)
        if len(self.waiting) >= self.BATCH:
            yield from self._classify()

    def finish_bundle(self):
        for classified in self._classify():
            yield in_global_window(classified)

    def _classify(self) -> Iterator[Article]:
        waiting, self.waiting = self.waiting, []
        for classified in [self.classifier.classify(article) for article in waiting]:
            if not classified.topics:
                self.unclassified.inc()
            if classified.location.region == "unknown":
                self.regions_unknown.inc()
            yield classified


class ClassifyArticles(beam.PTransform):
    """Articles in; the same articles with region and topics out."""

    def expand(self, articles):
        return articles | "Decide region and topics" >> beam.ParDo(_ClassifyFn())
