"""Write records into the Hive-partitioned Avro lake.

Guarantees: one Avro container file (deflate by default, writer schema embedded) per
partition per run, named ``<run_id>-00000-of-00001.avro``; each file is written in the run's
staging folder and appears in its partition folder by a single rename, so readers never see
a partial file; a rename that does not happen fails the run instead of being logged.

Articles, the bulk of a run, never wait in memory for deduplication to decide. Each
article is encoded to Avro once, as it arrives, in two pieces cut where the ``dedup`` field
goes (:class:`ArticleEncoder`, with functions compiled from the schema by
:mod:`pipeline.avro_binary`), and staged into a *part* (a pickled list of encoded articles,
one partition group's, in the run's staging folder); only ``(group, part path)`` crosses
the stage boundary. Once the decisions are known, one DoFn per group streams the group's
parts into the published files, putting each article's encoded dedup between its pieces and
handing whole blocks to fastavro's writer; the duplicates it finds are staged as parts
again and published per ``dt`` the same way. Memory holds a bounded buffer of parts being
filled, never the run (:class:`PublishArticles`). Rejects and index entries are encoded by
the same compiled functions.

The run's index entries are one element, written as one file (:class:`WriteIndex`).
Rejects, fewer, are grouped by partition with a GroupByKey and each group is written by one
DoFn (:class:`WriteToLake`). ``fileio.WriteToFiles`` would
do the same but matches its temp folder once per destination (quadratic in partitions, 3 s
of a 5,000-article run with 470 partitions), needs flat names for nested partitions and
logs a failed rename at DEBUG (notes/beam-2.77-local.md).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import logging
import pickle
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any, NamedTuple, Protocol

import apache_beam as beam
import fastavro.write
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

import schemas
from connectors.lake_index import INDEX_FOLDER
from connectors.lake_json import make_folder
from pipeline import __version__
from pipeline.avro_binary import ISAL_LEVEL, record_encoder, write_deflate_block
from pipeline.bundles import in_global_window
from pipeline.dedup import article_key
from pipeline.gazetteer import REGION_SLUGS
from pipeline.records import (
    Article,
    Dedup,
    IndexBatch,
    IndexEntry,
    Reject,
    is_duplicate,
    partition_date,
    primary_topic,
)
from pipeline.topics import taxonomy

__all__ = [
    "BLOCK_BYTES",
    "CODECS",
    "DEFLATE_LEVEL",
    "PARTITION_KEYS",
    "ArticleEncoder",
    "LakeOutput",
    "PublishArticles",
    "PublishedFile",
    "StagedArticle",
    "WriteIndex",
    "WriteToLake",
    "avro_writer",
    "destination_of",
    "file_name",
    "kind_of",
    "parse_partition_keys",
    "partition_of",
    "stage_article",
]

CODECS = ("deflate", "snappy", "null")  # the codecs DuckDB reads as well as Spark and avro
# Level 1 writes deflate about twice as fast as the default 6 (70 against 145 us an article
# measured here) for files about 10% larger; at level 1 ISA-L's deflate does it in about a
# quarter of zlib's time (avro_binary.ISAL_LEVEL).
DEFLATE_LEVEL = 1
# Bytes of records per Avro block (fastavro's default is 16,000). 64,000 is the Java
# implementation's default: at deflate level 1 it makes article files 12% smaller and writing
# a little faster than 16,000 (measured on 3,000 generated articles).
BLOCK_BYTES = 64_000
PARTITION_KEYS = ("dt", "region", "topic")
_LOG = logging.getLogger(__name__)
# fastavro's compiled Writer calls block_writer(fo, data, level); its pure-Python fallback,
# used where the extension is missing, passes an encoder instead, so it keeps its own.
_COMPILED_WRITER = fastavro.write.Writer.__module__ == "fastavro._write"
_SCHEMAS = {
    "articles": "Article",
    "duplicates": "Article",
    "rejects": "Reject",
    INDEX_FOLDER: "IndexEntry",
}


@dataclasses.dataclass(frozen=True)
class PublishedFile:
    """A file the run put into the lake."""

    path: str
    kind: str
    partition: str


def kind_of(record: Article | Reject | IndexEntry) -> str:
    """The lake folder a record belongs in: articles, duplicates, rejects or _index."""
    if isinstance(record, Reject):
        return "rejects"
    if isinstance(record, IndexEntry):
        return INDEX_FOLDER
    return "duplicates" if is_duplicate(record) else "articles"


def partition_of(
    record: Article | Reject | IndexEntry, keys: tuple[str, ...] = PARTITION_KEYS
) -> str:
    """The partition path below the kind folder, built from controlled values only.

    Kept articles are partitioned by ``keys`` (a subset of :data:`PARTITION_KEYS`, in the
    order given); duplicates and rejects by ``dt`` alone; index entries not at all. A value
    outside its vocabulary, which the classifier never makes, becomes ``unknown``.
    """
    if isinstance(record, IndexEntry):
        return ""
    date = f"dt={partition_date(record).isoformat()}"
    if not isinstance(record, Article) or is_duplicate(record):
        return date
    values = {
        "dt": date,
        "region": f"region={_controlled(record.location.region, REGION_SLUGS)}",
        "topic": f"topic={_controlled(primary_topic(record), taxonomy().slugs)}",
    }
    return "/".join(values[key] for key in keys)


def _controlled(value: str, vocabulary: Collection[str]) -> str:
    return value if value in vocabulary else "unknown"


def parse_partition_keys(text: str) -> tuple[str, ...]:
    """``"dt,region,topic"`` as a tuple, checked: known keys, no repeats, at least one."""
    keys = tuple(key.strip() for key in text.split(",") if key.strip())
    unknown = [key for key in keys if key not in PARTITION_KEYS]
    if not keys or unknown or len(set(keys)) != len(keys):
        raise ValueError(
            f"partition keys must be some of {', '.join(PARTITION_KEYS)}, each once; got {text!r}"
        )
    return keys


def file_name(run_id: str, shard: int, shards: int) -> str:
    """The deterministic name of a run's data file within a partition."""
    return f"{run_id}-{shard:05d}-of-{shards:05d}.avro"


