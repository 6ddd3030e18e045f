"""Lakes on object stores, every command: ``feedlake run``, ``watch``, ``compact``, ``inspect``
and the format upgrade on S3 (moto's server) and on GCS (fake-gcs-server behind the test
pass-through), both on 127.0.0.1 and shared by the session, a new bucket a test.

Each test reads the lake back with fastavro from a copy of the bucket and holds it to what a
lake promises whatever its writers did (tests.support.lake.assert_whole): no id twice, every
story once, nothing left in ``_staging``."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.lake.commit import CRASH_EXIT
from tests.conftest import ROOT
from tests.support.lake import assert_whole, read_lake, stories_corpus, stories_once

pytestmark = [pytest.mark.e2e, pytest.mark.long]
KINDS = ("articles", "duplicates", "rejects")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Four drops of 10 articles, of four days in a row (a story is of its drop's day or up
    to two days before, so runs of different drops share partition folders)."""
    return stories_corpus(tmp_path_factory.mktemp("corpus"), 40, per_drop=10)


def feedlake(store, *argv: str) -> tuple[int, str]:
    """``feedlake`` in this process, with the store's flags: exit code and stdout."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main([*argv, *store.flags])
    return code, printed.getvalue()


def start(store, *argv: str, env: dict | None = None, log: Path | None = None):
    """``feedlake`` as a user starts it, in its own process (the environment is this one's:
    for GCS, what a user exports for the emulator)."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *argv, *store.flags],
        cwd=ROOT,
        stdout=subprocess.PIPE if log is None else log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def finish(process: subprocess.Popen) -> tuple[int, str]:
    out, _ = process.communicate(timeout=600)
    return process.returncode, out or ""


def whole(store, tmp_path: Path) -> Path:
    """A copy of the bucket's lake, checked whole; nothing left in its ``_staging``."""
    copy = store.download("lake", tmp_path / f"copy-{uuid.uuid4().hex[:8]}")
    assert store.keys("lake/_staging/") == []
    assert_whole(copy, remote=store.uri("lake"))
    return copy


def held(lake: Path) -> dict[str, Counter]:
    return {
        kind: Counter(json.dumps(r, sort_keys=True, default=str) for r in read_lake(lake, kind))
        for kind in KINDS
    }


def counted_by_sql(store) -> dict[str, int]:
    sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {kind}) AS {kind}" for kind in KINDS)
    code, out = feedlake(store, "inspect", "--lake", store.uri("lake"), "--sql", sql, "--json")
    assert code == 0, out
    (row,) = json.loads(out)
    return row


