"""What a lake holds: partitions, counts, rejects, duplicates and recent runs (DuckDB).

Guarantees: reads only, and reads any lake this package wrote, whatever its ``--partition-by``
layouts, on local disk, S3 or GCS (listed and read through Beam's filesystems, queried by
DuckDB through httpfs): counts by date, region and topic come from the records' own fields
(the partition values are derived from the same fields), and partitions are listed from the
folders, each with its files, bytes and records (counted from the Avro framing). Backs
``feedlake inspect`` and its ``--html`` report.
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from typing import Any

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.core.avro_binary import count_container_records
from pipeline.lake.confine import damaged
from pipeline.lake.description import read_description
from pipeline.lake.documents import read_document
from pipeline.lake.history import reading_records
from pipeline.lake.sql import KINDS, avro_files, connect, lake_views
from pipeline.lake.storage import files_below

__all__ = ["inspect_lake", "partitions", "run_sql", "runs"]

# The record fields the partition values are made of (pipeline.lake.paths.partition_of).
_DT = "CAST(published_date AS VARCHAR)"
_REGION = "location.region"
_TOPIC = "coalesce(topics[1].top_level, 'unclassified')"

_QUERIES = {
    "articles_by_dt": (
        f"SELECT {_DT} AS dt, count(*) AS articles FROM articles GROUP BY ALL ORDER BY dt"
    ),
    "articles_by_region": (
        f"SELECT {_REGION} AS region, count(*) AS articles FROM articles "
        "GROUP BY ALL ORDER BY articles DESC, region"
    ),
    "articles_by_topic": (
        f"SELECT {_TOPIC} AS topic, count(*) AS articles FROM articles "
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
        f"SELECT {_DT} AS dt, {_REGION} AS region, count(*) AS articles FROM articles "
        "GROUP BY ALL ORDER BY dt, region"
    ),
    "articles_by_dt_topic": (
        f"SELECT {_DT} AS dt, {_TOPIC} AS topic, count(*) AS articles FROM articles "
        "GROUP BY ALL ORDER BY dt, topic"
    ),
}


def _rows(con, sql: str) -> list[dict[str, Any]]:
    result = con.execute(sql)
    names = [column[0] for column in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def runs(lake: str, recent: int | None = None) -> list[dict[str, Any]]:
    """The last ``recent`` runs' manifests (every run with None), oldest first, summarised."""
    folder = FileSystems.join(lake, "_runs")
    if "://" not in lake and not os.path.isdir(folder):
        return []
    paths = [metadata.path for metadata in files_below(folder, "*.json")]
    summaries = []
    for path in paths[-recent:] if recent else paths:
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


def partitions(lake: str) -> list[dict[str, Any]]:
    """Every partition folder of each kind (and the index) with its files, records, bytes."""
    found: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"files": 0, "records": 0, "bytes": 0}
    )
    for kind in (*KINDS, "_index"):
        top = FileSystems.join(lake, kind)
        for metadata in avro_files(lake, kind):
            relative = metadata.path[len(top) :].strip("/")
            entry = found[kind, relative.rsplit("/", 1)[0] if "/" in relative else ""]
            entry["records"] += _records(metadata.path, kind)
            entry["files"] += 1
            entry["bytes"] += metadata.size_in_bytes
    return [
        {"kind": kind, "partition": folder, **entry}
        for (kind, folder), entry in sorted(found.items())
    ]


def _records(path: str, kind: str) -> int:
    """The records of one file, counted from its Avro framing; an index file that does not
    read back is :class:`~pipeline.lake.confine.DamagedLakeFile`."""
    checked = reading_records(path, "IndexBlock") if kind == "_index" else contextlib.nullcontext()
    with checked, FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        return count_container_records(fh)


def inspect_lake(lake: str, recent: int = 10, daily: bool = False) -> dict[str, Any]:
    """Every summary ``feedlake inspect`` prints, as plain data; with ``daily``, also the
    day-by-day counts the HTML report draws, and every run."""
    if "://" not in lake and not os.path.isdir(lake):
        raise FileNotFoundError(f"{lake} is not a folder; give --lake a lake's root")
    read_description(lake)  # a lake of a newer format is refused, not misread
    con = connect(lake)
    files = lake_views(con, lake)
    report: dict[str, Any] = {"lake": lake, "files": files, "partitions": partitions(lake)}
    for name, sql in {**_QUERIES, **(DAILY if daily else {})}.items():
        report[name] = _rows(con, sql)
    report["runs"] = runs(lake, None if daily else recent)
    return report


def run_sql(lake: str, sql: str) -> tuple[list[str], list[tuple]]:
    """Run ``sql`` over the tables ``articles``, ``duplicates`` and ``rejects``."""
    read_description(lake)
    con = connect(lake)
    lake_views(con, lake)
    result = con.execute(sql)
    return [column[0] for column in result.description], result.fetchall()
