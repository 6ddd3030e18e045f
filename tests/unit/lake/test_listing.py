"""The listing a reader works from: partition folders feedlake writes only, one state of a
compaction's swap, and a read retried when its files vanished."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.lake import listing
from pipeline.lake.listing import LakeKeptChanging, list_lake, read_settled

FOLDER = "articles/dt=2025-08-29/region=asia/topic=politics"


def touch(lake: Path, relative: str) -> str:
    path = lake / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"Obj\x01")
    return str(path)


def names(lake: Path) -> list[str]:
    return sorted(Path(file.path).name for file in list_lake(str(lake)).files)


@pytest.fixture
def swapping(tmp_path) -> Path:
    """A lake of two files in a folder, and a committed compaction replacing them by one,
    not finished: its staging folder is still there, its new file not yet renamed in."""
    lake = tmp_path / "lake"
    old = [touch(lake, f"{FOLDER}/{name}.avro") for name in ("a", "b")]
    touch(lake, "_staging/C/files/x")
    manifest = {
        "run_id": "C",
        "kind": "compaction",
        "status": "succeeded",
        "lake": str(lake),
        "outputs": [{"path": str(lake / FOLDER / "c.avro")}],
        "replaced": old,
    }
    (lake / "_runs").mkdir()
    (lake / "_runs" / "C.json").write_text(json.dumps(manifest))
    return lake


def test_a_swap_is_read_before_it_then_after_it_never_both(swapping):
    assert names(swapping) == ["a.avro", "b.avro"]
    touch(swapping, f"{FOLDER}/c.avro")  # renamed into place: both states on disk
    assert names(swapping) == ["c.avro"]
    (swapping / FOLDER / "a.avro").unlink()
    assert names(swapping) == ["c.avro"]


def test_without_a_committed_manifest_every_file_counts(swapping):
    (swapping / "_runs" / "C.json").unlink()
    touch(swapping, f"{FOLDER}/c.avro")
    assert names(swapping) == ["a.avro", "b.avro", "c.avro"]


def test_folders_feedlake_does_not_write_are_named_not_read(tmp_path):
    touch(tmp_path, f"{FOLDER}/a.avro")
    for odd in ("articles/region=a=b/x.avro", "articles/loose.avro", "rejects/dt=x/y.avro"):
        touch(tmp_path, odd)
    found = list_lake(str(tmp_path))
    assert [Path(f.path).name for f in found.files] == ["a.avro", "loose.avro"]
    assert found.skipped == {"articles/region=a=b": 1, "rejects/dt=x": 1}


def test_a_read_whose_file_vanished_is_tried_again_on_a_new_listing(tmp_path):
    touch(tmp_path, f"{FOLDER}/a.avro")
    gone = touch(tmp_path, f"{FOLDER}/b.avro")
    seen = []

    def read(found: listing.Listing) -> int:
        seen.append(len(found.files))
        if Path(gone).exists():
            Path(gone).unlink()  # as a compaction's delete would, between listing and read
            raise FileNotFoundError(gone)
        return len(found.files)

    assert read_settled(str(tmp_path), read) == 1
    assert seen == [2, 1]


def test_a_failure_with_every_file_there_is_not_retried(tmp_path):
    touch(tmp_path, f"{FOLDER}/a.avro")
    calls = []

    def read(found: listing.Listing) -> None:
        calls.append(1)
        raise OSError("the disk")

    with pytest.raises(OSError, match="the disk"):
        read_settled(str(tmp_path), read)
    assert calls == [1]


def test_a_lake_that_keeps_changing_ends_in_one_message(tmp_path, monkeypatch):
    monkeypatch.setattr(listing, "_PAUSE", 0.0)
    touch(tmp_path, f"{FOLDER}/a.avro")

    def read(found: listing.Listing) -> None:
        """Each listed file is replaced by a new one before it is read, every time."""
        (listed,) = found.files
        Path(listed.path).unlink()
        touch(tmp_path, f"{FOLDER}/{Path(listed.path).stem}a.avro")
        raise FileNotFoundError(listed.path)

    with pytest.raises(LakeKeptChanging, match="5 tries") as raised:
        read_settled(str(tmp_path), read)
    assert "a.avro" in str(raised.value) and "\n" not in str(raised.value)
