"""Exact and near-duplicate removal, within a run and across runs.

Guarantees: every article leaves either kept (``dedup.copies`` counts the copies this run saw)
or as a duplicate naming the kept article's id. The ladder: the same feed item by guid, else link
(``link``), then the same fingerprint of the normalised body, whatever the title prefix or
header lines (``exact``), then MinHash similarity of word 5-shingles at or above the
threshold (``near``; see :mod:`pipeline.core.minhash` for the LSH tuning). Copies form clusters
by connected components, so one story arriving by RSS and by drop is one article. The kept
copy of a cluster is one already in the lake (from the index of earlier runs) if there is
one, else the earliest published, ties broken by drop file name, then URI, then position:
the result depends on neither file order nor bundles nor workers. Nothing is rejected here.

Layout: each article becomes a small :class:`~pipeline.dedup.sketch.ArticleSketch` (key, order, id,
band keys, sketch; no body); one combine gathers them, fetches from the lake's history only the
entries they may copy (:class:`History`: the same ids and feed items over the whole history, near
candidates within a window of published days) and decides every cluster at once. The result,
:class:`Decisions`, is a side input: a :class:`~pipeline.core.records.Dedup` for each article that
is not simply kept, which :class:`pipeline.lake.publish.PublishArticles` applies while it writes.
Articles are never shuffled or held here, and sketches cross stage boundaries in batches, never one
by one.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipeline.core import minhash
from pipeline.core.records import Dedup, IndexBatch, IndexEntry
from pipeline.dedup.clusters import Decision, bucket_pairs, settle_clusters
from pipeline.dedup.sketch import ArticleSketch, SketchArticles, SketchBatch

__all__ = [
    "DEFAULT_THRESHOLD",
    "DecideDuplicates",
    "Decisions",
    "History",
    "decide",
    "decide_batches",
]

DEFAULT_THRESHOLD = 0.7


def _candidate_pairs(bands: np.ndarray) -> np.ndarray:
    """Pairs of rows sharing a band key (:func:`~pipeline.dedup.clusters.bucket_pairs`, band
    by band)."""
    pairs = []
    for band in range(bands.shape[1]):
        order = np.argsort(bands[:, band], kind="stable")
        pairs.append(bucket_pairs(order, bands[order, band]))
    pairs = np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)
    if not len(pairs):
        return pairs
    return np.unique(np.sort(pairs, axis=1), axis=0)


def decide(
    run: list[ArticleSketch], lake: list[IndexEntry], threshold: float = DEFAULT_THRESHOLD
) -> tuple[dict[str, Decision], list[IndexEntry]]:
    """:func:`decide_batches` for lists of sketches and index entries."""
    decisions, kept = decide_batches(SketchBatch.of(run), IndexBatch.of(lake), threshold)
    return decisions, list(kept)


def decide_batches(
    run: SketchBatch, lake: IndexBatch, threshold: float = DEFAULT_THRESHOLD
) -> tuple[dict[str, Decision], IndexBatch]:
    """Decide every cluster of this run's articles, against the lake's index.

    Works on arrays; Python steps only for the articles that join a cluster, so a lake of
    millions costs its arrays and a few sorts.

    Returns:
        Decisions for the articles that belong to a cluster (keepers with copies, and duplicates),
        keyed by :func:`~pipeline.core.records.article_key`; and the new index entries: this run's
        kept articles (with their published days), and lake articles whose clusters brought feed
        links the index lacked (day 0: the index only learns those links).
    """
    held = len(lake)
    lake_order = np.argsort(lake.ids, kind="stable")
    run_order = run.keep_order()
    nodes = held + len(run)
    entries = run.entries
    ids = np.concatenate([lake.ids[lake_order], entries.ids[run_order]])
    bands = np.concatenate([lake.bands[lake_order], entries.bands[run_order]])
    sketches = np.concatenate([lake.sketches[lake_order], entries.sketches[run_order]])
    links = _links_by_node(lake.links, lake_order, 0) | _links_by_node(
        entries.links, run_order, held
    )

    edges = []  # the ladder's first rung: the same feed item
    first_with_link: dict[str, int] = {}
    for node in sorted(links):
        edges += [(first_with_link.setdefault(link, node), node) for link in links[node]]
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    same_id = first[inverse.ravel()]  # then the content id: each node with the first of its id
    copies = np.flatnonzero(same_id != np.arange(nodes))
    pairs = _candidate_pairs(bands)
    if len(pairs):
        similar = minhash.estimate_jaccard(sketches[pairs[:, 0]], sketches[pairs[:, 1]])
        pairs = pairs[similar >= threshold]
    joined = np.concatenate(
        [
            np.array(edges, dtype=np.int64).reshape(-1, 2),
            np.stack([same_id[copies], copies], 1),
            pairs,
        ]
    )
    settled = settle_clusters(nodes, joined, held, ids, sketches, links)

    decisions: dict[str, Decision] = {}
    kept_rows = np.ones(len(run), dtype=bool)  # run rows (in keep order) the index takes
    for node, decision in settled.decisions.items():
        decisions[run.key(int(run_order[node - held]))] = decision
        if decision.duplicate_of is not None:
            kept_rows[node - held] = False
    lake_updates = np.array(settled.lake_updates, dtype=np.int64)
    rows = np.r_[np.flatnonzero(kept_rows) + held, lake_updates]
    run_days = run.day[run_order][kept_rows]
    kept = IndexBatch(
        ids=ids[rows],
        bands=bands[rows],
        sketches=sketches[rows],
        days=np.r_[run_days, np.zeros(len(lake_updates), dtype=np.int64)],
    )
    for place, node in enumerate(rows.tolist()):
        if found := settled.cluster_links.get(node, links.get(node, ())):
            kept.links[place] = found
    return decisions, kept


def _links_by_node(
    links: dict[int, tuple[str, ...]], order: np.ndarray, offset: int
) -> dict[int, tuple[str, ...]]:
    """``links`` by row, renumbered as nodes: the row's place in ``order`` plus ``offset``."""
    if not links:
        return {}
    place = np.empty(len(order), dtype=np.int64)
    place[order] = np.arange(len(order))
    return {int(place[row]) + offset: found for row, found in links.items()}


