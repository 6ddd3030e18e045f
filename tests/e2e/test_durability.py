"""A committed run survives a power cut (docs/operating.md, "Durability").

The order is read from the system calls of a real ``feedlake run`` and ``feedlake compact``
(with its index merge) under strace: every file a manifest lists has its content and its
folder entry synced before the manifest is renamed into ``_runs/``, the manifest's own name
is synced before any file is published, and the published names are synced before staging
is removed. Then a power cut is played at each step of a run: the lake a disk could hold
after it (names never synced undone, content never synced empty; tests/support/syscalls.py)
is handed to the next writer, and what it leaves is the run committed whole or not at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.corpus import generate, write
from pipeline.cli import main
from pipeline.lake.commit import CRASH_EXIT
from tests.conftest import ROOT
from tests.support.lake import assert_whole, content, manifests
from tests.support.syscalls import Call, Disk, calls, strace_missing, traced

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.long,
    pytest.mark.skipif(strace_missing() is not None, reason=strace_missing() or ""),
]
SYNCS = ("syncfs", "sync")


@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> tuple[Path, Path]:
    """Two folders of small generated drops: the lake's history, and the next run's."""
    folder = tmp_path_factory.mktemp("drops")
    write(generate(24, exact_rate=0.2, near_rate=0.1, seed=5, per_drop=12), folder / "first")
    write(generate(24, exact_rate=0.2, near_rate=0.1, seed=6, per_drop=12), folder / "next")
    return folder / "first" / "drops", folder / "next" / "drops"


def feedlake(*argv: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *argv]


def _renamed_to(trace: list[Call], target: str) -> Call:
    found = [c for c in trace if c.name.startswith("rename") and _new_path(c) == target]
    assert found, f"nothing was renamed to {target}"
    return found[-1]


def _published(trace: list[Call], lake: Path, target: str) -> tuple[Call, str]:
    """The rename that put ``target`` in place (its own, or a folder's above it, renamed
    whole), and where ``target`` was staged before it."""
    renames = {_new_path(c): c for c in trace if c.name.startswith("rename")}
    path = target
    while path != str(lake) and path not in renames:
        path = os.path.dirname(path)
    assert path in renames, f"nothing was renamed to {target} or to a folder above it"
    call = renames[path]
    return call, _old_path(call) + target[len(path) :]


def _new_path(call: Call) -> str:
    return call.path(1) if call.name == "rename" else call.path(3, 2)


def _old_path(call: Call) -> str:
    return call.path(0) if call.name == "rename" else call.path(1, 0)


def _synced_between(trace: list[Call], after: int, before: int, path: str, folder: bool) -> bool:
    """Whether a sync that covers ``path`` (its content, or with ``folder`` its entries)
    began after line ``after`` and returned before line ``before``."""
    for call in trace:
        if not after < call.start or not call.done < before:
            continue
        if call.name in SYNCS:
            return True
        if call.name in ("fsync", "fdatasync") and call.fd_path(0) == path:
            return not folder or call.name == "fsync"
    return False


def _last_write(trace: list[Call], path: str, until: int) -> int:
    writes = [
        c.done
        for c in trace
        if c.done < until
        and (
            (c.name in ("write", "pwrite64", "writev") and c.fd_path(0) == path)
            or (c.name in ("openat", "open") and c.ret_path == path)
        )
    ]
    assert writes, f"{path} was never written"
    return writes[-1]


def assert_durable_commits(trace: list[Call], lake: Path, manifest: dict) -> None:
    """The order of one commit, as docs/operating.md promises it."""
    run_id = manifest["run_id"]
    commit = _renamed_to(trace, str(lake / "_runs" / f"{run_id}.json"))
    manifest_partial = _old_path(commit)
    assert _synced_between(
        trace, _last_write(trace, manifest_partial, commit.start), commit.start,
        manifest_partial, folder=False,
    ), f"the manifest of {run_id} was renamed in before its content was synced"  # fmt: skip
    publishing = []
    for output in manifest["outputs"]:
        published, staged = _published(trace, lake, output["path"])
        written = _last_write(trace, staged, commit.start)
        assert _synced_between(trace, written, commit.start, staged, folder=False), (
            f"{staged}'s content was not synced before its run {run_id} committed"
        )
        assert _synced_between(trace, written, commit.start, os.path.dirname(staged), True), (
            f"{staged}'s name was not synced before its run {run_id} committed"
        )
        publishing.append(published)
    first = min(call.start for call in publishing)
    assert _synced_between(trace, commit.done, first, str(lake / "_runs"), folder=True), (
        f"files of {run_id} were published before its manifest's name was synced"
    )
    staging = str(lake / "_staging" / f"{run_id}@{manifest['lease_generation']}")
    last = max(call.done for call in publishing)
    cleaning = [  # what goes from staging once the run is published (its parts may go before)
        c.start
        for c in trace
        if c.name in ("unlink", "unlinkat", "rmdir")
        and c.start > last
        and (c.path(0) if c.name != "unlinkat" else c.path(1, 0)).startswith(staging + "/")
    ]
    for call in publishing:
        folder = os.path.dirname(_new_path(call))
        assert _synced_between(trace, last, min(cleaning, default=10**12), folder, True), (
            f"{_new_path(call)} was published but its name was not synced before staging went"
        )


def test_what_a_manifest_lists_is_on_the_disk_before_the_manifest(drops, tmp_path):
    lake = tmp_path / "lake"
    first, later = drops
    for n, folder in enumerate((first, later)):
        log = tmp_path / f"run{n}.strace"
        done = traced(feedlake("run", "--drops", str(folder), "--lake", str(lake)), log, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        assert_durable_commits(calls(log), lake, manifests(lake)[-1])
    log = tmp_path / "compact.strace"
    done = traced(feedlake("compact", "--lake", str(lake)), log, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    compacted = [m for m in manifests(lake) if m.get("kind") in ("compaction", "tiers")]
    assert {m["kind"] for m in compacted} == {"compaction", "tiers"}
    for manifest in compacted:
        assert_durable_commits(calls(log), lake, manifest)


@pytest.fixture(scope="module")
def history(drops, tmp_path_factory) -> Path:
    """A lake that holds the first drops."""
    lake = tmp_path_factory.mktemp("history") / "lake"
    assert main(["run", "--drops", str(drops[0]), "--lake", str(lake), "--quiet"]) == 0
    return lake


@pytest.fixture(scope="module")
def clean(drops, history, tmp_path_factory) -> Path:
    """What one clean run of the next drops leaves on that lake."""
    lake = tmp_path_factory.mktemp("clean") / "lake"
    shutil.copytree(history, lake)
    assert main(["run", "--drops", str(drops[1]), "--lake", str(lake), "--quiet"]) == 0
    return lake


@pytest.mark.parametrize("names_kept", [False, True], ids=["names-undone", "names-kept"])
@pytest.mark.parametrize(
    "point",
    ["verified", "synced", "committed", "published", "published_synced", "cleaning"],
)
def test_a_power_cut_leaves_a_run_committed_whole_or_not_at_all(
    point, names_kept, drops, history, clean, tmp_path
):
    lake, before = tmp_path / "lake", tmp_path / "before"
    shutil.copytree(history, lake)
    shutil.copytree(history, before)
    log = tmp_path / "cut.strace"
    crashed = traced(
        feedlake("run", "--drops", str(drops[1]), "--lake", str(lake), "--quiet"),
        log,
        cwd=ROOT,
        env={**os.environ, "FEEDLAKE_CRASH_AT": point},
    )
    assert crashed.returncode == CRASH_EXIT, crashed.stderr
    cut = Disk(lake, before).replay(calls(log))
    disk = cut.crashed(tmp_path / "after-the-cut", names_kept)
    lake.rename(tmp_path / "as-the-process-left-it")
    disk = disk.rename(lake)  # where it was: manifests name their files by path
    next_run = subprocess.run(
        feedlake("run", "--drops", str(drops[1]), "--lake", str(disk), "--quiet"),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert next_run.returncode == 0, next_run.stderr
    assert_whole(disk)
    assert content(disk) == content(clean)


def test_recovery_names_the_files_of_a_committed_run_the_disk_lost(drops, history, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(history, lake)
    argv = feedlake("run", "--drops", str(drops[1]), "--lake", str(lake), "--quiet")
    crashed = subprocess.run(
        argv, cwd=ROOT, capture_output=True, env={**os.environ, "FEEDLAKE_CRASH_AT": "recorded"}
    )
    assert crashed.returncode == CRASH_EXIT
    manifest = manifests(lake)[-1]
    lost = manifest["outputs"][0]
    relative = Path(lost["path"]).relative_to(lake).as_posix()
    (staged,) = [  # where the run staged it, flat (protocol 3) or in a tree (2)
        p
        for p in (lake / "_staging").rglob("*.avro")
        if p.as_posix().endswith("/" + relative) or p.name.endswith(relative.replace("/", "%2F"))
    ]
    staged.write_bytes(b"")  # a disk that lied: the file's blocks never came
    for _ in range(2):  # and a retry is no silent success either
        again = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
        assert again.returncode == 1
        assert lost["path"] in again.stderr and "not whole" in again.stderr, again.stderr
        assert "Traceback" not in again.stderr
