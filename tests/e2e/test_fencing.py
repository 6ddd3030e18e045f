"""Split brain: writer A stopped (SIGSTOP, by ``FEEDLAKE_PAUSE_AT``) at each step of the commit
protocol, writer B taking the lease over once A's heartbeat has expired, then A resumed.

Whatever the step, no committed manifest lists a file that does not exist, every segment of
the drops is kept exactly once (read back with fastavro), and A either committed before B
took over (B finishes A's run) or exits non-zero saying it lost the writer lease."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.lake.commit import CRASH_POINTS
from pipeline.lake.lease import TTL_VARIABLE
from tests.conftest import ROOT
from tests.support.lake import assert_whole, manifests, stories_corpus, stories_once

pytestmark = [pytest.mark.e2e, pytest.mark.long]
BEFORE_COMMIT = CRASH_POINTS[: CRASH_POINTS.index("committed")]
TTL = "3"  # seconds: B takes A's lease over about 5 s after A stops


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two drops of 24 articles; a quarter exact copies, some across drops."""
    return stories_corpus(tmp_path_factory.mktemp("corpus"), 48, per_drop=24)


def feedlake(*argv: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *argv, "--quiet"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, TTL_VARIABLE: TTL, **(env or {})},
    )


def wait_stopped(process: subprocess.Popen, timeout: float = 300) -> None:
    """Until ``process`` has stopped itself (state T in /proc); fails if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        with open(f"/proc/{process.pid}/stat", encoding="ascii") as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.05)
    raise AssertionError(f"the writer never reached its pause point in {timeout} s")


def finish(process: subprocess.Popen) -> tuple[int, str]:
    out, err = process.communicate(timeout=600)
    return process.returncode, out + err


def split_brain(step: str, drops: list[Path], lake: str, flags: list[str]) -> tuple[int, str]:
    """A stopped at ``step``, B run to its end, A resumed: A's exit code and output."""
    given = [arg for drop in drops for arg in ("--drops", str(drop))]
    a = feedlake(
        "run", *given[:2], "--lake", lake, "--run-id", "writer-a", *flags,
        env={"FEEDLAKE_PAUSE_AT": step},
    )  # fmt: skip
    try:
        wait_stopped(a)
        b = feedlake("run", *given, "--lake", lake, "--wait-for-lock", "300", *flags)
        code, said = finish(b)
        assert code == 0, said
    finally:
        a.send_signal(signal.SIGCONT)
    return finish(a)


def assert_lost_the_lease(code: int, said: str) -> None:
    assert code != 0
    lines = said.strip().splitlines()
    assert len(lines) == 1, said
    assert "lost the writer lease" in lines[0] and "Traceback" not in said


@pytest.mark.parametrize("step", CRASH_POINTS)
def test_a_writer_stopped_at_any_step_never_commits_over_the_next(corpus, tmp_path, step):
    drops, stories = corpus
    lake = tmp_path / "lake"
    code, said = split_brain(step, drops, str(lake), [])
    committed = [m for m in manifests(lake) if m["run_id"] == "writer-a"]
    if step in BEFORE_COMMIT:
        assert_lost_the_lease(code, said)
        assert committed == []
        assert json.loads(next((lake / "_commits").iterdir()).read_text())["decision"] == (
            "abandoned"
        )
    else:  # A committed before B looked: B finished A's run, A's own finishing is a repeat
        assert [m["status"] for m in committed] == ["succeeded"]
        assert "Traceback" not in said
    assert_whole(lake)  # every committed manifest's files exist; nothing left in staging
    stories_once(lake, stories)


@pytest.mark.parametrize("step", ["checked", "committed"])
def test_a_writer_stopped_around_the_commit_on_an_object_store(corpus, tmp_path, store, step):
    drops, stories = corpus
    lake = store.uri("lake")
    code, said = split_brain(step, drops, lake, store.flags)
    keys = store.keys()
    runs = [json.loads(store.read(k)) for k in keys if k.startswith("lake/_runs/")]
    committed = [m for m in runs if m["run_id"] == "writer-a" and m["status"] == "succeeded"]
    if step in BEFORE_COMMIT:
        assert_lost_the_lease(code, said)
        assert committed == []
    else:
        assert len(committed) == 1
    for manifest in runs:
        for output in manifest["outputs"]:
            assert output["path"].removeprefix(store.uri() + "/") in keys, output["path"]
    assert not [key for key in keys if key.startswith("lake/_staging/")]
    local = tmp_path / "copy"
    for key in keys:
        (local / key).parent.mkdir(parents=True, exist_ok=True)
        (local / key).write_bytes(store.read(key))
    stories_once(local / "lake", stories)


HOLD = """
import sys, time
from pipeline.lake.lease import WriterLease
lease = WriterLease(sys.argv[1], "run", "elsewhere")
lease.acquire()
print("held", flush=True)
time.sleep(600)
"""


def namespaced_holder(lake: Path) -> subprocess.Popen:
    """A process holding the lake's lease from a PID namespace of its own (on this host, in
    this boot): its pid, small there, names another process or none here."""
    holder = subprocess.Popen(
        [
            "unshare",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            sys.executable,
            "-c",
            HOLD,
            str(lake),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, TTL_VARIABLE: TTL},
    )
    if holder.stdout.readline().strip() != "held":
        holder.kill()
        pytest.skip(f"no PID namespace here (unshare: {holder.communicate()[1].strip()})")
    return holder


def test_a_live_holder_in_another_pid_namespace_keeps_its_lease(tmp_path):
    """Before: the holder recorded pid 1 on this host, and a second writer judged "that
    process is gone" and took the live lease at once."""
    from pipeline.lake.lease import LeaseHeld, WriterLease

    lake = tmp_path / "lake"
    holder = namespaced_holder(lake)
    try:
        (path,) = (lake / "_lease").iterdir()
        recorded = json.loads(path.read_text())["holder"]
        assert recorded["pid_namespace"] != os.readlink("/proc/self/ns/pid")
        time.sleep(2 * float(TTL))  # longer than its expiry: only its heartbeat keeps it
        with pytest.raises(LeaseHeld, match=rf"pid {recorded['pid']} on"):
            WriterLease(str(lake), "run", "here").acquire(wait=0)
    finally:
        holder.kill()  # unshare, and with it the namespace's processes
        holder.communicate()


def test_a_dead_holder_in_another_pid_namespace_is_taken_over_once_its_heartbeat_stops(
    tmp_path, caplog
):
    from pipeline.lake.lease import WriterLease

    lake = tmp_path / "lake"
    holder = namespaced_holder(lake)
    holder.kill()
    holder.communicate()
    with WriterLease(str(lake), "run", "here") as lease:
        lease.acquire(wait=60)
        assert lease.held
    assert "its heartbeat stopped" in caplog.text and "process is gone" not in caplog.text