@dataclasses.dataclass(frozen=True)
class Decisions:
    """A :class:`~pipeline.core.records.Dedup` by :func:`~pipeline.core.records.article_key` for
    every article that is a duplicate or a keeper with copies; an article it does not name is kept
    with no copies. One Beam element, pickled in one call, where a dict would be encoded entry by
    entry."""

    decisions: dict[str, Dedup]

    @classmethod
    def of(cls, decisions: dict[str, Decision]) -> Decisions:
        return cls({key: _as_dedup(decision) for key, decision in decisions.items()})

    def get(self, key: str) -> Dedup | None:
        return self.decisions.get(key)


def _as_dedup(decision: Decision) -> Dedup:
    return Dedup(
        copies=decision.copies,
        duplicate_of=decision.duplicate_of,
        kind=decision.kind,
        similarity=decision.similarity,
    )


class History(Protocol):
    """Where the lake's history comes from: :class:`pipeline.lake.history.LakeHistory`."""

    def for_run(self, run: IndexBatch, days: np.ndarray) -> IndexBatch:
        """The lake's entries a run's articles (``run``, published on ``days``) may copy."""
        ...


class _DecideFn(beam.DoFn):
    """All sketches in; :class:`Decisions` and the new index out, against the entries of the
    lake's history that the run's articles may copy."""

    INDEX = "index"

    def __init__(self, history: History | None, threshold: float) -> None:
        self.history = history
        self.threshold = threshold
        self.exact = Metrics.counter("feedlake", "duplicates_exact")
        self.near = Metrics.counter("feedlake", "duplicates_near")
        self.held = Metrics.distribution("feedlake", "history_entries")

    def process(self, batches: list[SketchBatch]):
        run = SketchBatch.concat(batches)
        lake = self.history.for_run(run.entries, run.day) if self.history else IndexBatch.of([])
        self.held.update(len(lake))
        decisions, kept = decide_batches(run, lake, self.threshold)
        for decision in decisions.values():
            if decision.duplicate_of is not None:
                (self.exact if decision.kind == "exact" else self.near).inc()
        yield Decisions.of(decisions)
        yield beam.pvalue.TaggedOutput(self.INDEX, kept)


class DecideDuplicates(beam.PTransform):
    """Articles in; ``decisions``, a singleton :class:`Decisions` (small: only articles that
    join a cluster), and ``index``, one :class:`~pipeline.core.records.IndexBatch` of the entries
    the run adds, out. The two travel apart so that the side input stays small.

    Args:
        history: the lake's history (None: a lake with none).
        threshold: estimated Jaccard similarity at which a candidate pair is a near duplicate.
        batch: sketches per element that crosses to the decision.
    """

    def __init__(
        self,
        history: History | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        batch: int = 10_000,
    ) -> None:
        super().__init__()
        if not 0 < threshold <= 1:
            raise ValueError("DecideDuplicates: threshold must be in (0, 1]")
        self.history = history
        self.threshold = threshold
        self.batch = batch

    def expand(self, articles):
        sketches = (
            articles
            | "Sketch articles" >> SketchArticles(self.batch)
            | "Gather sketches" >> beam.combiners.ToList()
        )
        decided = sketches | "Decide clusters" >> beam.ParDo(
            _DecideFn(self.history, self.threshold)
        ).with_outputs(_DecideFn.INDEX, main="decisions")
        return {"decisions": decided["decisions"], "index": decided[_DecideFn.INDEX]}
