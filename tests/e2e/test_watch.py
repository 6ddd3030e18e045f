"""`feedlake watch` as a user runs it: a subprocess, drops arriving, a feed changing, a stop
and a restart; the lake ends with exactly the expected articles, each once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fastavro
import pytest

from benchmarks.corpus import generate
from tests.conftest import ROOT, SAMPLE_DROP, published_files
from tests.support.feed_server import ITEMS, FeedServer
from tools.feedgen import drop_items

pytestmark = [pytest.mark.e2e, pytest.mark.long]
POLL = 4.0


def article_ids(lake: Path) -> list[str]:
    ids = []
    for path in lake.glob("articles/**/*.avro"):
        with path.open("rb") as fh:
            ids += [r["id"] for r in fastavro.reader(fh)]
    return ids


def wait_for(lake: Path, count: int, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if len(article_ids(lake)) >= count:
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{len(article_ids(lake))} articles after {limit} s, expected {count}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(drops: Path, feeds: Path, lake: Path) -> subprocess.Popen:
    argv = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "watch",
        "--drops",
        str(drops),
        "--feeds",
        str(feeds),
    ]
    argv += ["--lake", str(lake), "--poll-interval", str(POLL), "--feed-min-interval", "0"]
    argv += ["--settle-seconds", "1"]  # drops here are written at once
    return subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def stop(process: subprocess.Popen) -> tuple[int, float]:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=30)
    return code, time.monotonic() - started


def generated_drop(seed: int, count: int) -> str:
    corpus = generate(count, exact_rate=0, near_rate=0, seed=seed, per_drop=count)
    (text,) = corpus.drops.values()
    return text


def test_watch_keeps_the_lake_current_across_a_restart(tmp_path, capsys):
    drops, lake, feeds = tmp_path / "drops", tmp_path / "lake", tmp_path / "feeds.txt"
    drops.mkdir()
    extra_feed_items = [
        {**item, "guid": f"extra-{n}", "link": f"https://milosi.example/extra/{n}/"}
        for n, item in enumerate(drop_items(generated_drop(99, 2).encode()))
    ]
    latencies = []
    with FeedServer() as server:
        server.live_items = ITEMS[:2]
        feeds.write_text(server.url + "/live.xml\n")
        process = start(drops, feeds, lake)
        try:
            latencies.append(wait_for(lake, 2, 60))  # the feed's two items
            (drops / "milosi-2025-08-29.txt").write_bytes(SAMPLE_DROP.read_bytes())
            latencies.append(wait_for(lake, 10, 2 * POLL + 10))
            (drops / "milosi-2025-08-30.txt").write_text(generated_drop(11, 40))
            server.live_items = ITEMS[:2] + extra_feed_items
            latencies.append(wait_for(lake, 52, 2 * POLL + 10))
            idle_from = cpu_seconds(process.pid)
            time.sleep(3 * POLL)
            idle_share = (cpu_seconds(process.pid) - idle_from) / (3 * POLL)
        finally:
            code, stopping = stop(process)
        assert (code, stopping < 15) == (0, True)
        restarted = start(drops, feeds, lake)
        try:
            (drops / "milosi-2025-08-31.txt").write_text(generated_drop(12, 40))
            latencies.append(wait_for(lake, 92, 60))
        finally:
            code, _ = stop(restarted)
        assert code == 0
        polls = server.hits["/live.xml"]
    ids = article_ids(lake)
    assert len(ids) == len(set(ids)) == 92  # every story once: 10 + 40 + 2 + 40
    manifests = [json.loads(p.read_text()) for p in sorted((lake / "_runs").glob("*.json"))]
    read = [i["uri"] for m in manifests for i in m["inputs"] if i["type"] == "drop"]
    assert len(read) == len(set(read)) == 3  # each drop processed once, restart included
    for manifest in manifests:
        counts = manifest["counts"]
        assert counts["segments"] == counts["articles"] + counts["duplicates"] + counts["rejects"]
    assert idle_share < 0.25
    with capsys.disabled():
        print(
            f"\nwatch: batches visible after {[round(s, 1) for s in latencies]} s "
            f"(poll {POLL} s); idle CPU {idle_share:.1%} of a core; stop took {stopping:.1f} s; "
            f"{polls} feed polls"
        )


def test_a_watcher_killed_mid_write_neither_loses_nor_doubles_on_restart(tmp_path):
    drops, lake, feeds = tmp_path / "drops", tmp_path / "lake", tmp_path / "feeds.txt"
    drops.mkdir()
    feeds.write_text("")  # no feed: drops only
    (drops / "milosi-2025-09-01.txt").write_text(generated_drop(21, 300))
    argv = [sys.executable, "-m", "pipeline.cli", "watch", "--drops", str(drops)]
    argv += ["--lake", str(lake), "--poll-interval", "1"]
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(lake.glob("articles/**/*.avro")) and time.monotonic() < deadline:
        time.sleep(0.01)  # kill as soon as the first file is published
    process.kill()
    process.wait(timeout=30)
    for path in published_files(lake):  # whatever readers can see reads back whole
        with path.open("rb") as fh:
            list(fastavro.reader(fh))
    restarted = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lake, 300, 120)
        time.sleep(2)  # a further poll must not add anything
    finally:
        stop(restarted)
    ids = article_ids(lake)
    assert len(ids) == len(set(ids)) == 300


def test_a_drop_still_being_written_is_ingested_once_and_whole(tmp_path):
    drops, lake = tmp_path / "drops", tmp_path / "lake"
    drops.mkdir()
    growing, renamed = generated_drop(31, 160).encode(), generated_drop(32, 40).encode()
    argv = [sys.executable, "-m", "pipeline.cli", "watch", "--drops", str(drops)]
    argv += ["--lake", str(lake), "--poll-interval", "1"]  # the default --settle-seconds
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(4)  # the watcher is polling
        with (drops / "milosi-2025-09-02.txt").open("wb") as fh:  # written over 8 s
            for at in range(0, len(growing), len(growing) // 16 + 1):
                fh.write(growing[at : at + len(growing) // 16 + 1])
                fh.flush()
                time.sleep(0.5)
        part = drops / "milosi-2025-09-03.txt.part"  # written, then renamed
        part.write_bytes(renamed[: len(renamed) // 2])
        time.sleep(2)
        with part.open("ab") as fh:
            fh.write(renamed[len(renamed) // 2 :])
        part.rename(drops / "milosi-2025-09-03.txt")
        wait_for(lake, 200, 60)
        time.sleep(3)  # later polls add nothing
    finally:
        stop(process)
    ids = article_ids(lake)
    assert len(ids) == len(set(ids)) == 200
    manifests = [json.loads(p.read_text()) for p in sorted((lake / "_runs").glob("*.json"))]
    read = sorted(Path(i["uri"]).name for m in manifests for i in m["inputs"])
    assert read == ["milosi-2025-09-02.txt", "milosi-2025-09-03.txt"]
    assert {(m["counts"]["duplicates"], m["counts"]["rejects"]) for m in manifests} == {(0, 0)}
