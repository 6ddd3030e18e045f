"""Publishing a committed run (commit protocol 5), named after its promises: a folder the lake
does not have yet arrives whole, by one rename; a folder it has gets the run's files one by
one; finishing again after a crash at any rename leaves the same lake; a file staged but not
in the manifest never reaches the lake; and each run's staging lands where the allocator
places a hierarchy of its own."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from pipeline.lake import fileops
from pipeline.lake.commit import commit_run, finish_run, make_staging, staging_folder
from pipeline.lake.confine import OutsideLake
from pipeline.lake.description import COMMIT_PROTOCOL
from pipeline.lake.fileops import is_top_folder, make_top_folder
from pipeline.lake.lease import WriterLease

RUN = "20261207T120000000Z-0a1b2c3d"
EXISTING = "articles/dt=2025-01-01/region=asia/topic=politics"
NEW = ["articles/dt=2025-01-02/region=asia/topic=politics", "articles/dt=2025-01-02/region=europe"]


def staged_run(lake: Path, generation: int = 1) -> dict:
    """A run that stages one file in a folder the lake has and two in a new day's folders,
    and its manifest."""
    (lake / EXISTING).mkdir(parents=True)
    (lake / EXISTING / "earlier.avro").write_bytes(b"an earlier run's")
    staging = Path(staging_folder(str(lake), RUN, generation))
    outputs = []
    for folder in (EXISTING, *NEW):
        staged = staging / "files" / folder / f"{RUN}-00000-of-00001.avro"
        staged.parent.mkdir(parents=True, exist_ok=True)
        staged.write_bytes(folder.encode())
        outputs.append({"path": str(lake / folder / staged.name), "records": 1})
    return {
        "run_id": RUN,
        "status": "succeeded",
        "commit_protocol": COMMIT_PROTOCOL,
        "lease_generation": generation,
        "outputs": outputs,
    }


def renames_made(monkeypatch) -> list[tuple[str, str]]:
    made, real = [], os.rename

    def rename(old, new):
        made.append((str(old), str(new)))
        real(old, new)

    monkeypatch.setattr(os, "rename", rename)
    return made


def published(lake: Path) -> dict[str, bytes]:
    return {
        p.relative_to(lake).as_posix(): p.read_bytes()
        for p in (lake / "articles").rglob("*")
        if p.is_file()
    }


def test_a_new_days_folder_arrives_whole_by_one_rename(tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    manifest = staged_run(lake)
    staging = staging_folder(str(lake), RUN, 1)
    renames = renames_made(monkeypatch)
    finish_run(str(lake), manifest)
    name = f"{RUN}-00000-of-00001.avro"
    assert renames == [
        (f"{staging}/files/{EXISTING}/{name}", f"{lake}/{EXISTING}/{name}"),
        (f"{staging}/files/articles/dt=2025-01-02", f"{lake}/articles/dt=2025-01-02"),
    ]
    assert published(lake) == {
        f"{EXISTING}/earlier.avro": b"an earlier run's",
        **{f"{folder}/{name}": folder.encode() for folder in (EXISTING, *NEW)},
    }
    assert not (lake / "_staging").exists()


@pytest.mark.parametrize("renamed", [0, 1])
def test_finishing_again_after_a_crash_at_any_rename_leaves_the_same_lake(
    renamed, tmp_path, monkeypatch
):
    lake, clean = tmp_path / "lake", tmp_path / "clean"
    finish_run(str(clean), staged_run(clean))
    manifest = staged_run(lake)
    real, done = os.rename, []

    def rename(old, new):
        if len(done) == renamed:
            raise SystemExit("the process ends here")
        real(old, new)
        done.append(new)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(SystemExit):
        finish_run(str(lake), manifest)
    monkeypatch.setattr(os, "rename", real)
    finish_run(str(lake), manifest)
    assert published(lake) == published(clean)


def test_a_folder_whose_staging_the_disk_lost_is_named(tmp_path):
    lake = tmp_path / "lake"
    manifest = staged_run(lake)
    staged = Path(staging_folder(str(lake), RUN, 1)) / "files" / "articles" / "dt=2025-01-02"
    staged.rename(tmp_path / "elsewhere")
    with pytest.raises(FileNotFoundError, match=f"{staged} is missing and .*dt=2025-01-02 was"):
        finish_run(str(lake), manifest)


def test_a_file_staged_but_not_in_the_manifest_never_reaches_the_lake(tmp_path, caplog):
    lake = tmp_path / "lake"
    with WriterLease(str(lake), "test") as lease:
        lease.acquire()
        manifest = staged_run(lake, lease.generation)
        staging = Path(staging_folder(str(lake), RUN, lease.generation))
        stray = staging / "files" / NEW[1] / "from-a-worker-nobody-heard.avro"
        stray.write_bytes(b"not reported")
        commit_run(str(lake), manifest, lease)
    assert "from-a-worker-nobody-heard.avro" not in str(published(lake))
    assert f"{stray} was staged but is not in the run's manifest: removed" in caplog.text
    assert len(published(lake)) == 4


def test_each_runs_staging_is_placed_as_a_hierarchy_of_its_own(tmp_path):
    probe = tmp_path / "probe"
    make_top_folder(str(probe))
    if not is_top_folder(str(probe)):
        pytest.skip("this file system has no top-of-hierarchy flag (not ext2/3/4)")
    staging = make_staging(str(tmp_path / "lake"), RUN, 1)
    assert is_top_folder(os.path.dirname(staging))
    assert not is_top_folder(str(tmp_path))  # only the folder the runs are made in


def test_a_file_system_without_the_flag_keeps_a_plain_folder(tmp_path, monkeypatch):
    real = fcntl.ioctl

    def refused(fd, request, *args):  # the flag is read as it is; setting it is refused
        if request == fileops._SET_FLAGS:
            raise OSError(95, "Operation not supported")
        return real(fd, request, *args)

    monkeypatch.setattr(fcntl, "ioctl", refused)
    make_top_folder(str(tmp_path / "plain"))
    assert (tmp_path / "plain").is_dir() and not is_top_folder(str(tmp_path / "plain"))


def test_staging_a_tree_makes_each_folder_once_and_opens_each_file_once(tmp_path, monkeypatch):
    fileops.open_new(str(tmp_path / "known")).close()  # the process knows tmp_path is there
    made, opened, real_mkdir, real_open = [], [], os.mkdir, open

    def mkdir(path, *args, **kwargs):
        made.append(str(path))
        real_mkdir(path, *args, **kwargs)

    def counted_open(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(fileops, "open", counted_open, raising=False)
    files = tmp_path / "staging" / "files"
    paths = [files / folder / f"{n}.avro" for folder in NEW for n in range(3)]
    for path in paths:
        fileops.open_new(str(path)).close()
    assert sorted(made) == sorted(
        {str(p) for path in paths for p in path.parents if tmp_path in p.parents}
    )
    assert opened == [str(path) for path in paths]


def test_a_folder_removed_since_it_was_made_is_made_again(tmp_path):
    path = tmp_path / "a" / "b" / "f.json"
    fileops.open_new(str(path)).close()
    os.unlink(path)
    os.rmdir(path.parent)
    with fileops.open_new(str(path)) as fh:
        fh.write(b"again")
    assert path.read_bytes() == b"again"


def victim_folder(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep me")
    return victim


@pytest.mark.parametrize("where", ["articles", EXISTING, "articles/dt=2025-01-02"])
def test_a_link_where_a_run_publishes_is_refused_before_the_commit(tmp_path, where):
    lake = tmp_path / "lake"
    victim = victim_folder(tmp_path)
    with WriterLease(str(lake), "test") as lease:
        lease.acquire()
        manifest = staged_run(lake, lease.generation)
        if (lake / where).exists():
            (lake / where).rename(tmp_path / "held")
        (lake / where).symlink_to(victim, target_is_directory=True)
        with pytest.raises(OutsideLake, match=f"{lake / where} is a symbolic link .*victim"):
            commit_run(str(lake), manifest, lease)
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt"]
    assert not list((lake / "_commits").glob("*")), "the run committed"


def test_a_link_planted_after_the_commit_stops_finishing_before_anything_goes_through_it(
    tmp_path,
):
    lake = tmp_path / "lake"
    victim = victim_folder(tmp_path)
    (victim / "earlier.avro").write_bytes(b"outside the lake")
    manifest = staged_run(lake)
    manifest["replaced"] = [str(lake / EXISTING / "earlier.avro")]
    (lake / EXISTING).rename(tmp_path / "held")
    (lake / EXISTING).symlink_to(victim, target_is_directory=True)
    with pytest.raises(OutsideLake, match=f"{lake / EXISTING} is a symbolic link"):
        finish_run(str(lake), manifest)
    assert sorted(p.name for p in victim.iterdir()) == ["earlier.avro", "keep.txt"]
    assert not (lake / "articles" / "dt=2025-01-02").exists(), "published before the check"
