"""Exact and near-duplicate removal, within a run and across runs.

Guarantees: every article leaves either kept (``dedup.copies`` counts the copies this run saw)
or as a duplicate naming the kept article's id. The ladder: the same feed guid or link
(``link``), then the same fingerprint of the normalised body, whatever the title prefix or
header lines (``exact``), then MinHash similarity of word 5-shingles at or above the
threshold (``near``; see :mod:`pipeline.minhash` for the LSH tuning). Copies form clusters
by connected components, so one story arriving by RSS and by drop is one article. The kept
copy of a cluster is one already in the lake (from the index of earlier runs) if there is
one, else the earliest published, ties broken by drop file name, then URI, then position:
the result depends on neither file order nor bundles nor workers. Nothing is rejected here.

Layout: each article becomes a small :class:`ArticleSketch` (key, order, id, band keys,
sketch; no body); one combine gathers them with the lake's index and decides every cluster at
once. The result, a :class:`Decided`, is a side input: a :class:`~pipeline.records.Dedup`
for each article that is not simply kept, which :class:`pipeline.lake.PublishArticles`
applies while it writes. Articles are never shuffled or held here, and sketches cross
stage boundaries in batches, never one by one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from pipeline import minhash
from pipeline.records import Article, Dedup, IndexBatch, IndexEntry, segment_key
from pipeline.text import tokens

__all__ = [
    "DEFAULT_THRESHOLD",
    "ArticleSketch",
    "DecideDuplicates",
    "Decided",
    "Decision",
    "SketchBatch",
    "article_key",
    "decide",
    "sketch_article",
]

DEFAULT_THRESHOLD = 0.7
_MAX_PAIRS_PER_BUCKET = 64  # a bucket shared by many articles is boilerplate, not news


@dataclasses.dataclass(frozen=True)
class ArticleSketch:
    """What deduplication needs of an article: no body, about 300 bytes."""

    key: str
    order: tuple[int, str, str, int]  # (published day, drop file name, uri, position)
    id: str
    bands: bytes
    sketch: bytes
    links: tuple[str, ...] = ()  # a feed item's guid and link


@dataclasses.dataclass(frozen=True)
class Decision:
    """What happens to one article of a cluster."""

    duplicate_of: str | None = None
    kind: str | None = None
    similarity: float | None = None
    copies: int = 0


def article_key(article: Article) -> str:
    """Unique within a run: where the article's bytes came from."""
    return segment_key(article.lineage.source_uri, article.lineage.segment_index)


def sketch_article(article: Article) -> ArticleSketch:
    """The article's MinHash band keys and sketch, and its place in the keep order."""
    signature = minhash.signature(tokens(" ".join(article.body)))
    uri = article.lineage.source_uri
    return ArticleSketch(
        key=article_key(article),
        order=(
            article.published_date.toordinal(),
            uri.rsplit("/", 1)[-1],
            uri,
            article.lineage.segment_index,
        ),
        id=article.id,
        bands=minhash.band_keys(signature).astype("<u4").tobytes(),
        sketch=minhash.sketch(signature).tobytes(),
        links=tuple(
            dict.fromkeys(link for link in (article.source.guid, article.source.item_url) if link)
        ),
    )


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, node: int) -> int:
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def union(self, left: int, right: int) -> None:
        left, right = self.find(left), self.find(right)
        if left != right:  # the lower index (earlier in keep order) stays the root
            self.parent[max(left, right)] = min(left, right)


def _candidate_pairs(bands: np.ndarray) -> np.ndarray:
    """Pairs of rows sharing a band key: each row with the previous and the first of its run."""
    pairs = []
    for band in range(bands.shape[1]):
        order = np.argsort(bands[:, band], kind="stable")
        keys = bands[order, band]
        same = np.flatnonzero(keys[1:] == keys[:-1]) + 1
        if not len(same):
            continue
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        first = starts[np.searchsorted(starts, same, side="right") - 1]
        near_start = same - first < _MAX_PAIRS_PER_BUCKET
        same, first = same[near_start], first[near_start]
        pairs.append(np.stack([order[same - 1], order[same]], axis=1))
        pairs.append(np.stack([order[first], order[same]], axis=1))
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(np.sort(np.concatenate(pairs), axis=1), axis=0)


