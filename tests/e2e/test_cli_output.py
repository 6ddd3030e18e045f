"""What `run` and `validate` print for people agrees with the manifest and with itself: drop
and feed bytes apart, the feed's log line and the summary telling the same story, and the
articles' titles listed by `validate`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLE_DROP

pytestmark = pytest.mark.e2e
SAMPLE_FEED = ROOT / "samples" / "feeds" / "milosi-2025-08-29.rss"


def feedlake(*argv: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done


def row(stdout: str, name: str) -> str:
    (line,) = [line for line in stdout.splitlines() if line.startswith(f"│ {name} ")]
    return " ".join(line.split())


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The bundled drop and feed into a new lake, then again (nothing new)."""
    lake = tmp_path_factory.mktemp("lake")
    return feedlake("run", "--lake", str(lake)), feedlake("run", "--lake", str(lake))


def test_the_summary_gives_drop_and_feed_bytes_apart(two_runs):
    first, _ = two_runs
    drop_bytes, feed_bytes = SAMPLE_DROP.stat().st_size, SAMPLE_FEED.stat().st_size
    assert f"{drop_bytes:,} bytes read" in row(first.stdout, "drops")
    assert f"{feed_bytes:,} bytes read" in row(first.stdout, "feeds")
    assert f"{drop_bytes + feed_bytes:,}" not in first.stdout


def test_the_feed_log_line_and_the_summary_agree_on_known_items(two_runs):
    _, second = two_runs  # nothing new: one line, no table, and no manifest
    assert "1 feed(s) with no new item (3 items already in the lake)" in second.stdout
    (logged,) = [line for line in second.stderr.splitlines() if "feed " in line]
    assert logged.endswith("ok (0 new items, 3 already in the lake)"), logged


def test_validate_lists_the_articles_titles():
    done = feedlake("validate", str(SAMPLE_DROP))
    titles = [line for line in done.stdout.splitlines() if line.startswith("  article: ")]
    assert len(titles) == 10
    assert any("Namibia launches" in title for title in titles)