def avro_writer(
    fh, schema_name: str, codec: str = "deflate", level: int = DEFLATE_LEVEL
) -> fastavro.write.Writer:
    """A fastavro writer on ``fh`` with the writer schema embedded, its version, and
    ``feedlake.schema_version`` and ``feedlake.version`` in the file metadata. ``level`` is
    the deflate level (ignored by other codecs); level 1 deflates with ISA-L."""
    writer = fastavro.write.Writer(
        fh,
        schemas.load(schema_name),
        codec=codec,
        compression_level=level if codec == "deflate" else None,
        sync_interval=BLOCK_BYTES,
        metadata={
            "feedlake.schema_version": str(schemas.version(schema_name)),
            "feedlake.version": __version__,
        },
    )
    if codec == "deflate" and level == ISAL_LEVEL and _COMPILED_WRITER:
        writer.block_writer = write_deflate_block
    return writer


def destination_of(record: Article | Reject | IndexEntry, keys: tuple[str, ...]) -> str:
    """The folder below the lake root a record's file goes to, e.g. ``rejects/dt=2025-08-29``."""
    partition = partition_of(record, keys)
    return f"{kind_of(record)}/{partition}" if partition else kind_of(record)


@dataclasses.dataclass(frozen=True)
class LakeOutput:
    """Where and how a run writes.

    Args:
        lake: the lake's root (a local folder or a Beam filesystem URI).
        staging: a folder inside the lake, private to this run, for files being written.
        run_id: names the files; the same run id gives the same names.
        codec: Avro codec, one of :data:`CODECS`.
        level: deflate level, 1 (fastest) to 9 (smallest).
    """

    lake: str
    staging: str
    run_id: str
    codec: str = "deflate"
    level: int = DEFLATE_LEVEL

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"codec must be one of {', '.join(CODECS)}, not {self.codec!r}")
        if not 1 <= self.level <= 9:
            raise ValueError(f"deflate level must be 1 to 9, not {self.level}")
        if not self.run_id or "/" in self.run_id:
            raise ValueError(f"run_id must be a plain name, not {self.run_id!r}")


class _EncodedBlock(NamedTuple):
    bytes_: io.BytesIO
    num_records: int


