"""What a person sees when the command line or the lake is wrong: one line on stderr that
names what to fix, the exit code of docs/operating.md (2 usage, 1 the run failed), never a
traceback, and nothing written to the lake before the mistake is found."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.core.version import __version__
from tests.conftest import ROOT, SAMPLE_DROP

pytestmark = pytest.mark.e2e


def feedlake(*argv: str, stdout=subprocess.PIPE, timeout: float = 300, env=None):
    """``python -m pipeline.cli argv`` as a user runs it, with ``env`` added to the
    environment; stderr captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *argv],
        cwd=ROOT,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
        env={**os.environ, **env} if env else None,
    )


def one_line(stderr: str) -> str:
    """The single line a failed command printed; fails on a traceback or a usage dump."""
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def drops(tmp_path) -> Path:
    folder = tmp_path / "drops"
    folder.mkdir()
    shutil.copy(SAMPLE_DROP, folder)
    return folder


def test_version_prints_the_package_version():
    done = feedlake("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"feedlake {__version__}")


@pytest.mark.parametrize("below", ["", "sub/lake"])
def test_a_lake_path_that_is_a_file_is_a_usage_error(tmp_path, drops, below):
    blocker = tmp_path / "lake.txt"
    blocker.write_text("not a lake")
    lake = blocker / below if below else blocker
    done = feedlake("run", "--drops", str(drops), "--lake", str(lake))
    line = one_line(done.stderr)
    assert done.returncode == 2
    assert f"{blocker} is a file" in line and "--lake" in line
    assert blocker.read_text() == "not a lake"


def read_only_mount() -> list[str]:
    """A prefix that runs a shell script in a private mount namespace, where the script can
    mount a read-only tmpfs: a real EROFS, which even root cannot write."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to make a read-only filesystem")
    probe = subprocess.run(
        ["unshare", "--map-root-user", "--mount", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip("needs unshare with mount namespaces to make a read-only filesystem")
    return ["unshare", "--map-root-user", "--mount", "sh", "-c"]


def test_a_lake_on_a_read_only_filesystem_is_named_with_what_to_do(tmp_path, drops):
    prefix = read_only_mount()
    mount = tmp_path / "ro"
    mount.mkdir()
    lake = mount / "lake"
    script = (
        f'mount -t tmpfs -o ro none "{mount}" && exec "{sys.executable}" -m pipeline.cli run '
        f'--drops "{drops}" --lake "{lake}"'
    )
    done = subprocess.run([*prefix, script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    line = one_line(done.stderr)
    assert done.returncode == 2
    assert str(mount) in line and "read-only" in line and "--lake" in line


def test_a_lake_that_fails_mid_run_is_one_line_and_exit_1(tmp_path, drops):
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "_staging").write_text("a file where the run stages its files")
    done = feedlake("run", "--drops", str(drops), "--lake", str(lake), "--quiet")
    line = one_line(done.stderr)
    assert done.returncode == 1
    assert str(lake / "_staging") in line


@pytest.mark.parametrize(
    ("runner", "says"),
    [("NoSuchRunner", "use one of DataflowRunner"), ("DataflowRunner", "option: project")],
)
def test_a_runner_that_cannot_run_is_a_usage_error_and_writes_nothing(
    tmp_path, drops, runner, says
):
    lake = tmp_path / "lake"
    done = feedlake("run", "--drops", str(drops), "--lake", str(lake), "--runner", runner)
    line = one_line(done.stderr)
    assert done.returncode == 2
    assert f"--runner {runner}" in line and says in line
    assert not lake.exists()


def test_a_beam_option_with_a_bad_value_is_one_line(tmp_path, drops):
    lake = tmp_path / "lake"
    done = feedlake("run", "--drops", str(drops), "--lake", str(lake), "--direct_num_workers=abc")
    line = one_line(done.stderr)
    assert done.returncode == 2
    assert "--direct_num_workers" in line and "'abc'" in line
    assert not lake.exists()


def test_a_dedup_split_in_no_shard_is_a_usage_error(tmp_path, drops):
    lake = tmp_path / "lake"
    done = feedlake("run", "--drops", str(drops), "--lake", str(lake), "--dedup-shards", "0")
    assert done.returncode == 2
    assert one_line(done.stderr).endswith(": --dedup-shards must be 1 or more")
    assert not lake.exists()


def closed_pipe() -> int:
    """The write end of a pipe whose reader is already gone, as after ``| head`` returned."""
    read, write = os.pipe()
    os.close(read)
    return write


def test_inspect_into_a_closed_pipe_ends_quietly(tmp_path, drops):
    lake = tmp_path / "lake"
    assert feedlake("run", "--drops", str(drops), "--lake", str(lake), "--quiet").returncode == 0
    pipe = closed_pipe()
    try:
        done = feedlake("inspect", "--lake", str(lake), "--json", stdout=pipe)
    finally:
        os.close(pipe)
    assert (done.returncode, done.stderr) == (0, "")


def test_a_committed_run_into_a_closed_pipe_exits_0(tmp_path, drops):
    lake = tmp_path / "lake"
    pipe = closed_pipe()
    try:
        done = feedlake("run", "--drops", str(drops), "--lake", str(lake), "--json", stdout=pipe)
    finally:
        os.close(pipe)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    (manifest,) = (lake / "_runs").glob("*.json")
    assert json.loads(manifest.read_text())["status"] == "succeeded"


@pytest.mark.parametrize(
    ("argv", "flag", "close"),
    [
        (["run", "--lak", "x"], "--lak", "--lake"),
        (["run", "--drop", "x"], "--drop", "--drops"),
        (["run", "--verbos"], "--verbos", "--verbose"),
        (["run", "--quite"], "--quite", "--quiet"),
        (["run", "--jsn"], "--jsn", "--json"),
        (["run", "--feed", "x"], "--feed", "--feeds"),
        (["watch", "--drop", "x"], "--drop", "--drops"),
        (["compact", "--dryrun"], "--dryrun", "--dry-run"),
        (["validate", "--jsn", "x"], "--jsn", "--json"),
        (["inspect", "--lak", "x"], "--lak", "--lake"),
    ],
)
def test_an_abbreviated_or_misspelt_flag_is_one_line_with_the_closest(argv, flag, close):
    done = feedlake(*argv)
    line = one_line(done.stderr)
    assert done.returncode == 2
    assert f"unknown option {flag}: did you mean {close}?" in line
    assert not (ROOT / "x").exists()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "--codec", "gzip"], "--codec: 'gzip' is not one of deflate, snappy, null"),
        (["run", "--codec", "snapy"], "did you mean snappy?"),
        (["run", "--log-format", "jsn"], "did you mean json?"),
        (["run", "--feed-timeout", "soon"], "--feed-timeout: invalid float value: 'soon'"),
        (["compact", "--target-mb", "big"], "--target-mb: invalid float value: 'big'"),
        (["inspect", "--runs", "many"], "--runs 'many': give how many recent runs to list"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_flag(argv, says):
    done = feedlake(*argv)
    assert done.returncode == 2
    assert says in one_line(done.stderr)


def test_beam_options_still_pass_through(tmp_path, drops):
    lake = tmp_path / "lake"
    done = feedlake(
        "run", "--drops", str(drops), "--lake", str(lake), "--quiet", "--direct_num_workers=1"
    )
    assert done.returncode == 0, done.stderr
    assert list((lake / "_runs").glob("*.json"))


def test_watch_offers_no_run_id():
    helped = feedlake("watch", "--help")
    assert helped.returncode == 0 and "--run-id" not in helped.stdout
    done = feedlake("watch", "--run-id", "mine", "--drops", "x")
    assert done.returncode == 2
    assert "watch makes a run per batch" in one_line(done.stderr)


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_compact_on_a_folder_that_is_not_a_lake_creates_nothing(tmp_path, dry_run):
    notalake = tmp_path / "notalake"
    notalake.mkdir()
    (notalake / "notes.txt").write_text("not a lake")
    for lake in (notalake, tmp_path / "missing"):
        done = feedlake("compact", "--lake", str(lake), *dry_run)
        line = one_line(done.stderr)
        assert done.returncode == 2
        assert f"--lake {lake}: not a feedlake lake" in line
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notalake"]
    assert [path.name for path in notalake.iterdir()] == ["notes.txt"]
