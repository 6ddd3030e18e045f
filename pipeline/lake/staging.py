"""Articles staged while deduplication decides: encoded once, spilled to parts.

Guarantees: an article is encoded to Avro once, as it arrives, in two pieces cut where the
``dedup`` field goes (:class:`ArticleEncoder`); at most a bounded number of articles wait in
a worker's memory before they are written as a part in the run's staging folder; a retried
bundle that stages the same articles writes the same part.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

import schemas
from connectors.lake_json import make_folder
from pipeline.avro_binary import record_encoder
from pipeline.dedup import article_key
from pipeline.lake.paths import destination_of, group_of
from pipeline.records import Article, Dedup

__all__ = ["ArticleEncoder", "Parts", "StagedArticle", "read_parts", "stage_article"]

class ArticleEncoder:
    """Articles to Avro binary in two pieces: the fields before ``dedup`` and those after.

    Avro writes a record's fields one after another with nothing between, so ``head +
    dedup + tail`` is the article's encoding under the Article schema, whatever its dedup:
    an article is encoded once, before deduplication decides, and never decoded again.
    """

    def __init__(self) -> None:
        schema = schemas.expanded("Article")
        names = [field["name"] for field in schema["fields"]]
        cut = names.index("dedup")
        self._head = record_encoder(schema, names[:cut])
        self._tail = record_encoder(schema, names[cut + 1 :])
        self._dedup = record_encoder(schema["fields"][cut]["type"])
        self.undecided = self.dedup(None)  # the default: kept, no copies

    def pieces(self, article: Article) -> tuple[bytes, bytes]:
        """The head and tail of ``article`` (its ``dedup`` is left out)."""
        return self._head(article), self._tail(article)

    def dedup(self, dedup: Dedup | None) -> bytes:
        """The encoded ``dedup`` field; None is the default (kept with no copies)."""
        return self._dedup(dedup or Dedup())


class StagedArticle(NamedTuple):
    """An article as staged: where it goes, what publishing needs to know of it, and its
    encoding (:class:`ArticleEncoder`). ``dedup`` is None until the decisions are known."""

    destination: str
    key: str  # its article_key, which the decisions go by
    uri: str
    day: str  # published date, ISO: a duplicate's dt= partition
    head: bytes
    tail: bytes
    dedup: bytes | None = None


def stage_article(
    article: Article, encoder: ArticleEncoder, partition_by: tuple[str, ...]
) -> StagedArticle:
    """``article`` encoded, with its destination under ``partition_by``."""
    head, tail = encoder.pieces(article)
    return StagedArticle(
        destination=destination_of(article, partition_by),
        key=article_key(article),
        uri=article.lineage.source_uri,
        day=article.published_date.isoformat(),
        head=head,
        tail=tail,
    )



def _write_part(staging: str, group: str, articles: list[StagedArticle]) -> str:
    """Stage ``articles`` as one part; the name is a hash of their keys, so a retried bundle
    that stages the same articles writes the same file."""
    digest = hashlib.sha1()
    for article in articles:
        digest.update(article.key.encode())
    path = FileSystems.join(
        staging, "parts", *group.split("/"), f"{digest.hexdigest()[:20]}.pickle"
    )
    make_folder(path.rsplit("/", 1)[0])
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        # plain tuples: the pickle names no class, and _read_parts rebuilds StagedArticle
        pickle.dump([tuple(article) for article in articles], fh, pickle.HIGHEST_PROTOCOL)
    return path


def read_parts(paths: Iterable[str]) -> Iterator[StagedArticle]:
    for path in sorted(paths):
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            # our own file, written by _write_part in this run
            yield from map(StagedArticle._make, pickle.load(fh))


class Parts:
    """Staged articles buffered per group, spilled to parts when they grow past a bound.

    At most ``limit`` articles wait in memory: when the buffers reach it, the largest groups
    are staged until half remain, so parts are as large as memory allows and few per group.
    """

    def __init__(self, staging: str, limit: int) -> None:
        self.staging = staging
        self.limit = limit
        self.buffers: dict[str, list[StagedArticle]] = {}
        self.held = 0

    def add(self, article: StagedArticle) -> Iterator[tuple[str, str]]:
        self.buffers.setdefault(group_of(article.destination), []).append(article)
        self.held += 1
        if self.held >= self.limit:
            by_size = sorted(self.buffers, key=lambda g: len(self.buffers[g]), reverse=True)
            for group in by_size:
                if self.held <= self.limit // 2:
                    break
                yield self._stage(group)

    def flush(self) -> Iterator[tuple[str, str]]:
        for group in sorted(self.buffers):
            yield self._stage(group)

    def _stage(self, group: str) -> tuple[str, str]:
        articles = self.buffers.pop(group)
        self.held -= len(articles)
        return group, _write_part(self.staging, group, articles)


