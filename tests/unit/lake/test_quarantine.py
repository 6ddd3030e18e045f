"""Damaged metadata is found by reading it as the commands do, and moved aside, never
deleted."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pipeline.lake.confine import NewerLakeFormat
from pipeline.lake.quarantine import move_aside, survey


def manifest(lake: Path, run_id: str, **fields) -> dict:
    return {"run_id": run_id, "status": "succeeded", "lake": str(lake), "outputs": [], **fields}


@pytest.fixture
def lake(tmp_path) -> Path:
    """A lake of metadata only: a description, two good manifests (one written where the lake
    was before it was moved), a feed state."""
    root = tmp_path / "lake"
    (root / "_runs").mkdir(parents=True)
    (root / "_state").mkdir()
    (root / "_lake.json").write_text(json.dumps({"format_version": 2, "partition_by": ["dt"]}))
    (root / "_runs" / "r1.json").write_text(json.dumps(manifest(root, "r1")))
    moved = manifest(tmp_path / "old", "r2", replaced=[f"{tmp_path}/old/_index/ids/L0-r1.avro"])
    (root / "_runs" / "r2.json").write_text(json.dumps(moved))
    (root / "_state" / "feeds.json").write_text(json.dumps({"https://f.example/rss": {}}))
    return root


def test_a_whole_lake_has_nothing_damaged(lake):
    assert survey(str(lake)) == []


def damage(lake: Path) -> dict[str, bytes]:
    """Each kind of damage, by its path below the lake, with its bytes (a folder: its marker's)."""
    planted = {
        "_lake.json": b'{"format_version": 2, "partition_by": ',
        "_runs/r1.json": json.dumps(manifest(lake, "r1", replaced=["/etc/passwd"])).encode(),
        "_runs/r3.json": b"\xff\xfe garbage",
        "_state/feeds.json": b'["not", "an", "object"]',
        "_staging/*/RUNNING": json.dumps({"commit_protocol": 1}).encode(),
        "_staging/r4/RUNNING": b"{",
        "_staging/r3/files/x.avro": b"staged by a run whose manifest is garbage",
        "_staging/r5": b"a file where a run's folder belongs",
    }
    for relative, data in planted.items():
        (lake / relative).parent.mkdir(parents=True, exist_ok=True)
        (lake / relative).write_bytes(data)
    return planted


def test_each_damaged_file_is_found_with_what_is_lost(lake):
    damage(lake)
    found = {d.relative(str(lake)): d for d in survey(str(lake))}
    assert sorted(found) == [
        "_lake.json",
        "_runs/r1.json",
        "_runs/r3.json",
        "_staging/*",
        "_staging/r3",
        "_staging/r4",
        "_staging/r5",
        "_state/feeds.json",
    ]
    assert "outside the lake" in found["_runs/r1.json"].problem
    assert "conditional GET starts over" in found["_state/feeds.json"].lost
    assert "no run id" in found["_staging/*"].problem
    assert "a file where" in found["_staging/r5"].problem
    assert "r3.json" in found["_staging/r3"].problem
    assert all(d.rebuild is None for d in found.values())


def test_moving_aside_keeps_every_byte_and_leaves_a_lake_with_nothing_damaged(lake):
    planted = damage(lake)
    now = dt.datetime(2026, 12, 7, 5, 0, tzinfo=dt.timezone.utc)
    folder = Path(move_aside(str(lake), survey(str(lake)), now))
    assert folder == lake / "_damaged" / "20261207T050000000000Z"
    for relative, data in planted.items():
        assert (folder / relative).read_bytes() == data
        assert not (lake / relative).exists()
    report = json.loads((folder / "repair.json").read_text())
    assert len(report["moved"]) == 8
    assert survey(str(lake)) == []
    assert (lake / "_runs" / "r2.json").exists()


def test_a_lake_of_a_newer_format_is_not_surveyed(lake):
    (lake / "_lake.json").write_text(json.dumps({"format_version": 99, "partition_by": []}))
    with pytest.raises(NewerLakeFormat, match="format 99"):
        survey(str(lake))


def test_links_are_found_anywhere_in_the_lake_never_followed_and_moved_as_links(lake, tmp_path):
    victim = tmp_path / "victim"
    (victim / "_staging" / "looks-like-a-run").mkdir(parents=True)
    (lake / "articles" / "dt=2025-01-01").mkdir(parents=True)
    deep = lake / "articles" / "dt=2025-01-01" / "region=asia"
    deep.symlink_to(victim, target_is_directory=True)
    region = "articles/dt=2025-01-01/region=asia"
    assert [d.relative(str(lake)) for d in survey(str(lake))] == [region]
    top = lake / "_catalog"
    top.symlink_to(victim, target_is_directory=True)
    found = survey(str(lake))
    assert [d.relative(str(lake)) for d in found] == ["_catalog", region]
    assert all("symbolic link" in d.problem and "victim" in d.problem for d in found)
    folder = Path(move_aside(str(lake), found))
    assert (folder / "_catalog").is_symlink() and (folder / region).is_symlink()
    assert (victim / "_staging" / "looks-like-a-run").is_dir()
    assert survey(str(lake)) == []


def test_a_link_in_the_root_is_all_that_is_surveyed_until_it_is_moved(lake, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "not-a-run").write_text("what a survey through the link would call damaged")
    (lake / "_staging").symlink_to(victim, target_is_directory=True)
    assert [d.relative(str(lake)) for d in survey(str(lake))] == ["_staging"]
