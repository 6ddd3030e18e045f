"""`feedlake inspect` reads any lake: every partition layout (mixed ones too), an empty lake's
tables have their columns, and what it prints is tables of plain values at full width."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.corpus import generate
from pipeline.cli import main
from tests.conftest import ROOT, SAMPLE_DROP
from tests.support.lake import index_ids

pytestmark = pytest.mark.e2e


def run(drops: Path, lake: Path, partition_by: str) -> int:
    argv = ["run", "--drops", str(drops), "--lake", str(lake), "--partition-by", partition_by]
    return main([*argv, "--quiet"])


@pytest.fixture(scope="module")
def mixed_lake(tmp_path_factory):
    """The real drop partitioned by region,dt, and 20 more articles partitioned by dt alone,
    in one lake, as feedlake before 0.2 let two runs make it (a lake now refuses a second
    layout, so the second run writes a lake of its own whose articles are moved in)."""
    root = tmp_path_factory.mktemp("mixed")
    drops = root / "drops"
    drops.mkdir()
    (drops / SAMPLE_DROP.name).write_bytes(SAMPLE_DROP.read_bytes())
    lake, other = root / "lake", root / "other"
    assert run(drops, lake, "region,dt") == 0
    corpus = generate(20, exact_rate=0, near_rate=0, seed=5, per_drop=20)
    ((_, text),) = corpus.drops.items()
    later = root / "later" / "milosi-2025-09-01.txt"
    later.parent.mkdir()
    later.write_text(text)
    assert run(later, other, "dt") == 0
    for path in (other / "articles").rglob("*.avro"):
        moved = lake / path.relative_to(other)
        moved.parent.mkdir(parents=True, exist_ok=True)
        path.rename(moved)
    return lake


def inspect_json(capsys, *argv: str):
    capsys.readouterr()
    assert main(["inspect", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_inspect_reads_a_lake_of_several_partition_layouts(mixed_lake, capsys):
    report = inspect_json(capsys, "--lake", str(mixed_lake))
    by_region = {row["region"]: row["articles"] for row in report["articles_by_region"]}
    assert by_region["asia"] >= 7 and sum(by_region.values()) == 30
    assert sum(row["articles"] for row in report["articles_by_topic"]) == 30
    folders = {row["partition"] for row in report["partitions"] if row["kind"] == "articles"}
    assert "region=asia/dt=2025-08-29" in folders
    assert any(folder.count("=") == 1 for folder in folders)  # the dt-only layout
    articles = sum(row["records"] for row in report["partitions"] if row["kind"] == "articles")
    assert articles == 30
    assert main(["inspect", "--lake", str(mixed_lake)]) == 0
    assert "articles by region" in capsys.readouterr().out


def test_sql_sees_partition_columns_of_every_layout(mixed_lake, capsys):
    sql = "SELECT count(*) AS n, count(region) AS with_region, count(dt) AS with_dt FROM articles"
    (row,) = inspect_json(capsys, "--lake", str(mixed_lake), "--sql", sql)
    assert row == {"n": 30, "with_region": 10, "with_dt": 30}


def test_sql_always_has_the_three_tables_with_their_columns(tmp_path, capsys):
    lake = tmp_path / "lake"
    lake.mkdir()
    for table in ("articles", "duplicates", "rejects"):
        sql = f"SELECT count(*) AS n FROM {table}"
        assert inspect_json(capsys, "--lake", str(lake), "--sql", sql) == [{"n": 0}]
    sql = "SELECT title, location.region, dedup.kind, dt FROM articles"
    assert inspect_json(capsys, "--lake", str(lake), "--sql", sql) == []
    sql = "SELECT reason, raw, dt FROM rejects"
    assert inspect_json(capsys, "--lake", str(lake), "--sql", sql) == []
    report = inspect_json(capsys, "--lake", str(lake))
    assert report["articles_by_region"] == [] and report["partitions"] == []


def test_inspect_prints_plain_values_not_python_dicts(mixed_lake, capsys):
    capsys.readouterr()
    assert main(["inspect", "--lake", str(mixed_lake)]) == 0
    sql = "SELECT dateline FROM articles"
    assert main(["inspect", "--lake", str(mixed_lake), "--sql", sql]) == 0
    out = capsys.readouterr().out
    assert "{'" not in out and "'}" not in out
    assert '"city":' in out


def test_tables_are_not_cut_when_stdout_is_not_a_terminal(mixed_lake):
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "inspect", "--lake", str(mixed_lake)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "TERM": "dumb"},
    )
    assert done.returncode == 0, done.stderr
    run_ids = [p.stem for p in (mixed_lake / "_runs").glob("*.json")]
    assert all(run_id in done.stdout for run_id in run_ids)
    assert "…" not in done.stdout


def test_runs_lists_that_many_and_zero_lists_none(mixed_lake, capsys):
    assert len(inspect_json(capsys, "--lake", str(mixed_lake), "--runs", "1")["runs"]) == 1
    assert inspect_json(capsys, "--lake", str(mixed_lake), "--runs", "0")["runs"] == []


@pytest.mark.parametrize("value", ["-1", "-5", "x"])
def test_runs_refuses_what_is_not_a_count_in_one_line(mixed_lake, capsys, value):
    capsys.readouterr()
    assert main(["inspect", "--lake", str(mixed_lake), "--runs", value]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--runs" in err, err


def test_the_headline_counts_records_and_says_files_where_it_means_files(mixed_lake, capsys):
    capsys.readouterr()
    assert main(["inspect", "--lake", str(mixed_lake)]) == 0
    headline = capsys.readouterr().out.splitlines()[0]
    files = len(list((mixed_lake / "articles").rglob("*.avro")))
    duplicates = len(list((mixed_lake / "duplicates").rglob("*.avro")))
    assert "30 articles" in headline and f"{files} articles" not in headline, headline
    assert f"30 articles in {files} files" in headline, headline
    assert re.search(rf"\d+ duplicates in {duplicates} files?\b", headline), headline


def test_the_index_counts_entries_not_blocks(mixed_lake, capsys):
    report = inspect_json(capsys, "--lake", str(mixed_lake))
    ids = [row for row in report["index"] if row["folder"] == "ids"]
    assert sum(row["entries"] for row in ids) == len(index_ids(mixed_lake)) == 10
    assert not any(row["kind"] == "_index" for row in report["partitions"])
    assert main(["inspect", "--lake", str(mixed_lake)]) == 0
    assert "entries" in capsys.readouterr().out


ODD_FOLDERS = (
    "articles/dt=2025-08-29/region=<img src=x onerror=alert(1)>/topic=politics",
    "articles/region=a=b",
    "articles/notes",
    "duplicates/dt=2025-08-29/extra=1",
)


def test_folders_that_are_not_partitions_are_skipped_and_named(mixed_lake, tmp_path, capsys):
    lake = tmp_path / "lake"
    shutil.copytree(mixed_lake, lake)
    some_file = next((lake / "articles").rglob("*.avro"))
    for folder in ODD_FOLDERS:
        (lake / folder).mkdir(parents=True)
        shutil.copy(some_file, lake / folder / "copied.avro")
    capsys.readouterr()
    assert main(["inspect", "--lake", str(lake)]) == 0
    out, err = capsys.readouterr()
    assert "30 articles" in out.splitlines()[0]
    lines = err.strip().splitlines()
    assert len(lines) == len(ODD_FOLDERS), err
    for folder in ODD_FOLDERS:
        assert sum(folder in line for line in lines) == 1, (folder, err)
    sql = "SELECT count(*) AS n FROM articles"
    assert inspect_json(capsys, "--lake", str(lake), "--sql", sql) == [{"n": 30}]
    report = inspect_json(capsys, "--lake", str(lake))
    assert sorted(row["folder"] for row in report["skipped"]) == sorted(ODD_FOLDERS)
