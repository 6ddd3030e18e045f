"""Real readers read the lake: DuckDB (Hive partitions) gives what fastavro gives; inspect;
and a multi-process DirectRunner writes the same lake as the in-process one."""

from __future__ import annotations

import json
from pathlib import Path

import fastavro
import pytest

from pipeline.cli import main
from pipeline.core.records import UNCLASSIFIED
from pipeline.lake.sql import connect, lake_views

pytestmark = pytest.mark.e2e


def fastavro_rows(lake: Path, kind: str) -> list[dict]:
    rows = []
    for path in sorted(lake.glob(f"{kind}/**/*.avro")):
        with path.open("rb") as fh:
            rows += [
                {**r, "_folder": path.parent.relative_to(lake / kind).as_posix()}
                for r in fastavro.reader(fh)
            ]
    return rows


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    assert main(["run", "--lake", str(root), "--quiet"]) == 0  # the bundled drop and feed
    return root


def test_duckdb_reads_the_same_rows_as_fastavro_with_partition_columns(lake):
    con = connect()
    assert lake_views(con, str(lake)) == {"articles": 7, "duplicates": 1, "rejects": 0}
    duck = con.execute(
        "SELECT id, CAST(dt AS VARCHAR), region, topic, location.region, title FROM articles"
    ).fetchall()
    expected = fastavro_rows(lake, "articles")
    assert sorted(row[0] for row in duck) == sorted(r["id"] for r in expected)
    for article_id, dt, region, topic, record_region, _title in duck:
        assert region == record_region
        (record,) = [r for r in expected if r["id"] == article_id]
        assert dt == record["published_date"].isoformat()
        best = record["topics"][0]["top_level"] if record["topics"] else UNCLASSIFIED
        assert topic == best
    dupes = con.execute("SELECT dedup.kind, count(*) FROM duplicates GROUP BY ALL").fetchall()
    assert dupes == [("exact", 3)]


def test_inspect_reports_partitions_counts_and_runs(lake, capsys):
    assert main(["inspect", "--lake", str(lake), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    articles = [p for p in report["partitions"] if p["kind"] == "articles"]
    assert sum(p["records"] for p in articles) == 10 and len(articles) == 7
    assert {r["region"] for r in report["articles_by_region"]} == {"asia", "europe", "africa"}
    assert report["duplicates_by_kind"] == [{"kind": "exact", "duplicates": 3}]
    assert [run["status"] for run in report["runs"]] == ["succeeded"]
    assert main(["inspect", "--lake", str(lake)]) == 0
    assert "articles by topic" in capsys.readouterr().out


def test_inspect_sql_and_its_errors(lake, capsys):
    sql = "SELECT location.country AS c, count(*) AS n FROM articles GROUP BY c ORDER BY n DESC"
    assert main(["inspect", "--lake", str(lake), "--sql", sql, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0] == {"c": "CN", "n": 4}
    assert main(["inspect", "--lake", str(lake), "--sql", "SELECT nope FROM articles"]) == 1
    assert "the query failed" in capsys.readouterr().err
    assert main(["inspect", "--lake", str(lake / "missing")]) == 2


def test_multi_process_runner_writes_the_same_lake(lake, tmp_path):
    other = tmp_path / "lake"
    argv = ["run", "--lake", str(other), "--quiet"]
    argv += ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    assert main(argv) == 0

    def held(root: Path) -> list[tuple]:
        return sorted(
            (kind, r["_folder"], r["id"], r["lineage"]["source_uri"], r["lineage"]["segment_index"])
            for kind in ("articles", "duplicates")
            for r in fastavro_rows(root, kind)
        )

    assert held(other) == held(lake)


def test_a_snappy_lake_reads_the_same_in_duckdb_and_fastavro(lake, tmp_path):
    snappy = tmp_path / "snappy"
    assert main(["run", "--lake", str(snappy), "--codec", "snappy", "--quiet"]) == 0
    with next(snappy.glob("articles/**/*.avro")).open("rb") as fh:
        assert fastavro.reader(fh).codec == "snappy"
    con = connect()
    assert lake_views(con, str(snappy)) == {"articles": 7, "duplicates": 1, "rejects": 0}
    duck = sorted(row[0] for row in con.execute("SELECT id FROM articles").fetchall())
    assert duck == sorted(r["id"] for r in fastavro_rows(snappy, "articles"))
    assert duck == sorted(r["id"] for r in fastavro_rows(lake, "articles"))
