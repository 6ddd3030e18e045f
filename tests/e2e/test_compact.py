"""`feedlake compact` on a lake of many small files: the same records before and after, at most
one file per partition folder, read by DuckDB and by feedlake itself, a crash at any step
leaving the old files or the new (never both) once the next writer has recovered, later runs
still deduplicating against the merged files, and one writer at a time."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.corpus import generate, write
from pipeline.cli import main
from pipeline.lake.commit import CRASH_EXIT, CRASH_POINTS
from pipeline.lake.inspect import partitions
from pipeline.lake.lease import WriterLease
from pipeline.lake.sql import connect, lake_views
from tests.conftest import ROOT
from tests.support.lake import (
    assert_whole,
    committed_manifests,
    index_ids,
    manifests,
    records,
)
from tests.support.small_files import small_files_lake

pytestmark = [pytest.mark.e2e, pytest.mark.long]
KINDS = ("articles", "duplicates", "rejects")
COMMITTED = CRASH_POINTS[CRASH_POINTS.index("committed") :]


def data_files(lake: Path) -> set[str]:
    return {str(path) for kind in KINDS for path in (lake / kind).rglob("*.avro")}


def files_per_folder(lake: Path) -> Counter:
    return Counter(str(Path(path).parent) for path in data_files(lake))


def index_files_per_folder(lake: Path) -> Counter:
    """The index's and the drop catalog's files, by folder."""
    found = [*(lake / "_index").rglob("*.avro"), *(lake / "_catalog").rglob("*.avro")]
    return Counter(str(path.parent.relative_to(lake)) for path in found)


def held(lake: Path) -> dict[str, Counter]:
    """Every record of each kind, with its folder, as a multiset."""
    return {
        kind: Counter(json.dumps(r, sort_keys=True, default=str) for r in records(lake, kind))
        for kind in KINDS
    }


def compact(lake: Path, *flags: str) -> dict:
    """``feedlake compact --json``'s summary; the command must exit 0."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["compact", "--lake", str(lake), "--json", *flags]) == 0
    return json.loads(printed.getvalue())


@pytest.fixture(scope="module")
def lakes(tmp_path_factory) -> dict[str, Path]:
    """A lake of many small files in each of two layouts."""
    built = {}
    for layout in ("dt,region,topic", "region,dt"):
        built[layout] = small_files_lake(tmp_path_factory.mktemp("small"), layout)
        assert max(files_per_folder(built[layout]).values()) >= 3  # what compaction is for
    return built


@pytest.fixture(scope="module", params=["dt,region,topic", "region,dt"])
def small(request, lakes) -> Path:
    return lakes[request.param]


@pytest.fixture(scope="module")
def compacted(small, tmp_path_factory) -> tuple[Path, dict]:
    lake = tmp_path_factory.mktemp("compacted") / "lake"
    shutil.copytree(small, lake)
    return lake, compact(lake)


def test_every_record_is_kept_and_each_folder_holds_one_file(small, compacted):
    lake, summary = compacted
    assert held(lake) == held(small)
    before, after = files_per_folder(small), files_per_folder(lake)
    assert set(after) == {folder.replace(str(small), str(lake)) for folder in before}
    assert set(after.values()) == {1}
    merged = [folder for folder, files in before.items() if files > 1]
    assert summary["folders"] == len(merged)
    assert summary["files_before"] == sum(before[folder] for folder in merged)
    assert summary["files_after"] == len(merged)
    assert 0 < summary["bytes_after"] < summary["bytes_before"]
    assert_whole(lake)


def test_the_index_and_the_catalog_are_merged_to_one_file_a_folder(small, compacted):
    lake, summary = compacted
    before, after = index_files_per_folder(small), index_files_per_folder(lake)
    assert set(after) == set(before) and set(after.values()) == {1}
    assert summary["index_files_before"] == sum(n for n in before.values() if n > 1) > 0
    assert index_ids(lake) and sorted(index_ids(lake)) == sorted(index_ids(small))


