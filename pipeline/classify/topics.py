"""What a story is about: IPTC Media Topics scored from weighted terms.

The taxonomy is data, not code: ``pipeline/classify/data/mediatopics.json`` (versioned) lists each
topic's QCode, en-GB label, parent and weighted terms. One Aho-Corasick pass over the words
of the title and of the body finds every term (:mod:`pipeline.classify.phrases`); a term in the
title counts double.
A topic's evidence also counts for each of its ancestors. Scores are per 100 words; below the
taxonomy's threshold the article is ``unclassified``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from importlib import resources
from operator import itemgetter

from pipeline.classify.phrases import PhraseIndex, word_text
from pipeline.core.records import UNCLASSIFIED, Topic, unchecked

__all__ = ["UNCLASSIFIED", "Match", "Taxonomy", "slug", "taxonomy"]

TITLE_WEIGHT = 2.0
MAX_TOPICS = 5
_UNITS = 1000  # weights are counted in thousandths (see Taxonomy.spread)
_VALUE = itemgetter(1)


def slug(label: str) -> str:
    """The partition slug of a label ('crime, law and justice' becomes 'crime-law-and-justice')."""
    return "-".join(label.replace(",", " ").split()).lower()


@dataclasses.dataclass(frozen=True)
class _Entry:
    code: str
    label: str
    parent: str | None
    ancestors: tuple[str, ...]  # parent first, top level last

    @property
    def level(self) -> int:
        return len(self.ancestors) + 1

    @property
    def top_level(self) -> str:
        return self.ancestors[-1] if self.ancestors else self.code


@dataclasses.dataclass(frozen=True)
class Match:
    """A term found in the text, for ``feedlake validate --explain``.

    ``weight`` is the term's weight for ``code`` times its occurrences (before the title
    factor and the per-100-words scaling).
    """

    term: str
    code: str
    weight: float
    in_title: bool


class Taxonomy:
    """The topic table and its term index."""

    def __init__(self, document: dict) -> None:
        self.version = document["version"]
        self.source = document["source"]
        self.threshold = float(document["threshold"])
        parents = {t["code"]: t.get("parent") for t in document["topics"]}
        self.entries = {
            t["code"]: _Entry(
                t["code"], t["label"], t.get("parent"), _ancestors(t["code"], parents)
            )
            for t in document["topics"]
        }
        self.terms: list[tuple[str, tuple[str, float]]] = _weighted_terms(document)
        self.index: PhraseIndex[tuple[str, float]] = PhraseIndex(self.terms)
        # Per code: Topic's fields but the score.
        self._fields = {
            code: {
                "code": code,
                "label": entry.label,
                "level": entry.level,
                "top_level": slug(self.entries[entry.top_level].label),
            }
            for code, entry in self.entries.items()
        }
        self.slugs = frozenset(
            slug(entry.label) for entry in self.entries.values() if entry.parent is None
        ) | {UNCLASSIFIED}
        self._lineage = {
            code: (*reversed(entry.ancestors), code) for code, entry in self.entries.items()
        }
        self._spread = [self.spread(payloads) for payloads in self.index.payloads]  # by phrase

    def spread(self, hits: list[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
        """``(code, weight)`` hits with each weight also counted for every ancestor.

        Evidence for a topic is evidence for its parents. Codes come top level first, in the
        order of ``hits``: the order in which :meth:`rank` breaks ties. Weights come in
        thousandths, whole numbers: sums are exact in any order, so a tie is a tie.
        """
        spread: dict[str, float] = {}
        for code, weight in hits:
            for ancestor in self._lineage[code]:
                spread[ancestor] = spread.get(ancestor, 0.0) + round(weight * _UNITS)
        return tuple(spread.items())

    def matches(self, title: str, body: str) -> list[Match]:
        """The terms found in title and body, with how they count (for ``--explain``)."""
        return [
            Match(self.index.phrases[phrase], code, weight * times, in_title)
            for text, in_title in ((title, True), (body, False))
            for phrase, times in self.index.count(word_text(text)).items()
            for code, weight in self.index.payloads[phrase]
        ]

    def classify(self, title: str, body: str, word_count: int) -> tuple[Topic, ...]:
        """Topics best first (ancestors before descendants on ties); empty if unclassified."""
        scores: dict[str, float] = {}
        for text, factor in ((title, TITLE_WEIGHT), (body, 1.0)):
            for phrase, times in self.index.count(word_text(text)).items():
                for code, weight in self._spread[phrase]:
                    scores[code] = scores.get(code, 0.0) + weight * factor * times
        return self.rank(scores, word_count)

    def rank(self, scores: dict[str, float], word_count: int) -> tuple[Topic, ...]:
        """Topics from each code's weighted evidence, ancestors' included (see :meth:`spread`).

        ``scores`` in first-seen order: equal scores keep it (the sort is stable).
        """
        if not scores:
            return ()
        best = sorted(scores.items(), key=_VALUE, reverse=True)[:MAX_TOPICS]
        per_words = 100.0 / _UNITS / max(word_count, 50)
        if best[0][1] * per_words < self.threshold:
            return ()
        return tuple(
            unchecked(Topic, **self._fields[code], score=round(value * per_words, 3))
            for code, value in best
        )


def _ancestors(code: str, parents: dict[str, str | None]) -> tuple[str, ...]:
    chain: list[str] = []
    while (parent := parents[code]) is not None:
        if parent not in parents:
            raise ValueError(f"taxonomy: {code} names an unknown parent {parent}")
        if parent in chain:
            raise ValueError(f"taxonomy: {code} is its own ancestor")
        chain.append(parent)
        code = parent
    return tuple(chain)


def _weighted_terms(document: dict) -> list[tuple[str, tuple[str, float]]]:
    """Each listed term and its automatic plural, as ``(form, (code, weight))``.

    One entry per folded form and code: a plural the file lists itself ("fruit" and
    "fruits") keeps its own weight instead of counting twice.
    """
    listed: dict[tuple[bytes, str], tuple[str, float]] = {}
    automatic: dict[tuple[bytes, str], tuple[str, float]] = {}
    for topic in document["topics"]:
        for term, weight in topic.get("terms", {}).items():
            for form in _forms(term):
                key = (b" ".join(word_text(form).split()), topic["code"])
                chosen = listed if form == term else automatic
                chosen.setdefault(key, (form, float(weight)))
    for key, entry in automatic.items():
        listed.setdefault(key, entry)
    return [(form, (code, weight)) for (_, code), (form, weight) in listed.items()]


def _forms(term: str) -> set[str]:
    forms = {term}
    if term.isalpha() and not term.endswith("s"):
        forms.add(term + "s")  # plural of a one-word term
    return forms


@functools.cache
def taxonomy() -> Taxonomy:
    """The shipped IPTC taxonomy (``pipeline/classify/data/mediatopics.json``)."""
    text = resources.files("pipeline.classify.data").joinpath("mediatopics.json").read_text("utf-8")
    return Taxonomy(json.loads(text))
