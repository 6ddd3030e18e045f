"""Ctrl-C: a real SIGINT sent to a real ``feedlake`` process at a known point (waiting for
the lease, inside the pipeline, after the commit) ends it with one line and exit 130, and
leaves a lake the next run proceeds on. Each point is found by watching the process's
output, the lake or the feed server, never by sleeping."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_DROP
from tests.e2e.test_cli_errors import feedlake
from tests.support.feed_server import FeedServer
from tests.support.lake import manifests

pytestmark = [pytest.mark.e2e, pytest.mark.long]
INTERRUPTED = 130


class Feedlake:
    """``python -m pipeline.cli argv`` in the background, its stderr gathered as it comes."""

    def __init__(self, *argv: str, stdout=subprocess.DEVNULL) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", *argv],
            cwd=ROOT,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_for(self, condition, what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"ended before {what}: {self.stderr}"
            assert time.monotonic() < deadline, f"no {what} within {timeout} s: {self.stderr}"
            time.sleep(0.02)

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)

    def finish(self, timeout: float = 120) -> int:
        code = self.process.wait(timeout)
        self.reader.join(timeout)
        return code

    @property
    def stderr(self) -> str:
        return "".join(self.lines)


def last_line(run: Feedlake) -> str:
    assert "Traceback" not in run.stderr and "ERROR" not in run.stderr, run.stderr
    return run.lines[-1].strip()


def next_run_proceeds(lake: Path, drops: Path) -> None:
    done = feedlake("run", "--drops", str(drops), "--lake", str(lake))
    assert done.returncode == 0, done.stderr
    assert not list(lake.glob("_staging/*"))
    assert any(m["status"] == "succeeded" and m["counts"]["articles"] for m in manifests(lake))


@pytest.fixture
def drops(tmp_path) -> Path:
    folder = tmp_path / "drops"
    folder.mkdir()
    (folder / SAMPLE_DROP.name).write_bytes(SAMPLE_DROP.read_bytes())
    return folder


@pytest.fixture
def server():
    with FeedServer() as running:
        yield running
        running.release.set()


def feed_list(tmp_path: Path, server: FeedServer, route: str) -> Path:
    listing = tmp_path / "feeds.txt"
    listing.write_text(server.url + route + "\n")
    return listing


@pytest.mark.parametrize("mode", ["in_memory", "multi_threading"])
def test_an_interrupt_inside_the_pipeline_commits_nothing(tmp_path, drops, server, mode):
    lake = tmp_path / "lake"
    feeds = feed_list(tmp_path, server, "/slow.xml")
    workers = [f"--direct_running_mode={mode}", "--direct_num_workers=2"]
    inputs = ["--feeds", str(feeds), "--drops", str(drops), "--lake", str(lake)]
    run = Feedlake("run", *inputs, *(workers if mode != "in_memory" else []))
    run.wait_for(lambda: server.hits.get("/slow.xml"), "request for the feed")
    run.interrupt()
    assert run.finish() == INTERRUPTED
    assert last_line(run) == (
        "feedlake run: interrupted: nothing was committed; the next run on this lake clears "
        "what this one staged"
    )
    assert not list(lake.glob("_runs/*.json")) and not list(lake.glob("articles/**/*.avro"))
    next_run_proceeds(lake, drops)


def test_an_interrupt_while_waiting_for_the_lease_commits_nothing(tmp_path, drops, server):
    lake = tmp_path / "lake"
    feeds = feed_list(tmp_path, server, "/held.xml")
    server.hits["/held.xml"] = 1  # the holder's first request waits too
    holder = Feedlake("run", "--feeds", str(feeds), "--lake", str(lake))
    holder.wait_for(lambda: server.hits.get("/held.xml", 0) > 1, "the holder's request")
    waiter = Feedlake("run", "--drops", str(drops), "--lake", str(lake), "--wait-for-lock", "600")
    waiter.wait_for(lambda: "waiting" in waiter.stderr, "the wait for the lease")
    waiter.interrupt()
    assert waiter.finish() == INTERRUPTED
    assert last_line(waiter).startswith("feedlake run: interrupted: nothing was committed")
    server.release.set()
    assert holder.finish() == 0, holder.stderr
    next_run_proceeds(lake, drops)
    assert len(manifests(lake)) == 2  # the holder's run and the next one, nothing of the waiter


def full_pipe() -> tuple[int, int]:
    """A pipe that holds one page: a writer of more blocks until it is read."""
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    return read_end, write_end


def unread(fd: int) -> int:
    held = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, held)
    return int.from_bytes(held, sys.byteorder)


def test_an_interrupt_after_the_commit_says_the_run_is_in_the_lake(tmp_path, drops):
    lake = tmp_path / "lake"
    read_end, write_end = full_pipe()
    run = Feedlake("run", "--drops", str(drops), "--lake", str(lake), "--json", stdout=write_end)
    os.close(write_end)
    try:
        # The manifest (about 4 KB of JSON) fills the pipe: the process is then blocked in
        # printing it, after its commit.
        run.wait_for(lambda: unread(read_end) == 4096, "the summary filling stdout")
        (manifest,) = manifests(lake)
        run.interrupt()
        assert run.finish() == INTERRUPTED
    finally:
        os.close(read_end)
    run_id = manifest["run_id"]
    assert manifest["status"] == "succeeded"
    assert last_line(run) == (
        f"feedlake run: interrupted after the commit: run {run_id} is in the lake "
        f"({lake / '_runs' / (run_id + '.json')})"
    )
    assert json.loads((lake / "_runs" / f"{run_id}.json").read_text())["status"] == "succeeded"
    done = feedlake("run", "--drops", str(drops), "--lake", str(lake))
    assert done.returncode == 0 and "nothing new" in done.stdout, done.stderr


def test_an_interrupted_validate_is_one_line(tmp_path):
    fifo = tmp_path / "milosi-2025-08-29.txt"
    os.mkfifo(fifo)
    check = Feedlake("validate", str(fifo))
    opened = threading.Event()

    def writer() -> None:  # returns once validate has the FIFO open for reading
        with open(fifo, "wb"):
            opened.set()
            check.process.wait(120)

    threading.Thread(target=writer, daemon=True).start()
    check.wait_for(opened.is_set, "validate reading its file")
    check.interrupt()
    assert check.finish() == INTERRUPTED
    assert last_line(check) == "feedlake validate: interrupted"


def test_a_watch_batch_is_let_commit_then_a_second_interrupt_stops_at_once(tmp_path, server, drops):
    lake = tmp_path / "lake"
    feeds = feed_list(tmp_path, server, "/held.xml")
    flags = ["--feeds", str(feeds), "--lake", str(lake), "--poll-interval", "0.2"]
    watcher = Feedlake("watch", *flags)
    watcher.wait_for(lambda: server.hits.get("/held.xml", 0) > 1, "the batch's request")
    watcher.interrupt()
    watcher.wait_for(lambda: "stopping after this batch" in watcher.stderr, "the acknowledgement")
    server.release.set()
    assert watcher.finish() == 0, watcher.stderr
    assert [m["status"] for m in manifests(lake)] == ["succeeded"]
    assert "stopped after 1 batch(es)" in watcher.lines[-1]

    server.release.clear()
    server.hits.clear()
    (tmp_path / "feeds.txt").write_text(server.url + "/held.xml?again\n")
    watcher = Feedlake("watch", *flags)
    watcher.wait_for(lambda: server.hits.get("/held.xml", 0) > 1, "the batch's request")
    watcher.interrupt()
    watcher.wait_for(lambda: "stopping after this batch" in watcher.stderr, "the acknowledgement")
    watcher.interrupt()
    assert watcher.finish() == INTERRUPTED
    assert watcher.lines[-1].startswith("feedlake watch: stopped at once")
    assert "Traceback" not in watcher.stderr
    next_run_proceeds(lake, drops)  # the lease of a process gone is taken over