def test_the_manifest_lists_the_files_written_and_those_replaced(small, compacted):
    lake, summary = compacted
    (manifest,) = [m for m in manifests(lake) if m.get("kind") == "compaction"]
    assert manifest["run_id"] == summary["run_id"] and manifest["status"] == "succeeded"
    old = {path.replace(str(small), str(lake)) for path in data_files(small)}
    written = {output["path"] for output in manifest["outputs"]}
    assert written == data_files(lake) - old
    assert set(manifest["replaced"]) == old - data_files(lake)
    assert sum(o["records"] for o in manifest["outputs"]) == manifest["counts"]["records"]


def test_duckdb_and_inspect_read_the_compacted_lake(small, compacted):
    lake, _summary = compacted
    query = "SELECT count(*), count(DISTINCT lineage), min(dt), max(dt) FROM {kind}"
    answers = []
    for root in (small, lake):
        con = connect()
        lake_views(con, str(root))
        answers.append([con.execute(query.format(kind=kind)).fetchone() for kind in KINDS])
    assert answers[0] == answers[1]
    assert answers[1][0][0] == len(records(lake, "articles")) > 0
    folders = [p for p in partitions(str(lake)) if p["kind"] in KINDS]
    assert {p["files"] for p in folders} == {1}
    assert sum(p["records"] for p in folders) == sum(len(records(lake, k)) for k in KINDS)


def test_a_second_compaction_changes_nothing(compacted):
    lake, _summary = compacted
    files = [*lake.glob("*/**/*.avro")]
    listing, written = {path: os.stat(path).st_mtime_ns for path in files}, len(manifests(lake))
    again = compact(lake)
    assert again["files_before"] == again["index_files_before"] == 0
    assert again["run_id"] is again["index_run_id"] is None
    assert {path: os.stat(path).st_mtime_ns for path in lake.glob("*/**/*.avro")} == listing
    assert len(manifests(lake)) == written


def test_a_later_run_deduplicates_against_compacted_data(small, compacted, tmp_path):
    """Every story of the first drop read again is a duplicate of an article now in a merged
    file."""
    lake = tmp_path / "lake"
    shutil.copytree(compacted[0], lake)
    drop = sorted((small.parent / "drops").iterdir())[0]
    argv = ["run", "--drops", str(drop), "--lake", str(lake), "--reprocess", "--json"]
    articles = {r["id"] for r in records(lake, "articles")}
    duplicates = len(records(lake, "duplicates"))
    assert main(argv) == 0
    rerun = manifests(lake)[-1]
    assert rerun["counts"]["articles"] == 0 and rerun["counts"]["duplicates"] == 15
    assert {r["id"] for r in records(lake, "articles")} == articles
    new = records(lake, "duplicates", rerun["run_id"])
    assert len(new) == 15 == len(records(lake, "duplicates")) - duplicates
    assert {r["dedup"]["duplicate_of"] for r in new} <= articles