def test_run_rerun_inspect_and_compact_a_lake_on_the_store(store, corpus, tmp_path, request):
    drops, stories = corpus
    for drop in drops[:2]:
        store.write(f"drops/{drop.name}", drop.read_bytes())
    lake = store.uri("lake")
    on_store = ["--drops", store.uri("drops/*.txt"), "--lake", lake]
    assert feedlake(store, "run", *on_store, "--quiet")[0] == 0
    code, out = feedlake(store, "run", *on_store)
    assert code == 0 and "nothing new: 2 drop(s) already ingested" in out
    later = [arg for drop in drops[2:] for arg in ("--drops", str(drop))]
    assert feedlake(store, "run", *later, "--lake", lake, "--quiet")[0] == 0

    before = whole(store, tmp_path)
    stories_once(before, stories)
    by_fastavro = {kind: len(read_lake(before, kind)) for kind in KINDS}
    assert by_fastavro["articles"] > 0 and by_fastavro["duplicates"] > 0
    assert counted_by_sql(store) == by_fastavro
    if store.scheme == "gs":  # DuckDB read the objects with the credentials Beam uses
        emulator = request.getfixturevalue("gcs")
        read = [r for r in emulator.requests if r[1].startswith(f"/{store.bucket}/lake/")]
        assert read and {r[2] for r in read} == {"Bearer test-token"}
    code, out = feedlake(store, "inspect", "--lake", lake, "--json")
    assert code == 0, out
    report = json.loads(out)
    for kind in KINDS:
        partitions = [p for p in report["partitions"] if p["kind"] == kind]
        assert sum(p["records"] for p in partitions) == by_fastavro[kind]
    assert [run["kind"] for run in report["runs"]] == ["run", "run"]

    code, out = feedlake(store, "compact", "--lake", lake, "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["files_after"] < summary["files_before"]
    after = whole(store, tmp_path)
    assert held(after) == held(before)  # the same records, in fewer files
    assert counted_by_sql(store) == by_fastavro
    page = tmp_path / "lake.html"
    code, out = feedlake(store, "inspect", "--lake", lake, "--html", str(page))
    assert code == 0 and page.stat().st_size > 10_000, out


def test_two_writers_at_once_keep_every_story_once(store, corpus, tmp_path):
    drops, stories = corpus
    lake = store.uri("lake")
    first = ["run", "--drops", str(drops[0]), "--drops", str(drops[1]), "--lake", lake]
    second = ["run", "--drops", str(drops[2]), "--drops", str(drops[3]), "--lake", lake]
    writers = [start(store, *first), start(store, *second, "--wait-for-lock", "300")]
    (code, out), (waited, waited_out) = (finish(writer) for writer in writers)
    assert waited == 0, waited_out  # the second waits its turn
    assert code in (0, 3), out  # the first ran, or found the lake taken and said so
    if code == 3:
        assert "is being written by feedlake run" in out.strip().splitlines()[-1]
        assert feedlake(store, *first, "--quiet")[0] == 0
    copy = whole(store, tmp_path)
    stories_once(copy, stories)


def test_a_killed_writer_is_recovered_by_the_next(store, corpus, tmp_path):
    drops, stories = corpus
    argv = ["run", *[f"--drops={d}" for d in drops], "--lake", store.uri("lake")]
    crashed = start(store, *argv, env={"FEEDLAKE_CRASH_AT": "published_one"})
    code, out = finish(crashed)
    assert code == CRASH_EXIT, out
    assert store.keys("lake/_staging/") and store.keys("lake/_runs/")  # committed, not finished
    code, out = finish(start(store, *argv))
    assert code == 0, out
    assert "took over the writer lease" in out and "had committed but not finished" in out
    copy = whole(store, tmp_path)
    stories_once(copy, stories)
    (manifest,) = [json.loads(p.read_text()) for p in (copy / "_runs").glob("*.json")]
    assert manifest["status"] == "succeeded"


def test_watch_takes_a_drop_that_arrives_on_the_store(store, corpus, tmp_path):
    drops, stories = corpus
    log = tmp_path / "watch.log"
    watcher = start(
        store,
        "watch",
        "--drops",
        store.uri("incoming/*.txt"),
        "--lake",
        store.uri("lake"),
        "--poll-interval",
        "1",
        "--settle-seconds",
        "0",
        "--compact-every",
        "0",
        log=log,
    )
    try:
        deadline = time.monotonic() + 120
        while "watching" not in log.read_text() and time.monotonic() < deadline:
            assert watcher.poll() is None, log.read_text()
            time.sleep(0.2)
        store.write(f"incoming/{drops[0].name}", drops[0].read_bytes())
        while not store.keys("lake/_runs/") and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        watcher.send_signal(signal.SIGTERM)
        code = watcher.wait(timeout=120)
    assert code == 0, log.read_text()
    assert "batch" in log.read_text()
    copy = whole(store, tmp_path)
    first_drop = {key: story for key, story in stories.items() if key[0] == drops[0].name}
    stories_once(copy, first_drop)


def test_a_lake_of_the_first_format_on_the_store_is_upgraded(store, tmp_path_factory):
    from benchmarks.history_lake import Shape, cached

    tiny = Shape("tiny", runs_per_day=2, kept=20, drops=1, days=2)
    history = cached(tiny, tmp_path_factory.mktemp("work"), seed=3)
    store.upload(history.lake, "lake")
    legacy = [key for key in store.keys("lake/_index/") if key.count("/") == 2]
    assert legacy and not store.keys("lake/_lake.json")  # format 1: an index file a run
    code, out = feedlake(store, "compact", "--lake", store.uri("lake"), "--json")
    assert code == 0, out
    described = json.loads(store.read("lake/_lake.json"))
    assert described["format_version"] >= 2
    assert not set(legacy) & set(store.keys("lake/_index/"))  # replaced, deleted by name
    assert store.keys("lake/_index/ids/") and store.keys("lake/_catalog/drops/")
    kinds = [json.loads(store.read(k)).get("kind") for k in store.keys("lake/_runs/")]
    assert "upgrade" in kinds and store.keys("lake/_staging/") == []
