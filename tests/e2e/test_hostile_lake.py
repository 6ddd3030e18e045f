"""A lake's own files are input: whoever can write one file in a shared lake must not be able
to make the next writer write or delete anywhere else on its machine, nor make it destroy the
lake. Each case plants a crafted file in a real lake, with a victim folder beside the lake, and
runs the real command: it is refused with one line naming the file, the victim is untouched
and the lake's data is whole."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import fastavro
import pytest

import schemas
from pipeline.lake.paths import staged_name
from tests.conftest import SAMPLE_DROP, published_files
from tests.e2e.test_cli_errors import feedlake, one_line

pytestmark = [pytest.mark.e2e, pytest.mark.long]


@pytest.fixture(scope="module")
def committed_lake(tmp_path_factory) -> Path:
    """A lake holding one committed run of the sample drop."""
    root = tmp_path_factory.mktemp("committed")
    done = feedlake("run", "--drops", str(SAMPLE_DROP), "--lake", str(root / "lake"), "--quiet")
    assert done.returncode == 0, done.stderr
    return root / "lake"


@pytest.fixture
def lake(committed_lake, tmp_path) -> Path:
    copy = tmp_path / "lake"
    shutil.copytree(committed_lake, copy)
    return copy


@pytest.fixture
def victim(tmp_path) -> Path:
    """A folder beside the lake, with a file and a subfolder: nothing may touch it."""
    folder = tmp_path / "victim"
    (folder / "sub").mkdir(parents=True)
    (folder / "keep.txt").write_text("keep me\n")
    (folder / "sub" / "inner.txt").write_text("and me\n")
    return folder


def tree(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` with the SHA-256 of its bytes."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def empty_container(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fastavro.writer(fh, fastavro.parse_schema(schemas.expanded("Article")), [])


def plant_committed_run(lake: Path, manifest: dict) -> Path:
    """A committed manifest ``_runs/evil.json`` and a staging folder ``_staging/evil/`` holding
    a staged file for each output it names: what recovery finishes."""
    for output in manifest.get("outputs", []):
        relative = output["path"][len(str(lake)) :].lstrip("/")
        empty_container(lake / "_staging" / "evil" / "files" / staged_name(relative))
    (lake / "_staging" / "evil").mkdir(parents=True, exist_ok=True)
    path = lake / "_runs" / "evil.json"
    path.write_text(
        json.dumps({"run_id": "evil", "status": "succeeded", "commit_protocol": 3, **manifest})
    )
    return path


def hostile_manifests(lake: Path, victim: Path) -> dict[str, dict]:
    return {
        "an output through ..": {
            "outputs": [
                {
                    "path": f"{lake}/../{victim.name}/planted.avro",
                    "kind": "articles",
                    "partition": "",
                    "records": 0,
                }
            ]
        },
        "a replaced file elsewhere": {"replaced": [str(victim / "keep.txt")]},
        "a run id that climbs out": {"run_id": f"../../{victim.name}"},
    }


def runs_again(lake: Path):
    return feedlake("run", "--drops", str(SAMPLE_DROP), "--lake", str(lake), "--quiet")


@pytest.mark.parametrize(
    "case", ["an output through ..", "a replaced file elsewhere", "a run id that climbs out"]
)
def test_a_manifest_pointing_outside_the_lake_is_refused_and_nothing_outside_changes(
    lake, victim, case
):
    before, data = tree(victim.parent / victim.name), published_files(lake)
    planted = plant_committed_run(lake, hostile_manifests(lake, victim)[case])
    done = runs_again(lake)
    assert tree(victim) == before, f"{case}: the victim folder beside the lake was changed"
    assert published_files(lake) == data
    assert done.returncode == 1, done.stderr
    line = one_line(done.stderr)
    assert str(planted) in line and "outside the lake" in line and "feedlake repair" in line


def pattern_folder(lake: Path) -> Path:
    """A folder named ``*`` whose marker says the first commit protocol: recovery of such a
    run deletes the files it published, found by its name."""
    marker = lake / "_staging" / "*" / "RUNNING"
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps({"commit_protocol": 1}))
    return marker.parent


def file_in_staging(lake: Path) -> Path:
    path = lake / "_staging" / "junk"
    path.parent.mkdir()
    path.write_text("not a run's folder")
    return path


@pytest.mark.parametrize("plant", [pattern_folder, file_in_staging])
def test_a_staging_entry_that_is_no_run_is_refused_no_data_file_goes_and_repair_moves_it(
    lake, plant
):
    data = published_files(lake)
    assert data
    entry = plant(lake)
    done = runs_again(lake)
    assert published_files(lake) == data, "recovery deleted the lake's data files"
    assert done.returncode == 1, done.stderr
    line = one_line(done.stderr)
    assert str(entry) in line and "feedlake repair" in line
    repaired = feedlake("repair", "--lake", str(lake))
    assert repaired.returncode == 0, repaired.stderr
    assert not entry.exists() and list((lake / "_damaged").glob(f"*/_staging/{entry.name}"))
    assert runs_again(lake).returncode == 0
    assert published_files(lake) == data


def test_a_lake_of_a_newer_format_is_refused_and_never_rewritten(lake, tmp_path):
    description = lake / "_lake.json"
    newer = {**json.loads(description.read_text()), "format_version": 99, "future": [1, 2]}
    description.write_text(json.dumps(newer))
    held = description.read_bytes()
    lease = lake / "_lease"
    shutil.rmtree(lease, ignore_errors=True)
    for argv in (
        ["run", "--drops", str(SAMPLE_DROP), "--reprocess"],
        ["compact"],
        ["compact", "--dry-run"],
        ["repair"],
        ["repair", "--dry-run"],
        ["inspect"],
        ["inspect", "--sql", "SELECT 1"],
        ["watch", "--drops", str(SAMPLE_DROP), "--poll-interval", "0.1"],
    ):
        done = feedlake(*argv, "--lake", str(lake), timeout=120)
        assert done.returncode == 2, (argv, done.stderr)
        line = one_line(done.stderr)
        assert "format 99" in line and "format 2," in line and str(description) in line, line
        assert description.read_bytes() == held
        assert not lease.exists(), f"{argv}: a lease was taken in a lake it refuses"


def test_a_garbled_description_is_one_line_and_repair_lets_the_next_run_write_it_again(lake):
    description = lake / "_lake.json"
    description.write_bytes(b'{"format_version": 2, "partition_by": \xff')
    done = runs_again(lake)
    assert done.returncode == 1, done.stderr
    assert str(description) in one_line(done.stderr)
    repaired = feedlake("repair", "--lake", str(lake))
    assert repaired.returncode == 0, repaired.stderr
    done = feedlake("run", "--drops", str(SAMPLE_DROP), "--lake", str(lake), "--reprocess")
    assert done.returncode == 0, done.stderr
    assert json.loads(description.read_text())["partition_by"] == ["dt", "region", "topic"]
    # A lake of format 2 that lost its description is no lake of format 1: nothing migrated.
    assert "format 1" not in repaired.stderr + done.stderr
    kinds = [json.loads(path.read_text()).get("kind") for path in lake.glob("_runs/*.json")]
    assert "upgrade" not in kinds, kinds


# Where a symbolic link to the victim is planted (below the lake's root), and whether the first
# run of a new lake meets it before or after the run's data is written: each is a place a
# writer writes into, or deletes in, that a link would carry outside the lake.
LINKS = {
    "a partition folder": "articles/dt=2025-08-29",
    "a partition's region folder": "articles/dt=2025-08-29/region=europe",
    "the articles folder": "articles",
    "the staging folder": "_staging",
    "a run's staging folder": "_staging/planted@1",
    "an old run's staging folder": "_staging/planted",
    "the manifests folder": "_runs",
    "the lease folder": "_lease",
}


def plant_link(lake: Path, relative: str, victim: Path) -> Path:
    link = lake / relative
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(victim, target_is_directory=True)
    return link


@pytest.mark.parametrize("case", list(LINKS))
def test_a_symbolic_link_in_the_lake_is_refused_and_nothing_outside_changes(tmp_path, victim, case):
    """A link where the lake's own folder belongs would carry a writer's renames, files and
    deletes to where it points (a staging folder linked to the victim: recovery removed the
    victim's files). It is refused, by name, before anything is written there."""
    lake = tmp_path / "new-lake"
    lake.mkdir()
    before = tree(victim)
    link = plant_link(lake, LINKS[case], victim)
    done = runs_again(lake)
    assert tree(victim) == before, f"{case}: the victim folder beside the lake was changed"
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt", "sub"], case
    assert done.returncode == 1, done.stderr
    line = one_line(done.stderr)
    assert str(link) in line and "symbolic link" in line and "outside the lake" in line, line
    assert not list(lake.glob("_runs/*.json")), f"{case}: a run committed through the link"


def test_a_linked_staging_folder_is_moved_aside_by_repair_as_a_link_and_the_lake_runs_again(
    lake, victim
):
    data = published_files(lake)
    before = tree(victim)
    link = plant_link(lake, "_staging/planted@1", victim)
    done = runs_again(lake)
    assert done.returncode == 1 and str(link) in one_line(done.stderr), done.stderr
    repaired = feedlake("repair", "--lake", str(lake))
    assert repaired.returncode == 0, repaired.stderr
    assert str(link.relative_to(lake)) in repaired.stdout and "symbolic link" in repaired.stdout
    moved = list((lake / "_damaged").glob("*/_staging/planted@1"))
    assert len(moved) == 1 and moved[0].is_symlink(), "repair must move the link, not its target"
    assert tree(victim) == before
    assert runs_again(lake).returncode == 0
    assert published_files(lake) == data and tree(victim) == before


def test_a_linked_damaged_folder_is_refused_by_repair_which_moves_nothing_into_it(lake, victim):
    """repair moves what it moves aside into _damaged/: linked elsewhere, that would be a
    write outside the lake. It says to remove the link, and moves nothing."""
    before = tree(victim)
    link = plant_link(lake, "_damaged", victim)
    for argv in (["repair"], ["repair", "--dry-run"]):
        done = feedlake(*argv, "--lake", str(lake))
        assert done.returncode == 1, done.stderr
        line = one_line(done.stderr)
        assert str(link) in line and "symbolic link" in line and f"rm {link}" in line, line
        assert tree(victim) == before and sorted(p.name for p in victim.iterdir()) == [
            "keep.txt",
            "sub",
        ]
    link.unlink()
    assert feedlake("repair", "--lake", str(lake)).returncode == 0