def test_a_date_range_compacts_only_its_days(small, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(small, lake)
    day = "2025-08-02"
    summary = compact(lake, "--since", day, "--until", day)
    assert summary["folders"] > 0
    after = files_per_folder(lake)
    for folder, files in files_per_folder(small).items():
        folder = folder.replace(str(small), str(lake))
        assert after[folder] == (1 if f"dt={day}" in folder else files), folder
    assert held(lake) == held(small)


def test_a_compaction_while_another_writer_holds_the_lake_exits_3(small, tmp_path, capsys):
    lake = tmp_path / "lake"
    shutil.copytree(small, lake)
    before = data_files(lake)
    with WriterLease(str(lake), "run", "a-long-run") as lease:
        lease.acquire()
        assert main(["compact", "--lake", str(lake)]) == 3
    assert "is being written by feedlake run (run a-long-run" in capsys.readouterr().err
    assert data_files(lake) == before and not (lake / "_staging").exists()


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_crash_at_any_step_leaves_the_old_files_or_the_new(point, lakes, tmp_path):
    """The compaction is killed at ``point``; the next writer (a run that finds nothing new)
    recovers: the lake then holds exactly the old files (not committed) or exactly the new
    (committed), and the same records."""
    small, lake = lakes["dt,region,topic"], tmp_path / "lake"
    shutil.copytree(small, lake)
    old = data_files(lake)
    crashed = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "compact", "--lake", str(lake)],
        cwd=ROOT,
        env={**os.environ, "FEEDLAKE_CRASH_AT": point},
        capture_output=True,
        text=True,
    )
    assert crashed.returncode == CRASH_EXIT, crashed.stderr
    assert (lake / "_staging").exists()
    found = [m for m in committed_manifests(lake) if m.get("kind") == "compaction"]
    assert len(found) == (point in COMMITTED)
    if point not in COMMITTED:
        assert data_files(lake) == old  # nothing of it visible yet
    elif point == "published_one":  # a reader listing now sees some records twice, none lost
        assert old < data_files(lake) and len(data_files(lake) - old) == 1

    drop = sorted((small.parent / "drops").iterdir())[0]
    assert main(["run", "--drops", str(drop), "--lake", str(lake), "--quiet"]) == 0
    if point in COMMITTED:
        (manifest,) = found
        new = old - set(manifest["replaced"]) | {o["path"] for o in manifest["outputs"]}
        assert data_files(lake) == new and set(files_per_folder(lake).values()) == {1}
    else:
        assert data_files(lake) == old
    assert held(lake) == held(small)
    assert_whole(lake)


def test_a_watcher_compacts_after_a_batch_once_the_interval_has_passed(tmp_path):
    """``--compact-every`` of under a second, counted from the lake's first run: the second
    batch's files are merged with the first's right after it."""
    write(generate(30, exact_rate=0.2, near_rate=0.1, seed=5, per_drop=15), tmp_path)
    first, second = sorted((tmp_path / "drops").iterdir())
    watched, lake = tmp_path / "watched", tmp_path / "lake"
    watched.mkdir()
    shutil.copy(first, watched)
    command = [sys.executable, "-m", "pipeline.cli", "watch", "--drops", str(watched)]
    command += ["--lake", str(lake), "--poll-interval", "1", "--settle-seconds", "0"]
    command += ["--compact-every", "0.0002", "--log-format", "json"]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(manifests(lake)) == 1)
        shutil.copy(second, watched)
        wait_for(lambda: any(m.get("kind") == "compaction" for m in manifests(lake)))
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    runs = [m for m in manifests(lake) if "kind" not in m]
    (compaction,) = [m for m in manifests(lake) if m.get("kind") == "compaction"]
    assert len(runs) == 2 and compaction["started"] > runs[1]["finished"]
    assert set(files_per_folder(lake).values()) == {1}
    assert len(records(lake, "articles")) == sum(m["counts"]["articles"] for m in runs)
    (line,) = [json.loads(line) for line in stderr.splitlines() if '"compacted"' in line]
    assert line["run_id"] == compaction["run_id"] and line["files_before"] >= 2


def wait_for(condition, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "not within the limit"
        time.sleep(0.2)


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--since", "2025-13-01"], "--since '2025-13-01' is not a date"),
        (["--since", "2025-08-02", "--until", "2025-08-01"], "is after --until"),
        (["--target-mb", "0"], "--target-mb must be positive"),
    ],
)
def test_usage_errors_exit_2_before_anything_is_read(flags, said, tmp_path, capsys):
    assert main(["compact", "--lake", str(tmp_path), *flags]) == 2
    assert said in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_lake_that_is_not_a_folder_is_a_usage_error(tmp_path, capsys):
    assert main(["compact", "--lake", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_a_dry_run_says_what_would_be_merged_and_changes_nothing(small, compacted, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(small, lake)
    everything = sorted(str(p) for p in lake.rglob("*"))
    planned = compact(lake, "--dry-run")
    assert sorted(str(p) for p in lake.rglob("*")) == everything
    done = compacted[1]
    for key in ("folders", "files_before", "files_after", "bytes_before", "index_files_before"):
        assert planned[key] == done[key], key
