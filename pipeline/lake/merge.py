"""Merging a folder's Avro files into one, a block at a time.

Guarantees: the merged file holds every record of its sources, in their order, each encoded
under the lake's current schema: a source of that schema has its blocks copied decompressed,
never decoding a record; a source of another schema version is read through schema
evolution (its fields missing from the current schema take their defaults) and encoded
again. At most one block of a source and one block of the merged file are in memory. A
source that does not read as Avro is refused with its path and what to do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from collections.abc import Iterator

import fastavro
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from fastavro.read import SchemaResolutionError

from pipeline.core.avro_binary import count_container_records
from pipeline.lake.files import StagedFile

__all__ = ["CompactionFailed", "SourceFile", "count_records", "merge_into", "read_source"]

# What fastavro raises on bytes that are not the container they claim to be.
_UNREADABLE = (ValueError, EOFError, KeyError, IndexError, TypeError, SchemaResolutionError)


class CompactionFailed(RuntimeError):
    """A merged file does not hold what the files it replaces hold, or one of those cannot be
    read; nothing was committed."""


@dataclasses.dataclass(frozen=True)
class SourceFile:
    """A data file of the lake: its path, its size, the bytes of its blocks (the file less
    its header, which holds the schema), and its codec."""

    path: str
    size: int
    payload: int
    codec: str


def read_source(path: str, size: int) -> SourceFile:
    """The file at ``path`` (of ``size`` bytes) as a source of a merge: its header read."""
    with _readable(path), _open(path) as fh:
        header = fastavro.block_reader(fh)
        return SourceFile(path, size, size - fh.tell(), header.codec)


def count_records(path: str) -> int:
    """The records of the file at ``path``, counted from its Avro framing."""
    with _readable(path), _open(path) as fh:
        return count_container_records(fh)


def merge_into(staged: StagedFile, source: str) -> None:
    """Append the records of the file ``source`` to ``staged``, one block at a time: blocks
    of the staged file's schema are copied as they are (decompressed, never decoded), other
    files' records are read through schema evolution and encoded in that schema.

    Raises:
        CompactionFailed: ``source`` does not read as Avro, or not as records of that schema.
    """
    schema = staged.schema
    current = json.loads(staged.schema_json)
    with _readable(source):
        with _open(source) as fh:
            blocks = fastavro.block_reader(fh)
            if json.loads(blocks.metadata["avro.schema"]) == current:
                for block in blocks:
                    staged.write_records(block.bytes_.getvalue(), block.num_records)
                return
        with _open(source) as fh:
            for record in fastavro.reader(fh, reader_schema=schema):
                encoded = io.BytesIO()
                fastavro.schemaless_writer(encoded, schema, record)
                staged.write_encoded(encoded.getvalue())


def _open(path: str):
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


@contextlib.contextmanager
def _readable(path: str) -> Iterator[None]:
    """Reading ``path``: what fastavro or the framing raise becomes a CompactionFailed that
    names the file and what to do."""
    try:
        yield
    except _UNREADABLE as error:
        raise CompactionFailed(
            f"{path} does not read as an Avro container file of the lake "
            f"({type(error).__name__}: {error}); nothing was committed: move that file out of "
            "the lake (or restore it from a copy) and compact again"
        ) from None
