"""Read the lake's deduplication index (``<lake>/_index/*.avro``) through Beam's filesystems.

Guarantees: one element per index file, an :class:`~pipeline.records.IndexBatch` of all its
entries (a file is one run's kept articles, so the elements are few and the entries never
travel one by one). A lake with no index yet gives no element.
"""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
import fastavro
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

import schemas
from pipeline.records import IndexBatch, IndexEntry

__all__ = ["INDEX_FOLDER", "ReadLakeIndex", "index_pattern", "read_index_file"]

INDEX_FOLDER = "_index"


def index_pattern(lake: str) -> str:
    return FileSystems.join(lake, INDEX_FOLDER, "*.avro")


def read_index_file(path: str) -> list[IndexEntry]:
    """Every entry of one index file."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        reader = fastavro.reader(fh, reader_schema=schemas.load("IndexEntry"))
        return [IndexEntry(r["id"], r["bands"], r["sketch"], tuple(r["links"])) for r in reader]


def _read_matched(readable: fileio.ReadableFile) -> Iterator[IndexBatch]:
    yield IndexBatch.of(read_index_file(readable.metadata.path))


class ReadLakeIndex(beam.PTransform):
    """The lake root in the constructor; one :class:`IndexBatch` per index file out."""

    def __init__(self, lake: str) -> None:
        super().__init__()
        if not lake:
            raise ValueError("ReadLakeIndex: lake must not be empty")
        self.lake = lake

    def expand(self, pbegin):
        return (
            pbegin
            | "List index pattern" >> beam.Create([index_pattern(self.lake)], reshuffle=False)
            | "Match index files"
            >> fileio.MatchAll(empty_match_treatment=fileio.EmptyMatchTreatment.ALLOW)
            | "Open index files" >> fileio.ReadMatches()
            | "Read index entries" >> beam.FlatMap(_read_matched)
        )
