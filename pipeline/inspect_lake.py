"""What a lake holds: partitions, counts, rejects, duplicates and recent runs (DuckDB).

Reads only; backs ``feedlake inspect``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connectors.lake_sql import connect, lake_views

__all__ = ["inspect_lake", "run_sql"]

_QUERIES = {
    "partitions": (
        "articles",
        "SELECT CAST(dt AS VARCHAR) AS dt, region, topic, count(*) AS articles "
        "FROM articles GROUP BY ALL ORDER BY dt, region, topic",
    ),
    "articles_by_dt": (
        "articles",
        "SELECT CAST(dt AS VARCHAR) AS dt, count(*) AS articles FROM articles "
        "GROUP BY ALL ORDER BY dt",
    ),
    "articles_by_region": (
        "articles",
        "SELECT region, count(*) AS articles FROM articles GROUP BY ALL ORDER BY articles DESC",
    ),
    "articles_by_topic": (
        "articles",
        "SELECT topic, count(*) AS articles FROM articles GROUP BY ALL ORDER BY articles DESC",
    ),
    "duplicates_by_kind": (
        "duplicates",
        "SELECT dedup.kind AS kind, count(*) AS duplicates FROM duplicates "
        "GROUP BY ALL ORDER BY duplicates DESC",
    ),
    "rejects_by_reason": (
        "rejects",
        "SELECT stage, reason, count(*) AS rejects FROM rejects GROUP BY ALL ORDER BY rejects DESC",
    ),
}


def _rows(con, sql: str) -> list[dict[str, Any]]:
    result = con.execute(sql)
    names = [column[0] for column in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _runs(lake: str, recent: int) -> list[dict[str, Any]]:
    runs = []
    for path in sorted(Path(lake, "_runs").glob("*.json"))[-recent:]:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        counts = manifest.get("counts", {})
        runs.append(
            {
                "run_id": manifest["run_id"],
                "status": manifest["status"],
                "started": manifest["started"],
                "seconds": manifest.get("seconds"),
                **{
                    k: counts.get(k, 0)
                    for k in ("drops", "feeds", "articles", "duplicates", "rejects")
                },
            }
        )
    return runs


def inspect_lake(lake: str, recent: int = 10) -> dict[str, Any]:
    """Every summary ``feedlake inspect`` prints, as plain data."""
    if not Path(lake).is_dir():
        raise FileNotFoundError(f"{lake} is not a folder; give --lake a local lake")
    con = connect()
    files = lake_views(con, lake)
    report: dict[str, Any] = {"lake": lake, "files": files}
    for name, (table, sql) in _QUERIES.items():
        report[name] = _rows(con, sql) if files[table] else []
    report["runs"] = _runs(lake, recent)
    return report


def run_sql(lake: str, sql: str) -> tuple[list[str], list[tuple]]:
    """Run ``sql`` over the views ``articles``, ``duplicates`` and ``rejects``."""
    con = connect()
    lake_views(con, lake)
    result = con.execute(sql)
    return [column[0] for column in result.description], result.fetchall()
