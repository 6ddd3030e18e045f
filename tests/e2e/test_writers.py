"""One lake, many writers: overlapping runs, a watcher beside a run, a killed holder, reused
run ids and a scheduler's retry. Every test ends by checking what the lake promises whatever
its writers did (tests.support.lake.assert_whole) and that every story is there once."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.lake.lease import WriterLease
from tests.conftest import ROOT, SAMPLE_DROP
from tests.support.lake import assert_whole, content, manifests, stories_corpus, stories_once

pytestmark = [pytest.mark.e2e, pytest.mark.long]
DAG = ROOT / "deploy" / "airflow" / "feedlake_dag.py"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Four drops of 40 articles; a quarter are exact copies, some across drops."""
    return stories_corpus(tmp_path_factory.mktemp("corpus"), 160, per_drop=40)


def feedlake(*argv: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def given(drops: list[Path]) -> list[str]:
    return [arg for drop in drops for arg in ("--drops", str(drop))]


def finish(process: subprocess.Popen) -> tuple[int, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out + err


def test_a_second_writer_exits_3_naming_the_holder_and_writes_nothing(corpus, tmp_path, capsys):
    drops, _ = corpus
    lake = tmp_path / "lake"
    with WriterLease(str(lake), "compact", "holder") as lease:
        lease.acquire()
        code = main(["run", "--drops", str(drops[0]), "--lake", str(lake)])
    err = capsys.readouterr().err.strip()
    assert code == 3
    assert "is being written by feedlake compact (run holder, pid" in err
    assert "--wait-for-lock" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in lake.iterdir()) == ["_lease"]  # nothing else written


def test_two_runs_at_once_keep_every_story_once(corpus, tmp_path):
    drops, stories = corpus
    lake = tmp_path / "lake"
    wait = ["--lake", str(lake), "--wait-for-lock", "300", "--quiet"]
    first = feedlake("run", *given(drops[:2]), *wait)
    multi_process = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    second = feedlake("run", *given(drops[2:]), *wait, *multi_process)
    assert [finish(first)[0], finish(second)[0]] == [0, 0]
    assert_whole(lake)
    stories_once(lake, stories)
    assert [m["status"] for m in manifests(lake)] == ["succeeded", "succeeded"]


def test_two_runs_of_the_same_drops_at_once_leave_what_one_run_leaves(corpus, tmp_path):
    drops, stories = corpus
    folder = drops[0].parent
    alone = tmp_path / "alone"
    assert main(["run", "--drops", str(folder), "--lake", str(alone), "--quiet"]) == 0
    lake = tmp_path / "lake"
    runs = [
        feedlake("run", "--drops", str(folder), "--lake", str(lake), "--wait-for-lock", "300")
        for _ in range(2)
    ]
    outcomes = [finish(run) for run in runs]
    assert [code for code, _ in outcomes] == [0, 0]
    assert sum("nothing new: 4 drop(s) already ingested" in out for _, out in outcomes) == 1
    assert_whole(lake)
    stories_once(lake, stories)
    assert content(lake) == content(alone) and len(manifests(lake)) == 1


def test_a_lease_left_by_a_killed_run_is_taken_over(corpus, tmp_path):
    drops, stories = corpus
    lake = tmp_path / "lake"
    killed = feedlake("run", "--drops", str(drops[0].parent), "--lake", str(lake))
    deadline = time.monotonic() + 120
    while not list(lake.glob("_staging/*/RUNNING")) and time.monotonic() < deadline:
        time.sleep(0.01)  # it holds the lease and has opened its run
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=30)
    assert list(lake.glob("_lease/lease-*.json")) and manifests(lake) == []

    later = feedlake("run", "--drops", str(drops[0].parent), "--lake", str(lake))
    code, out = finish(later)
    assert code == 0, out
    assert "took over the writer lease" in out and "that process is gone" in out
    assert_whole(lake)
    stories_once(lake, stories)


def test_a_writer_beside_a_running_watch_waits_its_turn(corpus, tmp_path):
    drops, stories = corpus
    watched, lake = tmp_path / "watched", tmp_path / "lake"
    watched.mkdir()
    watch = feedlake("watch", "--drops", str(watched), "--lake", str(lake), "--poll-interval", "1")
    try:
        for drop in drops[:2]:
            (watched / drop.name).write_bytes(drop.read_bytes())
        run = feedlake("run", *given(drops[2:]), "--lake", str(lake), "--wait-for-lock", "300")
        assert finish(run)[0] == 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ingested = {i["uri"] for m in manifests(lake) for i in m["inputs"]}
            if len(ingested) == 4:
                break
            time.sleep(0.5)
    finally:
        watch.send_signal(signal.SIGTERM)
        code, out = finish(watch)
    assert code == 0, out
    assert_whole(lake)
    stories_once(lake, stories)


