"""Articles staged while deduplication decides: encoded once, spilled to parts.

Guarantees: an article is encoded to Avro once, as it arrives, in two pieces cut where the
``dedup`` field goes (:class:`ArticleEncoder`); at most a bounded number of articles wait in
a worker's memory before they are written as a part in the run's staging folder; a retried
bundle that stages the same articles writes the same part.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import fastavro
import fastavro.write
from apache_beam.io.filesystems import FileSystems
from fastavro.read import SchemaResolutionError

import schemas
from pipeline.core.avro_binary import record_encoder
from pipeline.core.records import Article, Dedup, article_key
from pipeline.lake.fileops import open_new, open_read, remove_folder
from pipeline.lake.files import DEFLATE_LEVEL, ContainerFile, encoder_for
from pipeline.lake.paths import destination_of, group_of, is_destination, staged_name

__all__ = [
    "ArticleEncoder",
    "Parts",
    "StagedArticle",
    "StagingCorrupt",
    "read_parts",
    "remove_parts",
    "stage_article",
]

_PART = "StagedArticle"  # the schema of a part's records
_PARTS = "parts"  # the folder of the run's staging folder they lie in


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


class StagingCorrupt(ValueError):
    """A staged part is not what this run wrote: someone changed the lake's ``_staging``."""


def _write_part(staging: str, group: str, articles: list[StagedArticle]) -> str:
    """Stage ``articles`` as one part, an Avro container of :class:`StagedArticle` records
    (one uncompressed block); the name is a hash of their keys, so a retried bundle that
    stages the same articles writes the same file."""
    digest = hashlib.sha1()
    for article in articles:
        digest.update(article.key.encode())
    name = staged_name(f"{group}/{digest.hexdigest()[:20]}.avro")  # parts lie flat, as files do
    path = FileSystems.join(staging, _PARTS, name)
    encode = encoder_for(_PART)
    with open_new(path) as fh:
        part = ContainerFile(fh, _PART, "null", DEFLATE_LEVEL)
        part.write_block(b"".join(map(encode, articles)), len(articles))
    return path


def remove_parts(staging: str) -> None:
    """Remove the run's parts once the pipeline is done with them: nothing reads them again,
    and parts removed before the commit's sync never reach the disk (a year's backfill
    stages about 70 MB of them; synced, then removed, they cost 2.5 s of unlink)."""
    remove_folder(FileSystems.join(staging, _PARTS))


def read_parts(paths: Iterable[str]) -> Iterator[StagedArticle]:
    """The articles of staged parts, in path order, each checked as data.

    Raises:
        StagingCorrupt: a file is not an Avro container of staged articles, or names a
            destination :func:`~pipeline.lake.paths.destination_of` cannot make.
    """
    checked: set[str] = set()  # a run's parts name few destinations
    for path in sorted(paths):
        with open_read(path) as fh:
            for record in _part_records(path, fh):
                if record["destination"] not in checked and not is_destination(
                    record["destination"]
                ):
                    raise StagingCorrupt(
                        f"staged part {path} names the destination {record['destination']!r}, "
                        f"which feedlake never makes; {_CHANGED}"
                    )
                checked.add(record["destination"])
                yield StagedArticle(**record)


_CHANGED = (
    "someone changed the lake's _staging folder: the run stops, and the next run removes what "
    "this one staged"
)
# What fastavro raises on bytes that are not the container they claim to be.
_UNREADABLE = (ValueError, EOFError, KeyError, IndexError, TypeError, SchemaResolutionError)


def _part_records(path: str, fh) -> Iterator[dict]:
    if fh.read(4) != b"Obj\x01":
        raise StagingCorrupt(f"{path} is not a staged part (no Avro magic); {_CHANGED}")
    fh.seek(0)
    try:
        records = fastavro.reader(fh, reader_schema=schemas.load(_PART))
        if records.writer_schema.get("name") != f"feedlake.{_PART}":
            raise ValueError(f"its records are {records.writer_schema.get('name')!r}")
        yield from records
    except _UNREADABLE as error:
        raise StagingCorrupt(f"{path} is not a staged part ({error}); {_CHANGED}") from None


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
