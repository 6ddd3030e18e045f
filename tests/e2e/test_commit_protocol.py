"""The commit protocol as docs/operating.md writes it down, tried by crashing a real `feedlake run`
at each of its steps (a fault injected between two named steps: the process ends there with
no cleanup, as with SIGKILL) and letting the next writer repair the lake.

Whatever the step, readers never see a file of an uncommitted run, and after the next run the
lake holds exactly what one clean run leaves: every story once, the feed's items landed, its
validators saved, nothing in ``_staging``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.corpus import generate, write
from pipeline.cli import main
from pipeline.lake import documents as lake_json
from pipeline.lake.commit import CRASH_EXIT, CRASH_POINTS
from tests.conftest import ROOT, published_files
from tests.support.feed_server import ETAG, FeedServer
from tests.support.lake import assert_whole, committed_manifests, content, manifests, records

pytestmark = [pytest.mark.e2e, pytest.mark.long]
COMMITTED = CRASH_POINTS[CRASH_POINTS.index("committed") :]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Two small generated drops (with copies) and a feed of the real drop's stories."""
    folder = tmp_path_factory.mktemp("inputs")
    write(generate(60, exact_rate=0.2, near_rate=0.1, seed=11, per_drop=30), folder)
    with FeedServer() as server:
        feeds = folder / "feeds.txt"
        feeds.write_text(f"{server.url}/rss.xml\n")
        yield folder / "drops", feeds


def argv(inputs, lake: Path) -> list[str]:
    drops, feeds = inputs
    return [
        "run",
        "--drops",
        str(drops),
        "--feeds",
        str(feeds),
        "--lake",
        str(lake),
        "--feed-min-interval",
        "0",
        "--quiet",
    ]


@pytest.fixture(scope="module")
def clean_lake(inputs, tmp_path_factory):
    lake = tmp_path_factory.mktemp("clean") / "lake"
    assert main(argv(inputs, lake)) == 0
    return lake


def crash_at(point: str, inputs, lake: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *argv(inputs, lake)],
        cwd=ROOT,
        env={**os.environ, "FEEDLAKE_CRASH_AT": point},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_crash_at_any_step_is_repaired_by_the_next_run(point, inputs, clean_lake, tmp_path):
    lake = tmp_path / "lake"
    crashed = crash_at(point, inputs, lake)
    assert crashed.returncode == CRASH_EXIT, crashed.stderr
    committed = [m["run_id"] for m in committed_manifests(lake)]
    if point in COMMITTED:
        assert len(committed) == 1
    else:  # nothing of an uncommitted run is visible: no file, no manifest, no feed state
        assert committed == [] and published_files(lake) == []
        assert not (lake / "_state").exists()
    assert (lake / "_staging").exists()  # what the crash left

    assert main(argv(inputs, lake)) == 0  # the next writer repairs, then runs
    assert_whole(lake)
    assert content(lake) == content(clean_lake)
    assert len([m for m in manifests(lake) if m["status"] == "succeeded"]) == 1
    state = json.loads((lake / "_state" / "feeds.json").read_text())
    assert [entry["etag"] for entry in state.values()] == [ETAG]  # the next run gets a 304


def test_a_failed_manifest_write_leaves_the_feed_to_the_next_run(
    inputs, clean_lake, tmp_path, monkeypatch, capsys
):
    """The commit fails (a disk full, say): the feed's validators must not have moved, or
    the feed answers 304 next time and its items never land."""
    lake = tmp_path / "lake"
    real_create = lake_json.create_json_exclusive

    def full_disk(path: str, document) -> bool:
        if "/_commits/" in path:
            raise OSError(28, "No space left on device", path)
        return real_create(path, document)

    monkeypatch.setattr("pipeline.lake.fencing.create_json_exclusive", full_disk)
    assert main(argv(inputs, lake)) == 1
    assert "did not commit" in capsys.readouterr().err
    assert not (lake / "_state").exists() and published_files(lake) == []
    monkeypatch.setattr("pipeline.lake.fencing.create_json_exclusive", real_create)

    assert main(argv(inputs, lake)) == 0
    assert_whole(lake)
    assert content(lake) == content(clean_lake)
    feed_items = [r for r in records(lake, "articles") if r["source"]["feed_url"]]
    feed_items += [r for r in records(lake, "duplicates") if r["source"]["feed_url"]]
    assert len(feed_items) == 10  # the real drop's ten stories, by feed


def test_a_rerun_after_a_clean_run_writes_no_manifest(inputs, clean_lake):
    before = (content(clean_lake), len(manifests(clean_lake)))
    assert main(argv(inputs, clean_lake)) == 0  # drops skipped, the feed answers 304
    assert (content(clean_lake), len(manifests(clean_lake))) == before
