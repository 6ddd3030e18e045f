"""Avro container files of the lake: how they are written, staged and published.

Guarantees: one Avro container file (deflate by default, writer schema embedded with its
version) per partition per run, named ``<run_id>-00000-of-00001.avro``; workers write each
file whole in the run's staging folder and report where it will be published; it appears in
its partition folder only when the run commits, by a single rename
(:mod:`pipeline.lake.commit`), so readers never see a partial or uncommitted file.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from types import SimpleNamespace
from typing import Any, NamedTuple

import fastavro.write
from apache_beam.io.filesystems import FileSystems

import schemas
from pipeline.core.avro_binary import (
    ISAL_LEVEL,
    count_container_records,
    long_bytes,
    record_encoder,
    write_deflate_block,
)
from pipeline.core.records import Article, IndexEntry, Reject
from pipeline.core.version import __version__
from pipeline.lake.fileops import open_new, open_read
from pipeline.lake.history import CATALOG_FOLDER, INDEX_FOLDER
from pipeline.lake.names import run_id_problem
from pipeline.lake.paths import PublishedFile, file_name, staged_file

__all__ = [
    "BLOCK_BYTES",
    "CODECS",
    "DEFLATE_LEVEL",
    "ContainerFile",
    "EncodedBlock",
    "LakeOutput",
    "StagedFile",
    "avro_writer",
    "count_records",
    "counted",
    "encoder_for",
    "write_dicts",
    "write_file",
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

_LOG = logging.getLogger(__name__)
# fastavro's compiled Writer calls block_writer(fo, data, level); its pure-Python fallback,
# used where the extension is missing, passes an encoder instead, so it keeps its own.
_COMPILED_WRITER = fastavro.write.Writer.__module__ == "fastavro._write"
_SCHEMAS = {
    "articles": "Article",
    "duplicates": "Article",
    "rejects": "Reject",
    INDEX_FOLDER: "IndexBlock",
    CATALOG_FOLDER: "CatalogEntry",
}


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
        if (problem := run_id_problem(self.run_id)) is not None:
            raise ValueError(f"run_id: {problem}")


class EncodedBlock(NamedTuple):
    bytes_: io.BytesIO
    num_records: int


_SYNC_BYTES = 16


class _Container(NamedTuple):
    header: bytes  # all of a file's header but its sync marker
    block_writer: Callable[..., None]
    level: int | None
    schema: dict[str, Any]  # parsed
    schema_json: str  # as the header holds it


@functools.cache
def _container(schema_name: str, codec: str, level: int) -> _Container:
    """What every ``schema_name`` file shares, from a fastavro writer made once per process
    on a buffer: its header (each file draws its own sync marker) and its block writer.
    Making a fastavro writer per file dumps the schema to JSON each time (about 130 of its
    180 us); a year's backfill makes 5,000 files."""
    buffer = io.BytesIO()
    writer = avro_writer(buffer, schema_name, codec, level)
    return _Container(
        buffer.getvalue()[:-_SYNC_BYTES],
        writer.block_writer,
        writer.compression_level,
        writer.schema,
        writer.metadata["avro.schema"],
    )


class ContainerFile:
    """One Avro container file written block by block through a shared writer
    (:func:`_container`): the same bytes fastavro's ``Writer.write_block`` writes.

    Args:
        fh: where the file goes (written from its start).
        schema_name, codec, level: as :func:`avro_writer` takes them.
        sync: the file's sync marker (16 bytes; random by default).
    """

    def __init__(
        self, fh, schema_name: str, codec: str, level: int, sync: bytes | None = None
    ) -> None:
        self.template = _container(schema_name, codec, level)
        self.fh = fh
        self.sync = sync or os.urandom(_SYNC_BYTES)
        fh.write(self.template.header + self.sync)

    def write_block(self, data: bytes, records: int) -> None:
        """One block of ``records`` records, encoded back to back in ``data``."""
        self.fh.write(long_bytes(records))
        self.template.block_writer(self.fh, data, self.template.level)
        self.fh.write(self.sync)


class StagedFile:
    """One data file of the run, written in the staging folder; the commit renames it into
    its partition in one step."""

    def __init__(
        self,
        output: LakeOutput,
        destination: str,
        name: str | None = None,
        codec: str | None = None,
    ):
        self.destination = destination
        name = name or file_name(output.run_id, 0, 1)
        self.target = FileSystems.join(output.lake, *destination.split("/"), name)
        self.staged = staged_file(output.staging, f"{destination}/{name}")
        self.fh = open_new(self.staged)
        schema = _SCHEMAS[destination.split("/", 1)[0]]
        self.container = ContainerFile(self.fh, schema, codec or output.codec, output.level)
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

    def write_records(self, data: bytes, records: int) -> None:
        """Add ``records`` records already encoded under the file's schema, back to back in
        ``data`` (a block of another file of the same schema, decompressed)."""
        self.pending.append(data)
        self.pending_bytes += len(data)
        self.pending_records += records
        self.count += records
        if self.pending_bytes >= BLOCK_BYTES:
            self._write_block()

    @property
    def schema(self) -> dict[str, Any]:
        """The file's writer schema, parsed, and as written in its header (JSON)."""
        return self.container.template.schema

    @property
    def schema_json(self) -> str:
        return self.container.template.schema_json

    def _write_block(self) -> None:
        self.container.write_block(b"".join(self.pending), self.pending_records)
        self.pending, self.pending_bytes, self.pending_records = [], 0, 0

    def close(self) -> PublishedFile:
        """Finish the staged file; the file it becomes when the run commits."""
        if self.pending_records:
            self._write_block()
        self.fh.close()
        _LOG.debug("staged %s (%d records)", self.staged, self.count)
        kind, _, partition = self.destination.partition("/")
        return PublishedFile(path=self.target, kind=kind, partition=partition)


def write_file(
    output: LakeOutput,
    destination: str,
    records: Iterable,
    name: str | None = None,
    codec: str | None = None,
) -> PublishedFile:
    """Stage ``records`` as the run's one file of ``destination`` (named ``name``, written
    with ``codec``, else as the run's data files are)."""
    staged = StagedFile(output, destination, name, codec)
    for record in records:
        staged.write(record)
    return staged.close()


def write_dicts(
    output: LakeOutput,
    destination: str,
    records: Iterable[Mapping[str, Any]],
    name: str | None = None,
    codec: str | None = None,
) -> PublishedFile:
    """:func:`write_file` for records built as dicts at the sink (index blocks, catalog
    entries): the compiled encoders read attributes."""
    return write_file(output, destination, map(_attributes, records), name, codec)


def _attributes(record: Mapping[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(**record)


@functools.cache
def encoder_for(name: str) -> Callable[[Any], bytes]:
    """The compiled Avro encoder of ``feedlake.<name>`` records, one per process."""
    return record_encoder(schemas.expanded(name))


def count_records(path: str) -> int:
    """Records in an Avro container file, counted block by block from its framing."""
    with open_read(path) as fh:
        return count_container_records(fh)


def counted(path: str) -> tuple[int | None, str | None]:
    """The records of the Avro file at ``path``, or None and why they cannot be counted
    (``is missing``, ``does not read back as Avro (...)``)."""
    try:
        return count_records(path), None
    except FileNotFoundError:
        return None, "is missing"
    except (OSError, ValueError, EOFError) as error:
        return None, f"does not read back as Avro ({error})"
