"""Deduplication end to end: a generated corpus, a rerun, a later drop, and a killed run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import fastavro
import pytest

from benchmarks.corpus import generate, write
from pipeline.cli import main
from tests.conftest import ROOT, published_files
from tests.support.lake import content, index_ids, manifests, records

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    generated = generate(400, exact_rate=0.15, near_rate=0.15, seed=5, per_drop=100)
    write(generated, folder)
    return generated, folder / "drops"


@pytest.fixture(scope="module")
def first_run(corpus, tmp_path_factory):
    _, drops = corpus
    lake = tmp_path_factory.mktemp("lake")
    assert main(["run", "--drops", str(drops), "--lake", str(lake), "--quiet"]) == 0
    return lake


def test_every_segment_is_an_article_or_a_duplicate(first_run):
    (manifest,) = manifests(first_run)
    counts = manifest["counts"]
    assert (
        counts["segments"] == 400 == counts["articles"] + counts["duplicates"] + counts["rejects"]
    )
    assert counts["rejects"] == 0 and counts["duplicates"] > 80
    assert len(records(first_run, "articles")) == counts["articles"]
    assert len(records(first_run, "duplicates")) == counts["duplicates"]
    assert len(index_ids(first_run)) == counts["articles"]


def test_duplicates_point_at_the_right_kept_article(corpus, first_run):
    generated, _ = corpus
    truth = {(t["drop"], t["position"]): t for t in generated.truth}

    def story(record):
        entry = truth[
            (record["lineage"]["source_uri"].rsplit("/", 1)[1], record["lineage"]["segment_index"])
        ]
        return entry["original"] if entry["kind"] != "distinct" else entry["id"]

    kept = {r["id"]: r for r in records(first_run, "articles")}
    duplicates = records(first_run, "duplicates")
    for duplicate in duplicates:
        assert duplicate["_partition"].startswith("duplicates/dt=")
        assert story(duplicate) == story(kept[duplicate["dedup"]["duplicate_of"]])
        assert duplicate["dedup"]["kind"] in ("exact", "near")
    exact_copies = sum(t["kind"] == "exact" for t in generated.truth)
    assert Counter(d["dedup"]["kind"] for d in duplicates)["exact"] >= exact_copies
    assert sum(r["dedup"]["copies"] for r in kept.values()) == len(duplicates)


def index_blocks_held(lake) -> list:
    """Every block of the lake's index, by folder, whatever its file's run id."""
    return sorted((r.pop("_partition"), sorted(r.items())) for r in records(lake, "_index"))


def test_a_run_that_decides_in_shards_writes_what_a_run_in_one_step_writes(corpus, tmp_path):
    # The same history (the first two drops), then the last two decided either way: copies
    # within the run and of the history, exact and near.
    _, drops = corpus
    first, last = (
        [arg for path in paths for arg in ("--drops", str(path))]
        for paths in (sorted(drops.iterdir())[:2], sorted(drops.iterdir())[2:])
    )
    lakes = {}
    multi_process = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    for way, argv in {"one step": [], "in shards": ["--dedup-shards", "3", *multi_process]}.items():
        lake = lakes[way] = tmp_path / way.replace(" ", "-")
        assert main(["run", "--lake", str(lake), "--quiet", *first]) == 0
        assert main(["run", "--lake", str(lake), "--quiet", *last, *argv]) == 0
    one, sharded = (manifests(lakes[way])[-1]["counts"] for way in ("one step", "in shards"))
    assert one == sharded and one["duplicates_by_kind"]["near"] > 10
    assert content(lakes["one step"]) == content(lakes["in shards"])
    assert index_blocks_held(lakes["one step"]) == index_blocks_held(lakes["in shards"])


def test_an_unchanged_folder_is_skipped_without_a_new_run(corpus, first_run, capsys):
    _, drops = corpus
    runs = len(manifests(first_run))
    assert main(["run", "--drops", str(drops), "--lake", str(first_run)]) == 0
    assert "nothing new: 4 drop(s) already ingested" in capsys.readouterr().out
    assert len(manifests(first_run)) == runs


def test_a_copied_drop_is_skipped_by_its_sha256(corpus, first_run, tmp_path, capsys):
    _, drops = corpus
    copy = tmp_path / "renamed.txt"
    copy.write_bytes(next(iter(sorted(drops.iterdir()))).read_bytes())
    assert main(["run", "--drops", str(copy), "--lake", str(first_run)]) == 0
    assert "nothing new: 1 drop(s)" in capsys.readouterr().out


def test_a_rerun_adds_no_article(corpus, first_run, tmp_path):
    _, drops = corpus
    before = content(first_run)
    argv = ["run", "--drops", str(drops), "--lake", str(first_run), "--reprocess", "--quiet"]
    assert main(argv) == 0
    rerun = manifests(first_run)[-1]["counts"]
    assert (rerun["articles"], rerun["duplicates"]) == (0, 400)
    after = content(first_run)
    assert {k: v for k, v in after.items() if k[0] == "articles"} == {
        k: v for k, v in before.items() if k[0] == "articles"
    }


def test_a_later_drop_that_republishes_a_story_is_caught(first_run, tmp_path):
    kept = records(first_run, "articles")[0]
    words = " ".join(kept["body"]).split()
    words[len(words) // 2] = "corrected"
    later = tmp_path / "milosi-2025-09-30.txt"
    later.write_text(
        f"Republished: {kept['title']}\n\nRegion: Asia –\n\n{' '.join(words)}\n", "utf-8"
    )
    assert main(["run", "--drops", str(later), "--lake", str(first_run), "--quiet"]) == 0
    counts = manifests(first_run)[-1]["counts"]
    assert (counts["articles"], counts["duplicates_by_kind"]) == (0, {"near": 1})


def test_a_killed_run_leaves_no_partial_file_and_the_next_run_heals(corpus, first_run, tmp_path):
    _, drops = corpus
    lake = tmp_path / "lake"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "run",
            "--drops",
            str(drops),
            "--lake",
            str(lake),
            "--quiet",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not list(lake.glob("articles/**/*.avro")) and time.monotonic() < deadline:
        if process.poll() is not None:
            break
        time.sleep(0.01)  # kill as soon as publishing has started, before the commit
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    for path in published_files(lake):  # whatever readers can see reads back whole
        with path.open("rb") as fh:
            list(fastavro.reader(fh))
    assert main(["run", "--drops", str(drops), "--lake", str(lake), "--quiet"]) == 0
    # The fixture lake has seen more runs since: compare with its first run's files alone.
    assert content(lake) == content(first_run, manifests(first_run)[0]["run_id"])
    assert not (lake / "_staging").exists()
