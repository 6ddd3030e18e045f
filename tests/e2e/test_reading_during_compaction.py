"""Reading a lake while a compaction in another process swaps its files (each delete slowed
by 200 ms, tests/support/slow_deletes.py): every `inspect` pass succeeds and counts every
record once, before, during and after the swap; a read whose files keep vanishing ends in
one line, not a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.lake import listing
from pipeline.lake.inspect import inspect_lake
from pipeline.lake.names import parse_staging_name
from tests.conftest import ROOT
from tests.support.lake import records
from tests.support.small_files import small_files_lake

pytestmark = [pytest.mark.e2e, pytest.mark.long]
KINDS = ("articles", "duplicates", "rejects")
SLOWER_DELETES = "0.2"  # seconds: a swap of seconds, so that several passes meet it


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    return small_files_lake(tmp_path_factory.mktemp("small"), runs=6)


def compaction_in_swap(lake: Path) -> bool:
    """Whether a compaction has committed and not finished (its staging folder is there)."""
    staging = lake / "_staging"
    names = [p.name for p in staging.iterdir()] if staging.exists() else []
    runs = [staged[0] for name in names if (staged := parse_staging_name(name)) is not None]
    return any((lake / "_runs" / f"{run}.json").exists() and "compaction" in run for run in runs)


def slow_compaction(lake: Path, output: int) -> subprocess.Popen:
    """``feedlake compact`` on ``lake`` in another process, each delete slowed; its stdout and
    stderr to ``output`` (a pipe: read as text)."""
    slowed = [sys.executable, "-m", "tests.support.slow_deletes", SLOWER_DELETES]
    return subprocess.Popen(
        [*slowed, "compact", "--lake", str(lake)],
        cwd=ROOT,
        stdout=output,
        stderr=output,
        text=True,
    )


def test_inspect_during_a_compaction_counts_every_record_once(small, tmp_path):
    lake = tmp_path / "lake"
    subprocess.run(["cp", "-a", str(small), str(lake)], check=True)
    held = {kind: len(records(lake, kind)) for kind in KINDS}
    compaction = slow_compaction(lake, subprocess.PIPE)
    passes, in_swap, failures = 0, 0, []
    while compaction.poll() is None or passes == 0:
        during = compaction_in_swap(lake)
        try:
            report = inspect_lake(str(lake))
        except Exception as error:  # every failure is the finding, not only some types
            failures.append(repr(error))
            continue
        finally:
            passes += 1
        in_swap += during
        counted = {
            kind: sum(row["records"] for row in report["partitions"] if row["kind"] == kind)
            for kind in KINDS
        }
        assert counted == held, (passes, counted)
        by_region = sum(row["articles"] for row in report["articles_by_region"])
        assert by_region == held["articles"], (passes, by_region)
    out, err = compaction.communicate()
    assert compaction.returncode == 0, err
    assert not failures, failures
    assert in_swap >= 2, f"only {in_swap} of {passes} passes read during the swap: {out}"
    assert len(list((lake / "articles").rglob("*.avro"))) < held["articles"]  # it compacted


def test_the_cli_reads_during_a_compaction_with_exit_0_and_each_record_once(small, tmp_path):
    lake = tmp_path / "lake"
    subprocess.run(["cp", "-a", str(small), str(lake)], check=True)
    articles = len(records(lake, "articles"))
    compaction = slow_compaction(lake, subprocess.DEVNULL)
    results = []
    while compaction.poll() is None or not results:
        done = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "inspect", "--lake", str(lake), "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        counted = None
        if done.returncode == 0:
            counted = sum(row["articles"] for row in json.loads(done.stdout)["articles_by_region"])
        results.append((done.returncode, counted, done.stderr[-300:]))
    compaction.wait()
    assert all(code == 0 and counted == articles for code, counted, _ in results), results


def test_a_lake_that_never_settles_is_one_line(small, tmp_path, monkeypatch, capsys):
    """Each listing names a file that is gone by the time it is read, every time."""
    lake = tmp_path / "lake"
    subprocess.run(["cp", "-a", str(small), str(lake)], check=True)
    real = listing.list_lake

    def listed_then_gone(root: str) -> listing.Listing:
        found = real(root)
        gone = found.of("articles")[0]
        vanished = listing.LakeFile(gone.path + ".gone.avro", gone.kind, gone.folder, gone.size)
        return listing.Listing(found.lake, (*found.files, vanished), found.skipped)

    monkeypatch.setattr(listing, "list_lake", listed_then_gone)
    monkeypatch.setattr(listing, "_PAUSE", 0.0)
    capsys.readouterr()
    assert main(["inspect", "--lake", str(lake)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "kept changing" in err and ".gone.avro" in err and "5 tries" in err
