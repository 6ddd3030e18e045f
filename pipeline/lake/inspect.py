"""What a lake holds: partitions, counts, rejects, duplicates and recent runs (DuckDB).

Guarantees: reads only, and reads any lake this package wrote, whatever its ``--partition-by``
layouts, on local disk, S3 or GCS (listed and read through Beam's filesystems, queried by
DuckDB through httpfs): counts by date, region and topic come from the records' own fields
(the partition values are derived from the same fields), and partitions are listed from the
folders, each with its files, bytes and records (counted from the Avro framing); the index's
folders with their entries (ids, feed items or sketches, not blocks). It reads one listing
of the lake (:mod:`pipeline.lake.listing`): folders that are not partitions feedlake writes
are left out and named, a compaction's swap is read as one state, and a read whose files
vanished under it is tried again on a new listing. Backs ``feedlake inspect`` and its
``--html`` report.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

import fastavro
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.core.avro_binary import count_container_records
from pipeline.lake.confine import damaged
from pipeline.lake.description import read_description
from pipeline.lake.documents import read_document
from pipeline.lake.history import INDEX_FOLDER, reading_records
from pipeline.lake.listing import KINDS, LakeFile, Listing, list_lake, read_settled
from pipeline.lake.sql import connect, lake_views
from pipeline.lake.storage import files_below

__all__ = ["index_folders", "inspect_lake", "partitions", "run_sql", "runs"]

# An index block read for its count alone (fastavro skips the other fields).
_COUNTS = {
    "type": "record",
    "name": "IndexBlock",
    "namespace": "feedlake",
    "fields": [{"name": "count", "type": "int"}],
}
# The record fields the partition values are made of (pipeline.lake.paths.partition_of),
# read from the articles' files once: DuckDB opens every file again for each query over
# the view, about 2 ms a file (a year of hourly runs: 17,520 files, 30 to 60 s a query).
_ARTICLE_FACTS = (
    "CREATE TEMP TABLE article_facts AS SELECT CAST(published_date AS VARCHAR) AS dt, "
    "location.region AS region, coalesce(topics[1].top_level, 'unclassified') AS topic "
    "FROM articles"
)
_QUERIES = {
    "articles_by_dt": (
        "SELECT dt, count(*) AS articles FROM article_facts GROUP BY ALL ORDER BY dt"
    ),
    "articles_by_region": (
        "SELECT region, count(*) AS articles FROM article_facts "
        "GROUP BY ALL ORDER BY articles DESC, region"
    ),
    "articles_by_topic": (
        "SELECT topic, count(*) AS articles FROM article_facts "
        "GROUP BY ALL ORDER BY articles DESC, topic"
    ),
    "duplicates_by_kind": (
        "SELECT dedup.kind AS kind, count(*) AS duplicates FROM duplicates "
        "GROUP BY ALL ORDER BY duplicates DESC, kind"
    ),
    "rejects_by_reason": (
        "SELECT stage, reason, count(*) AS rejects FROM rejects "
        "GROUP BY ALL ORDER BY rejects DESC, reason"
    ),
}
# Day by day, for the report's charts.
DAILY = {
    "articles_by_dt_region": (
        "SELECT dt, region, count(*) AS articles FROM article_facts "
        "GROUP BY ALL ORDER BY dt, region"
    ),
    "articles_by_dt_topic": (
        "SELECT dt, topic, count(*) AS articles FROM article_facts GROUP BY ALL ORDER BY dt, topic"
    ),
}


def _rows(con, sql: str) -> list[dict[str, Any]]:
    result = con.execute(sql)
    names = [column[0] for column in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def runs(lake: str, recent: int | None = None) -> list[dict[str, Any]]:
    """The last ``recent`` runs' manifests (every run with None, none with 0), oldest first,
    summarised."""
    folder = FileSystems.join(lake, "_runs")
    if recent == 0 or ("://" not in lake and not os.path.isdir(folder)):
        return []
    paths = [metadata.path for metadata in files_below(folder, "*.json")]
    summaries = []
    for path in paths if recent is None else paths[-recent:]:
        try:
            summaries.append(_summary(read_document(path, "a run manifest")))
        except (KeyError, TypeError, AttributeError) as error:
            raise damaged(
                path, f"is not a run manifest ({type(error).__name__}: {error})"
            ) from None
    return summaries


def _summary(manifest: dict[str, Any]) -> dict[str, Any]:
    counts = manifest.get("counts", {})
    return {
        "run_id": manifest["run_id"],
        "kind": manifest.get("kind", "run"),  # or compaction, tiers, upgrade
        "status": manifest["status"],
        "started": manifest["started"],
        "seconds": manifest.get("seconds"),
        **{k: counts.get(k, 0) for k in ("drops", "feeds", "articles", "duplicates", "rejects")},
        "feeds_by_outcome": counts.get("feeds_by_outcome", {}),
        "rejects_by_reason": counts.get("rejects_by_reason", {}),
    }


def _open(path: str):
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def _entries(file: LakeFile) -> int:
    """The index entries of one index file: its blocks' counts (format 2), or its records
    (format 1: one entry a record, loose in ``_index/``); an index file that does not read
    back is :class:`~pipeline.lake.confine.DamagedLakeFile`."""
    with reading_records(file.path, "IndexBlock"), _open(file.path) as fh:
        if not file.folder:
            return count_container_records(fh)
        return sum(block["count"] for block in fastavro.reader(fh, reader_schema=_COUNTS))


def partitions(lake: str, listing: Listing | None = None) -> list[dict[str, Any]]:
    """Every partition folder of each kind with its files, records and bytes."""
    found: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"files": 0, "records": 0, "bytes": 0}
    )
    for file in (listing or list_lake(lake)).files:
        if file.kind in KINDS:
            entry = found[file.kind, file.folder]
            with _open(file.path) as fh:
                entry["records"] += count_container_records(fh)
            entry["files"] += 1
            entry["bytes"] += file.size
    return [
        {"kind": kind, "partition": folder, **entry}
        for (kind, folder), entry in sorted(found.items())
    ]


def index_folders(lake: str, listing: Listing | None = None) -> list[dict[str, Any]]:
    """Every folder of the deduplication index with its files, entries and bytes."""
    found: dict[str, dict[str, Any]] = defaultdict(lambda: {"files": 0, "entries": 0, "bytes": 0})
    for file in (listing or list_lake(lake)).of(INDEX_FOLDER):
        entry = found[file.folder]
        entry["entries"] += _entries(file)
        entry["files"] += 1
        entry["bytes"] += file.size
    return [{"folder": folder, **entry} for folder, entry in sorted(found.items())]


def _skipped(listing: Listing) -> list[dict[str, Any]]:
    return [{"folder": folder, "files": count} for folder, count in listing.skipped.items()]


def _read(lake: str, listing: Listing, daily: bool) -> dict[str, Any]:
    con = connect(lake)
    files = lake_views(con, lake, listing)
    folders = partitions(lake, listing)
    report: dict[str, Any] = {
        "lake": lake,
        "records": {
            kind: sum(row["records"] for row in folders if row["kind"] == kind) for kind in KINDS
        },
        "files": files,
        "skipped": _skipped(listing),
        "partitions": folders,
        "index": index_folders(lake, listing),
    }
    con.execute(_ARTICLE_FACTS)
    for name, sql in {**_QUERIES, **(DAILY if daily else {})}.items():
        report[name] = _rows(con, sql)
    return report


def inspect_lake(lake: str, recent: int = 10, daily: bool = False) -> dict[str, Any]:
    """Every summary ``feedlake inspect`` prints, as plain data; with ``daily``, also the
    day-by-day counts the HTML report draws, and every run.

    Raises:
        NewerLakeFormat: the lake is of a format this feedlake does not know.
        LakeKeptChanging: files vanished between listing and reading, every time.
    """
    if "://" not in lake and not os.path.isdir(lake):
        raise FileNotFoundError(f"{lake} is not a folder; give --lake a lake's root")
    read_description(lake)  # a lake of a newer format is refused, not misread
    report = read_settled(lake, lambda listing: _read(lake, listing, daily))
    report["runs"] = runs(lake, None if daily else recent)
    return report


def run_sql(lake: str, sql: str) -> tuple[list[str], list[tuple], list[dict[str, Any]]]:
    """Run ``sql`` over the tables ``articles``, ``duplicates`` and ``rejects``: the columns'
    names, the rows, and the folders left out (as in :func:`inspect_lake`'s ``skipped``).

    Raises:
        NewerLakeFormat: the lake is of a format this feedlake does not know.
        LakeKeptChanging: files vanished between listing and reading, every time.
        duckdb.Error: the query failed.
    """
    read_description(lake)

    def query(listing: Listing) -> tuple[list[str], list[tuple], list[dict[str, Any]]]:
        con = connect(lake)
        lake_views(con, lake, listing)
        result = con.execute(sql)
        names = [column[0] for column in result.description]
        return names, result.fetchall(), _skipped(listing)

    return read_settled(lake, query)
