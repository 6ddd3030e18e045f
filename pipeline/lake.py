"""Write records into the Hive-partitioned Avro lake.

Guarantees: one Avro container file (deflate by default, writer schema embedded) per
partition per run, named ``<run_id>-<shard>-of-<shards>.avro``; each file appears in its
partition folder by a single rename from the run's staging folder, so readers never see a
partial file. Beam's ``WriteToFiles`` writes the staged files (it cannot create nested
partition folders itself, see notes/beam-2.77-local.md); :class:`WriteToLake` publishes
them and fails, instead of logging, when a rename does not happen.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterator

import apache_beam as beam
import fastavro
from apache_beam.io import fileio
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.value_provider import StaticValueProvider

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
    "AvroSink",
    "PublishedFile",
    "WriteToLake",
    "file_name",
    "kind_of",
    "parse_partition_keys",
    "partition_of",
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
_STAGED_SEPARATOR = "~"


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
        "region": f"region={_controlled(record.region.region, REGION_SLUGS)}",
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


class AvroSink(fileio.FileSink):
    """A ``FileSink`` writing one Avro container file with fastavro."""

    def __init__(self, schema_name: str, codec: str = "deflate") -> None:
        if codec not in CODECS:
            raise ValueError(f"AvroSink: codec must be one of {', '.join(CODECS)}, not {codec!r}")
        self.schema_name = schema_name
        self.codec = codec
        self._writer: fastavro.write.Writer | None = None

    def open(self, fh) -> None:
        self._writer = fastavro.write.Writer(
            fh,
            schemas.load(self.schema_name),
            codec=self.codec,
            metadata={
                "feedlake.schema_version": str(schemas.version(self.schema_name)),
                "feedlake.version": __version__,
            },
        )

    def write(self, record: Article | Reject | IndexEntry) -> None:
        self._writer.write(to_avro(record))

    def flush(self) -> None:
        self._writer.flush()


def _destination_for(keys: tuple[str, ...]) -> Callable[[Article | Reject | IndexEntry], str]:
    def destination(record: Article | Reject | IndexEntry) -> str:
        partition = partition_of(record, keys)
        return f"{kind_of(record)}/{partition}" if partition else kind_of(record)

    return destination


def _sink_for(codec: str) -> Callable[[str], AvroSink]:
    def make(destination: str) -> AvroSink:
        return AvroSink(_SCHEMAS[destination.split("/", 1)[0]], codec)

    return make


def _staged_naming(run_id: str):
    def name(window, pane, shard_index, total_shards, compression, destination) -> str:
        flat = destination.replace("/", _STAGED_SEPARATOR)
        return f"{flat}{_STAGED_SEPARATOR}{file_name(run_id, shard_index, total_shards)}"

    return name


class _PublishFileFn(beam.DoFn):
    def __init__(self, lake: str, staging: str, run_id: str) -> None:
        self.lake = lake
        self.staging = staging
        self.run_id = run_id

    def process(self, staged: fileio.FileResult) -> Iterator[PublishedFile]:
        folder = FileSystems.join(self.lake, *staged.destination.split("/"))
        target = FileSystems.join(
            folder, file_name(self.run_id, staged.shard_index, staged.total_shards)
        )
        source = FileSystems.join(self.staging, staged.file_name)
        _make_folder(folder)
        if FileSystems.exists(source):
            FileSystems.rename([source], [target])
        elif not FileSystems.exists(target):  # a retried bundle may have moved it already
            raise OSError(f"staged file {source} vanished before it reached {target}")
        kind, _, partition = staged.destination.partition("/")
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
        if not run_id or "/" in run_id or _STAGED_SEPARATOR in run_id:
            raise ValueError(f"WriteToLake: run_id must be a plain name, not {run_id!r}")
        self.lake = lake
        self.staging = staging
        self.run_id = run_id
        self.codec = codec

    def expand(self, records):
        staged = records | "Write staged Avro files" >> fileio.WriteToFiles(
            path=self.staging,
            destination=_destination_for(self.partition_by),
            sink=_sink_for(self.codec),
            file_naming=_staged_naming(self.run_id),
            shards=1,
            max_writers_per_bundle=0,
            temp_directory=StaticValueProvider(str, FileSystems.join(self.staging, "tmp")),
        )
        return staged | "Publish files into partitions" >> beam.ParDo(
            _PublishFileFn(self.lake, self.staging, self.run_id)
        )
