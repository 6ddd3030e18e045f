"""`feedlake watch` as an operator runs it: a line at start, one per batch and one at the end
(nothing for the drops already ingested), JSON lines on request, and Prometheus metrics and a
health check scraped over loopback from the running process."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_DROP
from tests.support.feed_server import FeedServer
from tests.support.lake import manifests

pytestmark = [pytest.mark.e2e, pytest.mark.long]
POLL = 1.0


@pytest.fixture
def drops(tmp_path) -> Path:
    """Twenty copies of the real drop (one batch: 10 articles, 190 duplicates) and a binary
    file (a reject)."""
    folder = tmp_path / "drops"
    folder.mkdir()
    for day in range(1, 21):
        shutil.copy(SAMPLE_DROP, folder / f"milosi-2025-08-{day:02d}.txt")
    (folder / "garbage.bin").write_bytes(bytes(range(256)) * 40)
    return folder


def start(*argv: str) -> subprocess.Popen:
    """A watcher over drops that are complete before it starts (no settling to wait for)."""
    command = [sys.executable, "-m", "pipeline.cli", "watch", "--poll-interval", str(POLL)]
    command += ["--settle-seconds", "0", *argv]
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def committed(lake: Path, count: int, limit: float = 120) -> list[dict]:
    """The lake's manifests once ``count`` batches have committed."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if len(found := manifests(lake)) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {count} committed batch(es) after {limit} s")


def stopped(process: subprocess.Popen) -> list[str]:
    """SIGTERM, then the process's stderr lines; it must exit 0."""
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    return stderr.splitlines()


def test_a_line_at_start_one_per_batch_and_none_for_old_drops(drops, tmp_path):
    lake = tmp_path / "lake"
    process = start("--drops", str(drops), "--lake", str(lake))
    try:
        (manifest,) = committed(lake, 1)
        time.sleep(6 * POLL)  # six polls over 21 drops already ingested
    finally:
        lines = stopped(process)
    assert len(lines) == 3, lines
    first, batch, last = lines
    assert first == f"feedlake: watching drops {drops} (21 files now) into {lake} every 1 s"
    assert batch.startswith(f"feedlake: batch {manifest['run_id']}: 21 drop(s), 0 feed(s): ")
    assert "10 articles, 190 duplicates, 1 rejects in" in batch
    assert last == "feedlake: stopped after 1 batch(es)"


def scrape(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def sample(metrics: str, name: str) -> float:
    """The value of one sample line of the exposition text, e.g. ``feedlake_polls_total``."""
    (line,) = [line for line in metrics.splitlines() if line.startswith(name + " ")]
    return float(line.rsplit(" ", 1)[1])


def test_json_logs_metrics_and_health_over_loopback(drops, tmp_path):
    lake, feeds = tmp_path / "lake", tmp_path / "feeds.txt"
    with FeedServer() as server:
        feeds.write_text(f"{server.url}/rss.xml\n{server.url}/gone.xml\n")
        argv = ["--drops", str(drops), "--feeds", str(feeds), "--lake", str(lake)]
        argv += ["--feed-min-interval", "0", "--feed-attempts", "1", "--log-format", "json"]
        process = start(*argv, "--metrics-port", "0", "--metrics-address", "127.0.0.1")
        try:
            start_line = json.loads(process.stderr.readline())
            (manifest,) = committed(lake, 1)
            time.sleep(3 * POLL)  # polls where the feed answers 304 and the other 404
            base = start_line["metrics"].removesuffix("/metrics")
            status, metrics = scrape(base + "/metrics")
            health = scrape(base + "/healthz")
        finally:
            lines = stopped(process)
    records = [start_line] + [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    events = [r["event"] for r in records]
    assert events == ["start", "feed_failing", "batch", "stop"], records
    assert records[2]["articles"] == manifest["counts"]["articles"] > 0
    assert status == 200
    assert sample(metrics, 'feedlake_batches_total{outcome="committed"}') == 1
    assert sample(metrics, 'feedlake_batches_total{outcome="failed"}') == 0
    assert sample(metrics, "feedlake_articles_total") == manifest["counts"]["articles"]
    exact = manifest["counts"]["duplicates_by_kind"]["exact"]
    assert sample(metrics, 'feedlake_duplicates_total{kind="exact"}') == exact
    assert sample(metrics, 'feedlake_rejects_total{reason="binary_content"}') == 1
    assert sample(metrics, 'feedlake_feed_polls_total{outcome="ok"}') == 1
    assert sample(metrics, 'feedlake_feed_polls_total{outcome="not_modified"}') >= 2
    assert sample(metrics, 'feedlake_feed_polls_total{outcome="http_error"}') >= 3
    assert sample(metrics, "feedlake_drop_arrival_to_commit_seconds_count") == 21
    finished = time.time()
    assert 0 < sample(metrics, "feedlake_drop_arrival_to_commit_seconds_sum") < 21 * 120
    assert finished - 120 < sample(metrics, "feedlake_last_successful_batch_timestamp_seconds")
    assert sample(metrics, "feedlake_polls_total") >= 3
    assert health[0] == 200 and health[1].startswith("ok")