def test_a_run_id_reused_for_other_inputs_is_refused_before_anything_is_written(
    corpus, tmp_path, capsys
):
    drops, _ = corpus
    lake = tmp_path / "lake"
    assert main(["run", "--drops", str(drops[0]), "--lake", str(lake), "--run-id", "r1"]) == 0
    before = (content(lake), manifests(lake), sorted(p.name for p in lake.glob("_lease/*")))
    capsys.readouterr()
    code = main(["run", "--drops", str(drops[1]), "--lake", str(lake), "--run-id", "r1"])
    err = capsys.readouterr().err
    assert code == 2 and "run id 'r1' is taken" in err
    after = (content(lake), manifests(lake), sorted(p.name for p in lake.glob("_lease/*")))
    assert after == before  # the first run intact, not even the lease touched
    assert_whole(lake)


def airflow_argv(tmp_path: Path, drops: Path) -> list[str]:
    """`feedlake run` with the Airflow DAG's own pipeline_options, the buckets made local and
    the template rendered as Airflow renders it for one logical date."""
    tree = ast.parse(DAG.read_text())
    (options,) = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword) and node.arg == "pipeline_options"
    ]
    values = {  # the lake is a name (LAKE), the rest literals
        ast.literal_eval(key): None if isinstance(value, ast.Name) else ast.literal_eval(value)
        for key, value in zip(options.keys, options.values, strict=True)
    }
    assert values["run-id"] == "airflow-{{ ts_nodash }}"
    local = {
        "drops": str(drops / "*.txt"),
        "feeds": None,
        "lake": str(tmp_path / "lake"),
        "run-id": values["run-id"].replace("{{ ts_nodash }}", "20260101T100000"),
    }
    argv = ["run"]
    for name, value in local.items():
        if value is not None:
            argv += [f"--{name}", value]
    return argv


def test_an_airflow_retry_of_a_committed_run_changes_nothing(corpus, tmp_path, capsys):
    drops, stories = corpus
    argv = airflow_argv(tmp_path, drops[0].parent)
    lake = tmp_path / "lake"
    assert main(argv) == 0
    before = (content(lake), manifests(lake))
    capsys.readouterr()
    assert main(argv) == 0  # the task's retry: same run id, same request
    out = capsys.readouterr().out
    assert "run airflow-20260101T100000 already committed" in out and "nothing to do" in out
    assert (content(lake), manifests(lake)) == before
    stories_once(lake, stories)


def test_an_airflow_retry_after_a_failed_attempt_redoes_the_run(corpus, tmp_path):
    drops, stories = corpus
    argv = airflow_argv(tmp_path, drops[0].parent)
    lake = tmp_path / "lake"
    attempt = feedlake(*argv, env={"FEEDLAKE_CRASH_AT": "verified"})
    assert finish(attempt)[0] != 0
    assert manifests(lake) == []
    assert main(argv) == 0
    (manifest,) = manifests(lake)
    assert manifest["run_id"] == "airflow-20260101T100000" and manifest["status"] == "succeeded"
    assert_whole(lake)
    stories_once(lake, stories)


def test_a_lease_file_edited_by_hand_stops_the_run_with_what_to_do(corpus, tmp_path, capsys):
    drops, _ = corpus
    lake = tmp_path / "lake"
    assert main(["run", "--drops", str(drops[0]), "--lake", str(lake), "--quiet"]) == 0
    (lease,) = lake.glob("_lease/lease-*.json")
    lease.write_text(lease.read_text().replace('"heartbeat"', '"hearbeat"'))
    before = content(lake)
    code = main(["run", "--drops", str(drops[1]), "--lake", str(lake), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 3 and len(err.splitlines()) == 1
    assert str(lake) in err and lease.name in err and "delete that file" in err
    assert content(lake) == before


@pytest.fixture
def read_only(tmp_path):
    """A lake on a file system that can be made read-only (a tmpfs, remounted)."""
    mount = tmp_path / "mount"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)]).returncode:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")

    def remount(mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(mount)], check=True)

    yield mount, remount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_lake_on_a_read_only_file_system_fails_in_one_line_and_loses_nothing(
    read_only, corpus, capsys
):
    mount, remount = read_only
    drops, _ = corpus
    lake = mount / "lake"
    assert main(["run", "--drops", str(SAMPLE_DROP), "--lake", str(lake), "--quiet"]) == 0
    before = content(lake)
    remount("ro")
    code = main(["run", "--drops", str(drops[0]), "--lake", str(lake), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err  # found before anything is tried
    assert str(lake) in err and "read-only" in err.lower()
    remount("rw")
    assert content(lake) == before
    assert main(["run", "--drops", str(drops[0]), "--lake", str(lake), "--quiet"]) == 0
    assert_whole(lake)
    assert json.loads(next(lake.glob("_lease/*.json")).read_text())["released"]
