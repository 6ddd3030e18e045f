"""Inputs an operator meets at 3 a.m.: a drop whose name is not UTF-8, a date at the end of
the calendar, a document that is no feed, a redirect to a URL that reads as markup, and
compressed drops and feeds that inflate to far more than they claim. Each is read or
refused with one line, the others of the run go on, and memory stays bounded."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import lzma
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import fastavro
import pytest
import zstandard

from tests.conftest import ROOT, SAMPLE_DROP
from tests.e2e.test_cli_errors import feedlake
from tests.support.feed_server import README_MD, FeedServer
from tests.support.lake import manifests

pytestmark = pytest.mark.e2e
UNDECODABLE = os.fsdecode(b"milosi-2025-08-30-\xff\xfe.txt")


def peak_rss(*argv: str) -> tuple[int, int, str]:
    """Run ``feedlake argv``; its exit code, its own peak resident memory in bytes (the
    kernel's count for that child alone: ``wait4``), and its stderr."""
    with open(os.devnull, "wb") as devnull, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", *argv], cwd=ROOT, stdout=devnull, stderr=err
        )
        _pid, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return child.returncode, usage.ru_maxrss * 1024, err.read().decode()


def watching(*argv: str) -> subprocess.Popen:
    """``feedlake watch argv`` in the background, its stderr a text pipe."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "watch", *argv],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def records(lake: Path, kind: str) -> list[dict]:
    found = []
    for path in sorted(lake.glob(f"{kind}/**/*.avro")):
        with path.open("rb") as fh:
            found += list(fastavro.reader(fh))
    return found


@pytest.fixture
def drops(tmp_path) -> Path:
    folder = tmp_path / "drops"
    folder.mkdir()
    shutil.copy(SAMPLE_DROP, folder)
    return folder


def test_a_drop_whose_name_is_not_utf8_is_skipped_and_said_and_the_others_read(tmp_path, drops):
    odd = drops / UNDECODABLE
    odd.write_bytes(SAMPLE_DROP.read_bytes())
    lake = tmp_path / "lake"
    for _attempt in ("first", "second"):
        done = feedlake("run", "--drops", str(drops), "--lake", str(lake))
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert "milosi-2025-08-30-\\xff\\xfe.txt: its name is not valid UTF-8" in done.stderr
    first, *later = manifests(lake)
    assert first["counts"]["articles"] == 10 and not later  # the second run: nothing new
    assert [i["uri"] for i in first["inputs"]] == [str(drops / SAMPLE_DROP.name)]


def test_watch_goes_on_past_a_drop_whose_name_is_not_utf8(tmp_path, drops):
    (drops / UNDECODABLE).write_bytes(SAMPLE_DROP.read_bytes())
    lake = tmp_path / "lake"
    watcher = watching(
        "--drops",
        str(drops),
        "--lake",
        str(lake),
        "--poll-interval",
        "0.2",
        "--settle-seconds",
        "0",
    )
    lines = []
    for line in watcher.stderr:  # until the first batch commits, or the watcher ends
        lines.append(line)
        if line.startswith("feedlake: batch ") and " articles, " in line:
            break
    watcher.send_signal(signal.SIGTERM)
    _, rest = watcher.communicate(timeout=120)
    said = "".join(lines) + rest
    assert watcher.returncode == 0, said
    assert "Traceback" not in said and said.count("is not valid UTF-8") == 1
    assert [m["counts"]["articles"] for m in manifests(lake)] == [10]


@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_reference_date_out_of_range_is_a_usage_error(tmp_path, drops, command):
    where = ["--lake", str(tmp_path / "lake"), "--drops"] if command == "run" else []
    done = feedlake(command, "--reference-date", "9999-12-31", *where, str(drops))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "--reference-date 9999-12-31 is out of range" in lines[0]
    assert "1900-01-01 to 2999-12-31" in lines[0]
    assert not (tmp_path / "lake").exists()


def test_a_drop_dated_at_the_end_of_the_calendar_parses():
    # Issue 27: with 9999-12-31 as the reference, a dateline "Aug. 29" made every segment a
    # parser_error ("a feedlake bug"); a file's clock can say that date (ext4 stops at 2446,
    # tmpfs holds it).
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as at:
        drop = Path(at) / "nodate.txt"
        drop.write_bytes(SAMPLE_DROP.read_bytes())
        end = dt.datetime(9999, 12, 31, 12, tzinfo=dt.timezone.utc).timestamp()
        os.utime(drop, (end, end))
        if dt.datetime.fromtimestamp(drop.stat().st_mtime).year != 9999:
            pytest.skip("no filesystem here holds a modification time in year 9999")
        done = feedlake("validate", str(drop))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10 articles, 0 rejects" in done.stdout
    assert "reference date: 9999-12-31 (from file_mtime)" in done.stdout


def test_a_document_that_is_no_feed_and_a_redirect_to_markup_are_feed_outcomes(tmp_path):
    lake = tmp_path / "lake"
    with FeedServer() as server:
        listing = tmp_path / "feeds.txt"
        routes = ["/readme.md", "/redirect-markup", "/rss.xml"]
        listing.write_text("".join(f"{server.url}{route}\n" for route in routes))
        done = feedlake("run", "--feeds", str(listing), "--lake", str(lake))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "redirected to 'http://[/]'" in done.stdout
    (manifest,) = manifests(lake)
    outcomes = {i["uri"].removeprefix(server.url): i["outcome"] for i in manifest["inputs"]}
    assert outcomes == {"/readme.md": "not_a_feed", "/redirect-markup": "bad_redirect"} | {
        "/rss.xml": "ok"
    }
    (reject,) = [r for r in records(lake, "rejects") if r["reason"] == "not_a_feed"]
    assert reject["raw"] == README_MD
    assert reject["lineage"]["source_uri"] == f"{server.url}/readme.md"
    assert "empty_item" not in manifest["counts"]["rejects_by_reason"]


BOMB_BYTES = 256 << 20
COMPRESSORS = {
    "gz": lambda: zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS),
    "bz2": lambda: bz2.BZ2Compressor(1),
    "xz": lambda: lzma.LZMACompressor(preset=0),
    "zst": lambda: zstandard.ZstdCompressor(level=1).compressobj(),
}


def write_bomb(path: Path, compressor) -> None:
    """BOMB_BYTES of zeros, compressed a MiB at a time (the test never holds them)."""
    zeros = bytes(1 << 20)
    with path.open("wb") as fh:
        for _ in range(BOMB_BYTES >> 20):
            fh.write(compressor.compress(zeros))
        fh.write(compressor.flush())


def test_drops_and_feeds_that_inflate_past_the_cap_are_rejects_in_bounded_memory(tmp_path, drops):
    for day, (suffix, make) in enumerate(sorted(COMPRESSORS.items()), start=1):
        write_bomb(drops / f"milosi-2025-09-0{day}.txt.{suffix}", make())
    assert sum(path.stat().st_size for path in drops.iterdir()) < 4 << 20
    cap = ["--max-drop-bytes", str(8 << 20), "--feed-max-bytes", str(4 << 20)]
    with FeedServer() as server:
        listing = tmp_path / "feeds.txt"
        listing.write_text(f"{server.url}/bomb.xml\n")
        code, bomb_rss, stderr = peak_rss(
            "run",
            "--drops",
            str(drops),
            "--feeds",
            str(listing),
            "--lake",
            str(tmp_path / "lake"),
            *cap,
        )
        listing.write_text(f"{server.url}/rss.xml\n")
        base = tmp_path / "base"
        base.mkdir()
        shutil.copy(SAMPLE_DROP, base)
        base_code, base_rss, _ = peak_rss(
            "run",
            "--drops",
            str(base),
            "--feeds",
            str(listing),
            "--lake",
            str(tmp_path / "lb"),
            *cap,
        )
    assert (code, base_code) == (0, 0), stderr
    assert "Traceback" not in stderr
    lake = tmp_path / "lake"
    (manifest,) = manifests(lake)
    too_large = [r for r in records(lake, "rejects") if r["reason"] == "drop_too_large"]
    assert sorted(Path(r["lineage"]["source_uri"]).name for r in too_large) == sorted(
        path.name for path in drops.iterdir() if path.suffix != ".txt"
    )
    assert all(
        "more than --max-drop-bytes" in r["message"] and r["raw"] == bytes(64 << 10)
        for r in too_large
    )
    assert manifest["counts"]["articles"] == 10  # the real drop beside them, read whole
    (feed,) = [i for i in manifest["inputs"] if i["type"] == "feed"]
    assert feed["outcome"] == "too_large" and f"more than {4 << 20:,} bytes" in feed["message"]
    # Before the cap one such drop took its whole inflated size (10.7 GB for 2 GiB) and more.
    assert bomb_rss < base_rss + (64 << 20), (bomb_rss, base_rss)


def test_a_local_feed_file_past_the_cap_is_too_large(tmp_path):
    big = tmp_path / "big.xml"
    big.write_bytes(b"<rss><channel>" + b" " * (2 << 20) + b"</channel></rss>")
    listing = tmp_path / "feeds.txt"
    listing.write_text(f"{big}\n")
    lake = tmp_path / "lake"
    done = feedlake(
        "run", "--feeds", str(listing), "--lake", str(lake), "--feed-max-bytes", str(1 << 20)
    )
    assert done.returncode == 0, done.stderr
    (feed,) = [i for i in manifests(lake)[0]["inputs"] if i["type"] == "feed"]
    assert feed["outcome"] == "too_large"


def test_the_rerun_check_knows_a_rejected_bomb(tmp_path):
    drops = tmp_path / "drops"
    drops.mkdir()
    with gzip.open(drops / "milosi-2025-09-01.txt.gz", "wb") as fh:
        fh.write(bytes(4 << 20))
    lake = tmp_path / "lake"
    flags = ["run", "--drops", str(drops), "--lake", str(lake), "--max-drop-bytes", str(1 << 20)]
    assert feedlake(*flags).returncode == 0
    again = feedlake(*flags)
    assert again.returncode == 0 and "nothing new" in again.stdout, again.stderr
    (manifest,) = manifests(lake)
    assert manifest["counts"]["rejects_by_reason"] == {"drop_too_large": 1}


def test_watch_warns_once_of_a_drop_folder_that_is_missing_and_again_when_it_vanishes(tmp_path):
    folder = tmp_path / "incoming"
    lake = tmp_path / "lake"
    watcher = watching(
        "--drops", str(folder), "--lake", str(lake), "--poll-interval", "0.1", "--verbose"
    )
    said: list[str] = []

    def polls_until(condition) -> None:
        """Read the watcher's lines until ``condition`` holds, then through two more polls."""
        while not condition():
            said.append(watcher.stderr.readline())
            assert watcher.poll() is None, "".join(said)
        polls = sum("poll: " in line for line in said)
        while sum("poll: " in line for line in said) < polls + 2:
            said.append(watcher.stderr.readline())

    def warnings() -> int:
        return sum(f"--drops {folder}: {folder} does not exist" in line for line in said)

    polls_until(lambda: warnings() == 1)
    folder.mkdir()
    polls_until(lambda: True)
    folder.rmdir()
    polls_until(lambda: warnings() == 2)
    watcher.send_signal(signal.SIGTERM)
    watcher.communicate(timeout=120)
    assert watcher.returncode == 0
    assert warnings() == 2, "".join(said)