class _StagedFile:
    """One data file of the run: written in the staging folder, then renamed into its
    partition in one step, so readers never see it partial."""

    def __init__(self, output: LakeOutput, destination: str):
        self.destination = destination
        name = file_name(output.run_id, 0, 1)
        self.staged = FileSystems.join(output.staging, "files", *destination.split("/"), name)
        self.target = FileSystems.join(output.lake, *destination.split("/"), name)
        make_folder(self.staged.rsplit("/", 1)[0])
        self.fh = FileSystems.create(self.staged, compression_type=CompressionTypes.UNCOMPRESSED)
        schema = _SCHEMAS[destination.split("/", 1)[0]]
        self.writer = avro_writer(self.fh, schema, output.codec, output.level)
        self.encode = encoder_for(schema)
        self.count = 0
        self.pending: list[bytes] = []  # pieces of encoded records not yet in a block
        self.pending_bytes = 0
        self.pending_records = 0

    def write(self, record: Article | Reject | IndexEntry) -> None:
        self.write_encoded(self.encode(record))

    def write_encoded(self, *pieces: bytes) -> None:
        """Add a record already encoded under the file's schema (its pieces joined make it)."""
        self.pending.extend(pieces)
        self.pending_bytes += sum(map(len, pieces))
        self.pending_records += 1
        self.count += 1
        if self.pending_bytes >= BLOCK_BYTES:
            self._write_block()

    def _write_block(self) -> None:
        # Writer.write_block takes a block as fastavro.block_reader yields it and reads
        # only these two attributes; it compresses and frames the block as write() does.
        block = _EncodedBlock(io.BytesIO(b"".join(self.pending)), self.pending_records)
        self.writer.write_block(block)
        self.pending, self.pending_bytes, self.pending_records = [], 0, 0

    def publish(self) -> PublishedFile:
        if self.pending_records:
            self._write_block()
        self.writer.flush()
        self.fh.close()
        make_folder(self.target.rsplit("/", 1)[0])
        FileSystems.rename([self.staged], [self.target])
        if not FileSystems.exists(self.target):
            raise OSError(f"{self.staged} was renamed to {self.target} but it does not exist")
        _LOG.debug("wrote %s (%d records)", self.target, self.count)
        kind, _, partition = self.destination.partition("/")
        return PublishedFile(path=self.target, kind=kind, partition=partition)


def _publish(output: LakeOutput, destination: str, records: Iterable) -> PublishedFile:
    """Write ``records`` into ``destination`` as one published file."""
    staged = _StagedFile(output, destination)
    for record in records:
        staged.write(record)
    return staged.publish()


class _WritePartitionFn(beam.DoFn):
    """Writes one partition's records to a staged file, then renames it into place."""

    def __init__(self, output: LakeOutput) -> None:
        self.output = output

    def process(self, grouped: tuple[str, Iterable]) -> Iterator[PublishedFile]:
        destination, records = grouped
        yield _publish(self.output, destination, records)


class WriteToLake(beam.PTransform):
    """Records in; one :class:`PublishedFile` per file put in the lake out.

    Args:
        output: where and how to write.
        partition_by: the article partition keys, in folder order.
    """

    def __init__(self, output: LakeOutput, partition_by: tuple[str, ...] = PARTITION_KEYS):
        super().__init__()
        _check_partition_keys(partition_by)
        self.output = output
        self.partition_by = tuple(partition_by)

    def expand(self, records):
        keys = self.partition_by
        return (
            records
            | "Key by partition" >> beam.Map(lambda record: (destination_of(record, keys), record))
            | "Group by partition" >> beam.GroupByKey()
            | "Write and publish files" >> beam.ParDo(_WritePartitionFn(self.output))
        )


# Parts: pickled lists of encoded articles (:class:`StagedArticle`) of one group of partitions
# (those below one top-level folder, e.g. articles/dt=2025-08-29), staged until the decisions
# are known.


class _Decisions(Protocol):
    def get(self, key: str) -> Dedup | None: ...


@functools.cache
def encoder_for(name: str) -> Callable[[Any], bytes]:
    """The compiled Avro encoder of ``feedlake.<name>`` records, one per process."""
    return record_encoder(schemas.expanded(name))


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


def group_of(destination: str) -> str:
    """The group a destination's parts go to: its kind and first partition folder."""
    return "/".join(destination.split("/", 2)[:2])


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


def _read_parts(paths: Iterable[str]) -> Iterator[StagedArticle]:
    for path in sorted(paths):
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            # our own file, written by _write_part in this run
            yield from map(StagedArticle._make, pickle.load(fh))


class _Parts:
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


class _StageArticlesFn(beam.DoFn):
    """Articles in; ``(group, part path)`` out, a part per group per spill."""

    def __init__(self, staging: str, partition_by: tuple[str, ...], limit: int) -> None:
        self.staging = staging
        self.partition_by = partition_by
        self.limit = limit

    def setup(self) -> None:
        self.encoder = ArticleEncoder()

    def start_bundle(self) -> None:
        self.parts = _Parts(self.staging, self.limit)

    def process(self, article: Article) -> Iterator[tuple[str, str]]:
        yield from self.parts.add(stage_article(article, self.encoder, self.partition_by))

    def finish_bundle(self):
        for staged in self.parts.flush():
            yield in_global_window(staged)


