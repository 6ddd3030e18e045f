"""The index stays a few files: a full tier is merged one level up (cascading), a full merge
leaves one file a folder, every entry is kept once and still found, and a merge interrupted
at its commit is finished by recovery, never leaving old and new files side by side."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipeline.lake import commit
from pipeline.lake.history import history_for, read_blocks
from pipeline.lake.lease import WriterLease
from pipeline.lake.tiers import FANOUT, TOP_LEVEL, merge_tiers, plan_merges
from tests.support.index import distinct, kept, run_of, story, write_index


def files(folder: str, *levels: int) -> list[str]:
    return [f"{folder}/L{level}-r{n}.avro" for n, level in enumerate(levels)]


def test_a_level_merges_once_it_holds_fanout_files():
    assert plan_merges("_index/ids", files("_index/ids", *[0] * (FANOUT - 1))) == []
    (merge,) = plan_merges("_index/ids", files("_index/ids", *[0] * FANOUT, 1))
    assert merge.level == 1 and len(merge.paths) == FANOUT  # the level-1 file stays


def test_a_merge_that_fills_the_next_level_cascades_in_one_go():
    paths = files("_catalog/drops", *[1] * (FANOUT - 1), *[0] * FANOUT)
    (merge,) = plan_merges("_catalog/drops", paths)
    assert merge.level == 2 and sorted(merge.paths) == sorted(paths)


def test_a_full_merge_leaves_one_file():
    paths = files("_index/links", 0, 0, 1, 3)
    (merge,) = plan_merges("_index/links", paths, full=True)
    assert merge.level == TOP_LEVEL and sorted(merge.paths) == sorted(paths)
    assert plan_merges("_index/links", paths[:1], full=True) == []


def year_of_runs(lake: Path, runs: int) -> list:
    """``runs`` runs' index files, each of three distinct stories, a day apart."""
    stories = []
    for run in range(runs):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=run)
        batch = [story(distinct(run * 3 + n), n, day, guid=f"urn:{run}:{n}") for n in range(3)]
        write_index(lake, kept(*batch), f"L0-run{run:03d}")
        stories += batch
    return stories


def entries(lake: Path, folder: str) -> list[bytes]:
    return sorted(
        key.tobytes()
        for path in (lake / folder).glob("L*-*.avro")
        for block in read_blocks(str(path))
        for key in block.keys
    )


def test_merged_files_hold_every_entry_once_and_lookups_still_find_them(tmp_path):
    stories = year_of_runs(tmp_path, FANOUT + 1)
    before = {folder: entries(tmp_path, folder) for folder in ("_index/ids", "_index/links")}
    with WriterLease(str(tmp_path), "test") as lease:
        lease.acquire()
        manifest = merge_tiers(str(tmp_path), lease)
        assert manifest is not None and not (tmp_path / "_staging").exists()
        assert merge_tiers(str(tmp_path), lease) is None  # nothing due any more
    names = sorted(p.name.split("-")[0] for p in (tmp_path / "_index" / "ids").iterdir())
    assert names == ["L1"]  # a full level (here nine files) becomes one file a level up
    for folder, held in before.items():
        assert entries(tmp_path, folder) == held
    copy = run_of(story(stories[5].body, 9, dt.date(2026, 6, 1)))
    found = history_for(str(tmp_path), copy.entries, copy.day, window=0)
    assert [entry.id for entry in found] == [stories[5].id]


def test_a_merge_killed_after_its_commit_is_finished_by_recovery(tmp_path, monkeypatch):
    year_of_runs(tmp_path, FANOUT)
    before = entries(tmp_path, "_index/ids")

    class Killed(BaseException):
        pass

    def crash(point: str) -> None:
        if point == "committed":
            raise Killed(point)

    monkeypatch.setattr(commit, "reached", crash)
    lease = WriterLease(str(tmp_path), "test")
    lease.acquire()
    with pytest.raises(Killed):
        merge_tiers(str(tmp_path), lease)
    lease.release()
    monkeypatch.undo()
    old = sorted(p.name for p in (tmp_path / "_index" / "ids").iterdir())
    assert len(old) == FANOUT  # committed, not yet finished: the old files only
    with WriterLease(str(tmp_path), "test") as next_writer:
        next_writer.acquire()
        (repaired,) = commit.recover(str(tmp_path))
    assert repaired.action == "finished"
    (merged,) = (tmp_path / "_index" / "ids").iterdir()
    assert merged.name.startswith("L1-") and entries(tmp_path, "_index/ids") == before
    assert not (tmp_path / "_staging").exists()


def test_a_merged_file_is_read_a_block_at_a_time_and_still_found(tmp_path, monkeypatch):
    monkeypatch.setattr("pipeline.lake.history.ENTRIES_PER_BLOCK", 4)  # a reader's bound
    stories = year_of_runs(tmp_path, FANOUT)
    with WriterLease(str(tmp_path), "test") as lease:
        lease.acquire()
        merge_tiers(str(tmp_path), lease, full=True)
    (merged,) = (tmp_path / "_index" / "ids").iterdir()
    blocks = list(read_blocks(str(merged)))
    assert [len(block.keys) for block in blocks] == [4] * 6  # 24 ids, in order across blocks
    assert [k for block in blocks for k in block.keys] == sorted(k for b in blocks for k in b.keys)
    for wanted in (stories[0], stories[-1]):
        copy = run_of(story(wanted.body, 9, dt.date(2026, 6, 1)))
        found = history_for(str(tmp_path), copy.entries, copy.day, window=0)
        assert [entry.id for entry in found] == [wanted.id]
