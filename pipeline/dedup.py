"""Exact and near-duplicate removal, within a run and across runs.

Guarantees: every article leaves either kept (``dedup.copies`` counts the copies this run saw)
or as a duplicate naming the kept article's id. The ladder: the same feed item by guid, else link
(``link``), then the same fingerprint of the normalised body, whatever the title prefix or
header lines (``exact``), then MinHash similarity of word 5-shingles at or above the
threshold (``near``; see :mod:`pipeline.minhash` for the LSH tuning). Copies form clusters
by connected components, so one story arriving by RSS and by drop is one article. The kept
copy of a cluster is one already in the lake (from the index of earlier runs) if there is
one, else the earliest published, ties broken by drop file name, then URI, then position:
the result depends on neither file order nor bundles nor workers. Nothing is rejected here.

Layout: each article becomes a small :class:`ArticleSketch` (key, order, id, band keys,
sketch; no body); one combine gathers them, fetches from the lake's history only the entries
they may copy (:class:`History`: the same ids and feed items over the whole history, near
candidates within a window of published days) and decides every cluster at once. The
result, :class:`Decisions`, is a side input: a :class:`~pipeline.records.Dedup` for each
article that is not simply kept, which :class:`pipeline.lake.PublishArticles` applies while
it writes. Articles are never shuffled or held here, and sketches cross
stage boundaries in batches, never one by one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Protocol

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipeline import minhash
from pipeline.bundles import in_global_window
from pipeline.records import (
    Article,
    Dedup,
    IndexBatch,
    IndexEntry,
    ids_array,
    item_identity,
    segment_key,
)
from pipeline.text import fold

__all__ = [
    "DEFAULT_THRESHOLD",
    "ArticleSketch",
    "DecideDuplicates",
    "Decision",
    "Decisions",
    "History",
    "Settlement",
    "SketchArticles",
    "SketchBatch",
    "article_key",
    "bucket_pairs",
    "decide",
    "decide_batches",
    "settle_clusters",
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
    links: tuple[str, ...] = ()  # the feed item it was: its guid, else its link


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
    uri = article.lineage.source_uri
    signature = minhash.signatures([_words(article)])[0]
    return ArticleSketch(
        key=article_key(article),
        order=(
            article.published_date.toordinal(),
            _file_name(uri),
            uri,
            article.lineage.segment_index,
        ),
        id=article.id,
        bands=minhash.band_keys(signature).astype("<u4").tobytes(),
        sketch=minhash.sketch(signature).tobytes(),
        links=_links(article),
    )


def _words(article: Article) -> bytes:
    return fold(" ".join(article.body))


def _links(article: Article) -> tuple[str, ...]:
    """The feed item the article was: its guid, else its link (:func:`item_identity`)."""
    identity = item_identity(article.source.guid, article.source.item_url)
    return (identity,) if identity else ()


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


def bucket_pairs(order: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The candidate pairs of rows that share a bucket, as rows ``(left, right)``.

    Args:
        order: rows sorted by bucket, and within a bucket by node (keep order).
        keys: their buckets, in that order.

    Returns:
        Each row with the previous and with the first of its bucket, for the first
        ``_MAX_PAIRS_PER_BUCKET`` rows of a bucket (a bucket shared by many is boilerplate).
    """
    same = np.flatnonzero(keys[1:] == keys[:-1]) + 1
    if not len(same):
        return np.empty((0, 2), dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    first = starts[np.searchsorted(starts, same, side="right") - 1]
    near_start = same - first < _MAX_PAIRS_PER_BUCKET
    same, first = same[near_start], first[near_start]
    return np.concatenate(
        [
            np.stack([order[same - 1], order[same]], axis=1),
            np.stack([order[first], order[same]], axis=1),
        ]
    )


def _candidate_pairs(bands: np.ndarray) -> np.ndarray:
    """Pairs of rows sharing a band key (:func:`bucket_pairs`, band by band)."""
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
        Decisions for the articles that belong to a cluster (keepers with copies, and
        duplicates), keyed by :func:`article_key`; and the new index entries: this run's kept
        articles (with their published days), and lake articles whose clusters brought feed
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


@dataclasses.dataclass(frozen=True)
class Settlement:
    """What the clusters of a decision come to, by node (an index in keep order, the lake's
    entries first)."""

    decisions: dict[int, Decision]  # run nodes: duplicates, and keepers with copies
    cluster_links: dict[int, tuple[str, ...]]  # each keeper of a cluster with run nodes: its links
    lake_updates: list[int]  # lake keepers whose clusters brought links the index lacks


def settle_clusters(
    nodes: int,
    edges: np.ndarray,
    held: int,
    ids: np.ndarray,
    sketches: np.ndarray,
    links: dict[int, tuple[str, ...]],
) -> Settlement:
    """Join ``edges`` into clusters (connected components) and decide each one.

    Args:
        nodes: how many nodes; nodes below ``held`` are the lake's entries, the rest this
            run's articles, each part in keep order.
        edges: ``(left, right)`` node pairs that are copies (the same feed item, content id,
            or a confirmed near pair).
        held, ids, sketches, links: the lake's node count, and the nodes' content ids
            (``S32``), sketches and feed links (by node).

    Returns:
        The keeper of each cluster is its lowest node: a lake entry if it has one, else its
        first article in keep order. Every other article of the cluster is its duplicate
        (``exact``: the same id; ``link``: a feed link in common; else ``near``).
    """
    clusters = _UnionFind(nodes)
    for left, right in edges.tolist():
        clusters.union(left, right)
    members: dict[int, list[int]] = {}
    for node in np.unique(edges).tolist():
        members.setdefault(clusters.find(node), []).append(node)
    decisions: dict[int, Decision] = {}
    cluster_links_of: dict[int, tuple[str, ...]] = {}
    lake_updates: list[int] = []
    for root, cluster in members.items():
        new = [node for node in cluster if node >= held]
        if not new:
            continue
        keeper = root  # the lowest index: a lake entry if any, else the first in keep order
        # The index learns every feed link of the cluster, so the next run skips those items.
        cluster_links = tuple(dict.fromkeys(link for n in cluster for link in links.get(n, ())))
        cluster_links_of[keeper] = cluster_links
        if keeper >= held:
            if len(new) > 1:
                decisions[keeper] = Decision(copies=len(new) - 1)
        elif set(cluster_links) - set(links.get(keeper, ())):
            lake_updates.append(keeper)
        for node in new:
            if node == keeper:
                continue
            exact = ids[node] == ids[keeper]
            similarity = 1.0
            if not exact:
                similarity = float(minhash.estimate_jaccard(sketches[node], sketches[keeper]))
            same_item = bool(set(links.get(node, ())) & set(links.get(keeper, ())))
            decisions[node] = Decision(
                duplicate_of=ids[keeper].decode("ascii"),
                kind="exact" if exact else "link" if same_item else "near",
                similarity=round(similarity, 4),
            )
    return Settlement(decisions, cluster_links_of, lake_updates)


def _links_by_node(
    links: dict[int, tuple[str, ...]], order: np.ndarray, offset: int
) -> dict[int, tuple[str, ...]]:
    """``links`` by row, renumbered as nodes: the row's place in ``order`` plus ``offset``."""
    if not links:
        return {}
    place = np.empty(len(order), dtype=np.int64)
    place[order] = np.arange(len(order))
    return {int(place[row]) + offset: found for row, found in links.items()}


@dataclasses.dataclass(frozen=True, eq=False)
class SketchBatch:
    """Sketches of many articles as arrays, about 280 bytes an article (an
    :class:`ArticleSketch` takes about 1,000): one Beam element, pickled in one call."""

    uris: tuple[str, ...]  # the distinct source uris
    uri: np.ndarray  # (n,) int64: index into uris
    position: np.ndarray  # (n,) int64: segment index in its source
    day: np.ndarray  # (n,) int64: published date's ordinal
    entries: IndexBatch  # ids, band keys, sketches and feed links, row by row

    @classmethod
    def of(cls, sketches: list[ArticleSketch]) -> SketchBatch:
        uris = tuple(dict.fromkeys(s.order[2] for s in sketches))
        index = {uri: n for n, uri in enumerate(uris)}
        return cls(
            uris=uris,
            uri=np.array([index[s.order[2]] for s in sketches], dtype=np.int64),
            position=np.array([s.order[3] for s in sketches], dtype=np.int64),
            day=np.array([s.order[0] for s in sketches], dtype=np.int64),
            entries=IndexBatch.of(sketches),  # a sketch has an index entry's fields
        )

    @classmethod
    def of_articles(cls, articles: list[Article]) -> SketchBatch:
        """The sketches of ``articles``, computed together (one kernel call for all)."""
        signatures = minhash.signatures([_words(article) for article in articles])
        uris = tuple(dict.fromkeys(article.lineage.source_uri for article in articles))
        index = {uri: n for n, uri in enumerate(uris)}
        links = ((row, _links(article)) for row, article in enumerate(articles))
        return cls(
            uris=uris,
            uri=np.array([index[a.lineage.source_uri] for a in articles], dtype=np.int64),
            position=np.array([a.lineage.segment_index for a in articles], dtype=np.int64),
            day=np.array([a.published_date.toordinal() for a in articles], dtype=np.int64),
            entries=IndexBatch(
                ids=ids_array([article.id for article in articles]),
                bands=minhash.band_keys(signatures).astype("<u4").reshape(-1, minhash.BANDS),
                sketches=minhash.sketch(signatures).reshape(-1, minhash.NUM_PERM),
                links={row: found for row, found in links if found},
            ),
        )

    @classmethod
    def concat(cls, batches: list[SketchBatch]) -> SketchBatch:
        batches = [batch for batch in batches if len(batch)]
        if len(batches) <= 1:
            return batches[0] if batches else cls.of([])
        uris = tuple(dict.fromkeys(uri for batch in batches for uri in batch.uris))
        index = {uri: n for n, uri in enumerate(uris)}
        renumbered = [
            np.array([index[uri] for uri in batch.uris], dtype=np.int64)[batch.uri]
            for batch in batches
        ]
        return cls(
            uris=uris,
            uri=np.concatenate(renumbered),
            position=np.concatenate([batch.position for batch in batches]),
            day=np.concatenate([batch.day for batch in batches]),
            entries=IndexBatch.concat(batch.entries for batch in batches),
        )

    def __len__(self) -> int:
        return len(self.uri)

    def key(self, row: int) -> str:
        """The :func:`article_key` of a row."""
        return segment_key(self.uris[self.uri[row]], int(self.position[row]))

    def keep_order(self) -> np.ndarray:
        """Rows in keep order: published day, drop file name, uri, position."""
        uris = self.uris
        by_name = sorted(range(len(uris)), key=lambda n: (_file_name(uris[n]), uris[n]))
        rank = np.empty(len(uris), dtype=np.int64)
        rank[by_name] = np.arange(len(uris))
        return np.lexsort((self.position, rank[self.uri], self.day))


def _file_name(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


@dataclasses.dataclass(frozen=True)
class Decisions:
    """A :class:`~pipeline.records.Dedup` by :func:`article_key` for every article that is a
    duplicate or a keeper with copies; an article it does not name is kept with no copies.
    One Beam element, pickled in one call, where a dict would be encoded entry by entry."""

    decisions: dict[str, Dedup]

    @classmethod
    def of(cls, decisions: dict[str, Decision]) -> Decisions:
        return cls({key: _as_dedup(decision) for key, decision in decisions.items()})

    def get(self, key: str) -> Dedup | None:
        return self.decisions.get(key)


class _SketchFn(beam.DoFn):
    """Articles in; a :class:`SketchBatch` per ``batch`` articles of a bundle out.

    Articles wait in groups of ``_GROUP`` (about 3 MB of text) for one kernel call; the
    sketches of the groups gather until ``batch``.
    """

    _GROUP = 1000

    def __init__(self, batch: int) -> None:
        self.batch = batch

    def start_bundle(self) -> None:
        self.waiting: list[Article] = []
        self.sketched: list[SketchBatch] = []
        self.rows = 0

    def process(self, article: Article) -> Iterator[SketchBatch]:
        self.waiting.append(article)
        if len(self.waiting) >= min(self._GROUP, self.batch):
            yield from self._sketch(flush=False)

    def finish_bundle(self):
        for batch in self._sketch(flush=True):
            yield in_global_window(batch)

    def _sketch(self, flush: bool) -> Iterator[SketchBatch]:
        if self.waiting:
            self.sketched.append(SketchBatch.of_articles(self.waiting))
            self.rows += len(self.waiting)
            self.waiting = []
        if self.sketched and (flush or self.rows >= self.batch):
            yield SketchBatch.concat(self.sketched)
            self.sketched, self.rows = [], 0


def _as_dedup(decision: Decision) -> Dedup:
    return Dedup(
        copies=decision.copies,
        duplicate_of=decision.duplicate_of,
        kind=decision.kind,
        similarity=decision.similarity,
    )


class SketchArticles(beam.PTransform):
    """Articles in; :class:`SketchBatch` elements of up to ``batch`` sketches out."""

    def __init__(self, batch: int = 10_000) -> None:
        super().__init__()
        self.batch = batch

    def expand(self, articles):
        return articles | beam.ParDo(_SketchFn(self.batch))


class History(Protocol):
    """Where the lake's history comes from: :class:`connectors.lake_index.LakeHistory`."""

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
    join a cluster), and ``index``, one :class:`~pipeline.records.IndexBatch` of the entries
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