class _PublishGroupFn(beam.DoFn):
    """One group's parts into one published file per partition.

    With ``decisions`` (articles): kept articles are written with their copy count, and
    duplicates go to ``duplicates/dt=`` of their published day, with counts of outcomes per
    input. When the group is one day (articles partitioned by ``dt`` first), this group
    holds all of that day's duplicates and writes them itself; otherwise they are staged
    again, as parts of their day's group. Without (duplicates): every article is written
    with the dedup it was staged with.
    """

    DUPLICATE_PARTS = "duplicate_parts"
    OUTCOMES = "outcomes"

    def __init__(self, output: LakeOutput, limit: int) -> None:
        self.output = output
        self.limit = limit

    def setup(self) -> None:
        self.encoder = ArticleEncoder()

    def process(self, grouped: tuple[str, Iterable[str]], decisions: _Decisions | None = None):
        group, paths = grouped
        one_day = group.split("/")[1].startswith("dt=")
        files: dict[str, _StagedFile] = {}
        duplicates = _Parts(self.output.staging, self.limit)
        staged: list[tuple[str, str]] = []
        outcomes: Counter[tuple[str, str]] = Counter()
        for article in _read_parts(paths):
            destination, dedup = article.destination, article.dedup
            if decisions is not None:
                decided = decisions.get(article.key)
                dedup = self.encoder.dedup(decided) if decided else self.encoder.undecided
                if decided is not None and decided.duplicate_of is not None:
                    outcomes[article.uri, f"duplicates:{decided.kind}"] += 1
                    destination = f"duplicates/dt={article.day}"  # as partition_of says
                    if not one_day:
                        duplicate = article._replace(destination=destination, dedup=dedup)
                        staged.extend(duplicates.add(duplicate))
                        continue
                else:
                    outcomes[article.uri, "articles"] += 1
            if destination not in files:
                files[destination] = _StagedFile(self.output, destination)
            files[destination].write_encoded(article.head, dedup, article.tail)
        for destination in sorted(files):
            yield files[destination].publish()
        staged.extend(duplicates.flush())
        for part in staged:
            yield beam.pvalue.TaggedOutput(self.DUPLICATE_PARTS, part)
        for outcome in outcomes.items():
            yield beam.pvalue.TaggedOutput(self.OUTCOMES, outcome)


class _PublishIndexFn(beam.DoFn):
    def __init__(self, output: LakeOutput) -> None:
        self.output = output

    def process(self, batch: IndexBatch) -> Iterator[PublishedFile]:
        if len(batch):
            yield _publish(self.output, INDEX_FOLDER, batch)


class WriteIndex(beam.PTransform):
    """The run's one :class:`~pipeline.records.IndexBatch` in; its ``_index/`` file out (none
    when the run kept no article)."""

    def __init__(self, output: LakeOutput) -> None:
        super().__init__()
        self.output = output

    def expand(self, batches):
        return batches | "Publish the index" >> beam.ParDo(_PublishIndexFn(self.output))


class PublishArticles(beam.PTransform):
    """Classified articles in; their files in the lake out, once ``decisions`` are known.

    Outputs ``files`` (one :class:`PublishedFile` per file, articles and duplicates) and
    ``outcomes``: ``((source uri, label), count)`` with labels ``articles`` and
    ``duplicates:<kind>``, in partial counts to be summed.

    Args:
        decisions: a singleton with ``get(key)``: the :class:`~pipeline.records.Dedup` by
            :func:`~pipeline.records.segment_key` of every article dedup did not simply
            keep (keepers with copies, and duplicates), else None
            (:class:`pipeline.dedup.Decisions`).
        output: where and how to write.
        partition_by: the article partition keys, in folder order.
        buffered: how many records a worker holds before it stages them as parts.
    """

    def __init__(
        self,
        decisions: beam.PCollection,
        output: LakeOutput,
        partition_by: tuple[str, ...] = PARTITION_KEYS,
        buffered: int = 2000,
    ) -> None:
        super().__init__()
        _check_partition_keys(partition_by)
        if buffered < 2:
            raise ValueError("PublishArticles: buffered must be at least 2")
        self.decisions = decisions
        self.output = output
        self.partition_by = tuple(partition_by)
        self.buffered = buffered

    def expand(self, articles):
        publish = _PublishGroupFn(self.output, self.buffered)
        staging = self.output.staging
        published = (
            articles
            | "Stage articles as parts"
            >> beam.ParDo(_StageArticlesFn(staging, self.partition_by, self.buffered))
            | "Group parts" >> beam.GroupByKey()
            | "Publish kept articles"
            >> beam.ParDo(publish, beam.pvalue.AsSingleton(self.decisions)).with_outputs(
                publish.DUPLICATE_PARTS, publish.OUTCOMES, main="files"
            )
        )
        duplicate_files = (
            published[publish.DUPLICATE_PARTS]
            | "Group duplicate parts" >> beam.GroupByKey()
            | "Publish duplicates" >> beam.ParDo(publish)
        )
        files = (published["files"], duplicate_files) | "Gather files" >> beam.Flatten()
        return {"files": files, "outcomes": published[publish.OUTCOMES]}


def _check_partition_keys(partition_by: tuple[str, ...]) -> None:
    if not partition_by or not set(partition_by) <= set(PARTITION_KEYS):
        raise ValueError(f"partition_by must be some of {PARTITION_KEYS}")
