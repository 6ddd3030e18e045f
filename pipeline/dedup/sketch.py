"""What deduplication needs of an article: its sketch, about 300 bytes, never its body.

Guarantees: every worker and every run sketches an article the same way (MinHash over the
folded body's word 5-shingles, :mod:`pipeline.core.minhash`), so a sketch made now is
comparable with the lake's index entries made by earlier runs; an article's place in the keep
order (published day, drop file name, URI, position) depends on neither file order nor bundles
nor workers. Sketches cross stage boundaries in batches (:class:`SketchBatch`), never one by one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import apache_beam as beam
import numpy as np

from connectors.inputs import item_identity
from pipeline.core import minhash
from pipeline.core.bundles import in_global_window
from pipeline.core.records import Article, IndexBatch, article_key, ids_array, segment_key
from pipeline.core.text import fold

__all__ = ["ArticleSketch", "SketchArticles", "SketchBatch", "sketch_article"]


@dataclasses.dataclass(frozen=True)
class ArticleSketch:
    """What deduplication needs of an article: no body, about 300 bytes."""

    key: str
    order: tuple[int, str, str, int]  # (published day, drop file name, uri, position)
    id: str
    bands: bytes
    sketch: bytes
    links: tuple[str, ...] = ()  # the feed item it was: its guid, else its link


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
    """The feed item the article was: its guid, else its link
    (:func:`~connectors.inputs.item_identity`)."""
    identity = item_identity(article.source.guid, article.source.item_url)
    return (identity,) if identity else ()


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
        """The :func:`~pipeline.core.records.article_key` of a row."""
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


class SketchArticles(beam.PTransform):
    """Articles in; :class:`SketchBatch` elements of up to ``batch`` sketches out."""

    def __init__(self, batch: int = 10_000) -> None:
        super().__init__()
        self.batch = batch

    def expand(self, articles):
        return articles | beam.ParDo(_SketchFn(self.batch))
