"""Write records into the Hive-partitioned Avro lake.

Guarantees: one Avro container file (deflate by default, writer schema embedded) per
partition per run, named ``<run_id>-00000-of-00001.avro``; each file is written in the run's
staging folder and appears in its partition folder by a single rename, so readers never see
a partial file; a rename that does not happen fails the run instead of being logged.

Records are grouped by partition with a GroupByKey and each group is written by one DoFn:
``fileio.WriteToFiles`` would do the same but matches its temp folder once per destination
(quadratic in partitions, 3 s of a 5,000-article run with 470 partitions), needs flat names
for nested partitions and logs a failed rename at DEBUG (notes/beam-2.77-local.md).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Iterable, Iterator

import apache_beam as beam
import fastavro
from apache_beam.io.filesystem import BeamIOError, CompressionTypes
from apache_beam.io.filesystems import FileSystems

import schemas
from connectors.lake_index import INDEX_FOLDER
from pipeline import __version__
from pipeline.gazetteer import REGION_SLUGS
from pipeline.records import (
    Article,
    IndexEntry,
    Reject,
    is_duplicate,
    partition_date,
    primary_topic,
    to_avro,
)
from pipeline.topics import taxonomy

__all__ = [
    "CODECS",
    "PARTITION_KEYS",
    "PublishedFile",
    "WriteToLake",
    "destination_of",
    "file_name",
    "kind_of",
    "parse_partition_keys",
    "partition_of",
    "write_avro",
]

CODECS = ("deflate", "snappy", "null")  # the codecs DuckDB reads as well as Spark and avro
PARTITION_KEYS = ("dt", "region", "topic")
_LOG = logging.getLogger(__name__)
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


def write_avro(fh, schema_name: str, records: Iterable, codec: str = "deflate") -> int:
    """Write ``records`` as one Avro container file to ``fh``; returns how many.

    The writer schema is embedded with its version, and ``feedlake.schema_version`` and
    ``feedlake.version`` go into the file metadata.
    """
    writer = fastavro.write.Writer(
        fh,
        schemas.load(schema_name),
        codec=codec,
        metadata={
            "feedlake.schema_version": str(schemas.version(schema_name)),
            "feedlake.version": __version__,
        },
    )
    count = 0
    for record in records:
        writer.write(to_avro(record))
        count += 1
    writer.flush()
    return count


def destination_of(record: Article | Reject | IndexEntry, keys: tuple[str, ...]) -> str:
    """The folder below the lake root a record's file goes to, e.g. ``rejects/dt=2025-08-29``."""
    partition = partition_of(record, keys)
    return f"{kind_of(record)}/{partition}" if partition else kind_of(record)


class _WritePartitionFn(beam.DoFn):
    """Writes one partition's records to a staged file, then renames it into place."""

    def __init__(self, lake: str, staging: str, run_id: str, codec: str) -> None:
        self.lake = lake
        self.staging = staging
        self.run_id = run_id
        self.codec = codec

    def process(self, grouped: tuple[str, Iterable]) -> Iterator[PublishedFile]:
        destination, records = grouped
        name = file_name(self.run_id, 0, 1)
        staged = FileSystems.join(self.staging, "files", *destination.split("/"), name)
        _make_folder(staged.rsplit("/", 1)[0])
        with FileSystems.create(staged, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            count = write_avro(fh, _SCHEMAS[destination.split("/", 1)[0]], records, self.codec)
        folder = FileSystems.join(self.lake, *destination.split("/"))
        target = FileSystems.join(folder, name)
        _make_folder(folder)
        FileSystems.rename([staged], [target])  # one step: readers never see a partial file
        if not FileSystems.exists(target):
            raise OSError(f"{staged} was renamed to {target} but {target} does not exist")
        kind, _, partition = destination.partition("/")
        _LOG.debug("wrote %s (%d records)", target, count)
        yield PublishedFile(path=target, kind=kind, partition=partition)


def _make_folder(folder: str) -> None:
    if FileSystems.exists(folder):
        return
    try:
        FileSystems.mkdirs(folder)
    except BeamIOError:
        if not FileSystems.exists(folder):  # not a race with another worker: a real failure
            raise


class WriteToLake(beam.PTransform):
    """Articles and rejects in; one :class:`PublishedFile` per file put in the lake out.

    Args:
        lake: the lake's root (a local folder or a Beam filesystem URI).
        staging: a folder inside the lake, private to this run, for files being written.
        run_id: names the files; the same run id gives the same names.
        codec: Avro codec, one of :data:`CODECS`.
        partition_by: the article partition keys, in folder order.
    """

    def __init__(
        self,
        lake: str,
        staging: str,
        run_id: str,
        codec: str = "deflate",
        partition_by: tuple[str, ...] = PARTITION_KEYS,
    ) -> None:
        super().__init__()
        if not partition_by or not set(partition_by) <= set(PARTITION_KEYS):
            raise ValueError(f"WriteToLake: partition_by must be some of {PARTITION_KEYS}")
        self.partition_by = tuple(partition_by)
        if codec not in CODECS:
            raise ValueError(f"WriteToLake: codec must be one of {', '.join(CODECS)}")
        if not run_id or "/" in run_id:
            raise ValueError(f"WriteToLake: run_id must be a plain name, not {run_id!r}")
        self.lake = lake
        self.staging = staging
        self.run_id = run_id
        self.codec = codec

    def expand(self, records):
        keys = self.partition_by
        return (
            records
            | "Key by partition" >> beam.Map(lambda record: (destination_of(record, keys), record))
            | "Group by partition" >> beam.GroupByKey()
            | "Write and publish files"
            >> beam.ParDo(_WritePartitionFn(self.lake, self.staging, self.run_id, self.codec))
        )