def decide(
    run: list[ArticleSketch], lake: list[IndexEntry], threshold: float = DEFAULT_THRESHOLD
) -> tuple[dict[str, Decision], list[IndexEntry]]:
    """Decide every cluster of this run's articles, against the lake's index.

    Returns:
        Decisions for the articles that belong to a cluster (keepers with copies, and
        duplicates), keyed by :func:`article_key`; and the new index entries: this run's kept
        articles, and lake articles whose clusters brought feed links the index lacked.
    """
    run = sorted(run, key=lambda s: s.order)
    lake = sorted(lake, key=lambda e: e.id)
    nodes = len(lake) + len(run)
    ids = [entry.id for entry in lake] + [s.id for s in run]
    bands = np.frombuffer(b"".join(x.bands for x in (*lake, *run)), dtype="<u4").reshape(
        nodes, minhash.BANDS
    )
    sketches = np.frombuffer(b"".join(x.sketch for x in (*lake, *run)), dtype=np.uint8).reshape(
        nodes, minhash.NUM_PERM
    )
    links = [entry.links for entry in lake] + [s.links for s in run]
    clusters = _UnionFind(nodes)
    first_with_key: dict[str, int] = {}
    for node in range(nodes):  # the ladder's first rungs: feed guid or link, then content id
        for key in (*(f"link:{link}" for link in links[node]), f"id:{ids[node]}"):
            clusters.union(first_with_key.setdefault(key, node), node)
    pairs = _candidate_pairs(bands)
    if len(pairs):
        similar = minhash.estimate_jaccard(sketches[pairs[:, 0]], sketches[pairs[:, 1]])
        for left, right in pairs[similar >= threshold].tolist():
            clusters.union(left, right)

    members: dict[int, list[int]] = {}
    for node in range(nodes):
        members.setdefault(clusters.find(node), []).append(node)
    decisions: dict[str, Decision] = {}
    kept: list[IndexEntry] = []
    for root, cluster in members.items():
        new = [node for node in cluster if node >= len(lake)]
        if not new:
            continue
        keeper = root  # the lowest index: a lake entry if any, else the first in keep order
        # The index learns every feed link of the cluster, so the next run skips those items.
        cluster_links = tuple(dict.fromkeys(link for node in cluster for link in links[node]))
        if keeper >= len(lake):
            sketch = run[keeper - len(lake)]
            kept.append(IndexEntry(sketch.id, sketch.bands, sketch.sketch, cluster_links))
            if len(new) > 1:
                decisions[sketch.key] = Decision(copies=len(new) - 1)
        elif set(cluster_links) - set(links[keeper]):
            held = lake[keeper]
            kept.append(IndexEntry(held.id, held.bands, held.sketch, cluster_links))
        for node in new:
            if node == keeper:
                continue
            exact = ids[node] == ids[keeper]
            similarity = 1.0
            if not exact:
                similarity = float(minhash.estimate_jaccard(sketches[node], sketches[keeper]))
            same_item = bool(set(links[node]) & set(links[keeper]))
            decisions[run[node - len(lake)].key] = Decision(
                duplicate_of=ids[keeper],
                kind="exact" if exact else "link" if same_item else "near",
                similarity=round(similarity, 4),
            )
    return decisions, kept


@dataclasses.dataclass(frozen=True)
class SketchBatch:
    """Sketches that travel together: one Beam element, pickled in one call."""

    sketches: tuple[ArticleSketch, ...]


@dataclasses.dataclass(frozen=True)
class Decided:
    """A run's dedup outcome: a :class:`~pipeline.records.Dedup` by :func:`article_key` for
    every article that is a duplicate or a keeper with copies (an article it does not name
    is kept with no copies), and the new index entries. One Beam element, pickled in one
    call, where a dict would be encoded entry by entry."""

    decisions: dict[str, Dedup]
    index: IndexBatch

    def get(self, key: str) -> Dedup | None:
        return self.decisions.get(key)


class _SketchFn(beam.DoFn):
    """Articles in; a :class:`SketchBatch` per ``batch`` articles of a bundle out."""

    def __init__(self, batch: int) -> None:
        self.batch = batch

    def start_bundle(self) -> None:
        self.sketches: list[ArticleSketch] = []

    def process(self, article: Article) -> Iterator[SketchBatch]:
        self.sketches.append(sketch_article(article))
        if len(self.sketches) >= self.batch:
            yield SketchBatch(tuple(self.sketches))
            self.sketches = []

    def finish_bundle(self) -> Iterator[WindowedValue]:
        if self.sketches:
            yield WindowedValue(
                SketchBatch(tuple(self.sketches)), GlobalWindow().max_timestamp(), [GlobalWindow()]
            )


def _decide_all(
    batches: list[SketchBatch], lake_batches: list[IndexBatch], threshold: float
) -> Iterator[Decided]:
    run = [sketch for batch in batches for sketch in batch.sketches]
    lake = [entry for batch in lake_batches for entry in batch]
    decisions, kept = decide(run, lake, threshold)
    yield Decided({key: _as_dedup(d) for key, d in decisions.items()}, IndexBatch(tuple(kept)))


def _as_dedup(decision: Decision) -> Dedup:
    return Dedup(
        copies=decision.copies,
        duplicate_of=decision.duplicate_of,
        kind=decision.kind,
        similarity=decision.similarity,
    )


class _CountDecisionsFn(beam.DoFn):
    def __init__(self) -> None:
        self.exact = Metrics.counter("feedlake", "duplicates_exact")
        self.near = Metrics.counter("feedlake", "duplicates_near")

    def process(self, decided: Decided) -> Iterator[Decided]:
        for dedup in decided.decisions.values():
            if dedup.duplicate_of is not None:
                (self.exact if dedup.kind == "exact" else self.near).inc()
        yield decided


class DecideDuplicates(beam.PTransform):
    """Articles in; a singleton :class:`Decided` out.

    Args:
        lake_index: the lake's :class:`~pipeline.records.IndexBatch` es, from earlier runs.
        threshold: estimated Jaccard similarity at which a candidate pair is a near duplicate.
        batch: sketches per element that crosses to the decision.
    """

    def __init__(
        self,
        lake_index: beam.PCollection,
        threshold: float = DEFAULT_THRESHOLD,
        batch: int = 10_000,
    ) -> None:
        super().__init__()
        if not 0 < threshold <= 1:
            raise ValueError("DecideDuplicates: threshold must be in (0, 1]")
        self.lake_index = lake_index
        self.threshold = threshold
        self.batch = batch

    def expand(self, articles):
        sketches = (
            articles
            | "Sketch articles" >> beam.ParDo(_SketchFn(self.batch))
            | "Gather sketches" >> beam.combiners.ToList()
        )
        index = self.lake_index | "Gather the lake's index" >> beam.combiners.ToList()
        return (
            sketches
            | "Decide clusters"
            >> beam.FlatMap(_decide_all, beam.pvalue.AsSingleton(index), self.threshold)
            | "Count decisions" >> beam.ParDo(_CountDecisionsFn())
        )
