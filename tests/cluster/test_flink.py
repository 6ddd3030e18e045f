"""feedlake on a Flink session cluster of two TaskManagers (deploy/flink/local_cluster.py):
the same lake as the DirectRunner's, with one duplicate step or in shards; a rerun with
--reprocess finds every article a duplicate; both TaskManagers work; and a job cancelled
through Flink's REST API or a TaskManager killed mid-job commits nothing.

Run by `make test-flink`, which first puts Flink and Beam's job server in .cache/flink."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter

import pytest

from benchmarks.flink import feedlake_run
from benchmarks.flink_cluster import FLINK_HOME, JOB_SERVER_JAR, Cluster, flink_flags
from tests.conftest import ROOT
from tests.support.lake import assert_whole, index_ids, manifests, records

pytestmark = [
    pytest.mark.flink,
    pytest.mark.skipif(
        not (FLINK_HOME.is_dir() and JOB_SERVER_JAR.is_file()),
        reason="no Flink in .cache/flink: run make flink-deps (make test-flink does)",
    ),
]

DROPS, ARTICLES_PER_DROP = 50, 100
KINDS = ("articles", "duplicates", "rejects")
RUN_TIMEOUT = 1200


def content(lake) -> Counter:
    """Every record of the lake's articles, duplicates and rejects, whole but for what names
    the run (its id and time, and the rejects' folder: the day they were read), and the ids
    its index holds."""
    held = Counter(("_index", key) for key in index_ids(lake))
    for kind in KINDS:
        for record in records(lake, kind):
            lineage = {**record["lineage"], "run_id": None, "ingest_time": None}
            if kind == "rejects":
                record["_partition"] = None
            held[
                (kind, json.dumps({**record, "lineage": lineage}, sort_keys=True, default=str))
            ] += 1
    return held


def run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT)


def start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture(scope="module")
def drops(tmp_path_factory):
    """50 generated drops of 100 articles (copies exact and near among them), and bytes that
    are no article at the end of one of them."""
    folder = tmp_path_factory.mktemp("corpus")
    subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.corpus"),
            *("--articles", str(DROPS * ARTICLES_PER_DROP), "--per-drop", str(ARTICLES_PER_DROP)),
            *("--seed", "7", "--out", str(folder)),
        ],
        check=True,
        capture_output=True,
    )
    first = sorted((folder / "drops").iterdir())[0]
    with first.open("ab") as drop:
        drop.write(bytes(range(256)) * 40)
    return folder / "drops"


@pytest.fixture(scope="module")
def direct_lake(drops, tmp_path_factory):
    lake = tmp_path_factory.mktemp("direct") / "lake"
    done = run(feedlake_run(drops, lake))
    assert done.returncode == 0, done.stderr
    return lake


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    started = Cluster(tmp_path_factory.mktemp("flink"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def flink_lake(cluster, drops, tmp_path_factory):
    """One run on Flink, and the id of its Flink job."""
    lake = tmp_path_factory.mktemp("flink-run") / "lake"
    before = set(cluster.jobs())
    done = run(feedlake_run(drops, lake, *flink_flags(cluster)))
    assert done.returncode == 0, done.stderr
    (job_id,) = set(cluster.jobs()) - before
    return lake, job_id


def test_the_lake_written_on_flink_is_the_direct_runner_s(flink_lake, direct_lake):
    lake, _ = flink_lake
    copies = {d["dedup"]["kind"] for d in records(direct_lake, "duplicates")}
    assert copies == {"exact", "near"} and records(direct_lake, "rejects")
    assert content(lake) == content(direct_lake)
    assert_whole(lake)


def test_in_shards_on_flink_the_lake_is_the_same(cluster, drops, direct_lake, tmp_path):
    lake = tmp_path / "lake"
    done = run(feedlake_run(drops, lake, "--dedup-shards", "4", *flink_flags(cluster)))
    assert done.returncode == 0, done.stderr
    assert content(lake) == content(direct_lake)


def test_a_rerun_with_reprocess_finds_every_article_a_duplicate(
    cluster, drops, flink_lake, tmp_path
):
    lake = tmp_path / "lake"
    shutil.copytree(flink_lake[0], lake)
    first = {r["id"] for r in records(lake, "articles")}
    segments = len(first) + len(records(lake, "duplicates"))
    done = run(feedlake_run(drops, lake, "--reprocess", *flink_flags(cluster)))
    assert done.returncode == 0, done.stderr
    second = manifests(lake)[-1]["run_id"]
    assert records(lake, "articles", second) == []
    again = records(lake, "duplicates", second)
    assert {d["dedup"]["duplicate_of"] for d in again} == first
    assert len(again) == segments
    assert_whole(lake)


def test_both_taskmanagers_parse_drops(cluster, flink_lake):
    _, job_id = flink_lake
    read = cluster.records_read_by_taskmanager(job_id, "Split into articles")
    assert set(read) == {tm["id"] for tm in cluster.get("/taskmanagers")["taskmanagers"]}
    assert len(read) == 2 and min(read.values()) > 0 and sum(read.values()) == DROPS


def test_a_job_cancelled_through_flink_commits_nothing(cluster, drops, direct_lake, tmp_path):
    lake = tmp_path / "lake"
    command = feedlake_run(drops, lake, *flink_flags(cluster))
    before = set(cluster.jobs())
    running = start(command)
    job_id = cluster.job_midway(before)
    cluster.cancel(job_id)
    _, err = running.communicate(timeout=600)
    assert running.returncode == 1, err
    assert "nothing was committed" in err
    assert cluster.jobs()[job_id]["state"] == "CANCELED"
    assert_nothing_committed(lake)
    done = run(command)
    assert done.returncode == 0, done.stderr
    assert content(lake) == content(direct_lake)
    assert_whole(lake)


def test_a_taskmanager_killed_mid_job_commits_nothing(
    cluster, drops, direct_lake, tmp_path, tmp_path_factory
):
    lake = tmp_path / "lake"
    doomed = Cluster(tmp_path_factory.mktemp("doomed-flink"))
    try:
        before = set(doomed.jobs())
        running = start(feedlake_run(drops, lake, *flink_flags(doomed)))
        job_id = doomed.job_midway(before)
        os.kill(doomed.pids["taskmanager-2"], signal.SIGKILL)
        _, err = running.communicate(timeout=900)
        assert running.returncode == 1, err
        assert "nothing was committed" in err
        assert doomed.jobs()[job_id]["state"] == "FAILED"
    finally:
        doomed.stop()
    assert_nothing_committed(lake)
    done = run(feedlake_run(drops, lake, *flink_flags(cluster)))
    assert done.returncode == 0, done.stderr
    assert content(lake) == content(direct_lake)
    assert_whole(lake)


def assert_nothing_committed(lake) -> None:
    assert [m for m in manifests(lake) if m["status"] == "succeeded"] == []
    assert not content(lake)
