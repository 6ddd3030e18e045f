"""`feedlake inspect --html FILE`: one page that fetches nothing, whose charts draw what the
lake holds, and which headless Chromium renders with every chart on it."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.cli.report_html import chart_rows
from pipeline.lake.inspect import inspect_lake
from tests.conftest import SAMPLE_DROP

pytestmark = pytest.mark.e2e
CHROMIUM = Path("/usr/bin/chromium")
TITLES = (
    "Articles per day by region",
    "Articles per day by topic",
    "Duplicates and rejects per run",
    "Feed outcomes per run",
    "Files per partition against their mean size",
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    """Two runs: the bundled drop and feed, then the same drop renamed (skipped, already
    ingested) beside a binary file (a reject)."""
    root = tmp_path_factory.mktemp("report")
    lake, drops = root / "lake", root / "drops"
    assert main(["run", "--lake", str(lake), "--quiet"]) == 0
    drops.mkdir()
    shutil.copy(SAMPLE_DROP, drops / "milosi-2025-08-30.txt")
    (drops / "garbage.bin").write_bytes(bytes(range(256)) * 40)
    assert main(["run", "--drops", str(drops), "--lake", str(lake), "--quiet"]) == 0
    return lake


@pytest.fixture(scope="module")
def page(lake, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("html") / "lake.html"
    assert main(["inspect", "--lake", str(lake), "--html", str(path)]) == 0
    return path


def test_the_page_needs_nothing_from_the_network(page):
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""<script[^>]*\bsrc\s*=""", text, re.I)
    assert not re.search(r"<link\b", text, re.I)
    assert not re.search(r"""\b(src|href)\s*=\s*["']?(https?:)?//""", text, re.I)
    assert "vegaEmbed(" in text and len(text) > 500_000  # vega's scripts are inlined
    assert all(title in text for title in TITLES)


def test_the_charts_draw_what_the_lake_holds(lake):
    rows = chart_rows(inspect_lake(str(lake), daily=True))
    assert sum(r["articles"] for r in rows["by_region"]) == 10
    assert {r["region"] for r in rows["by_region"]} == {"asia", "europe", "africa"}
    assert sum(r["articles"] for r in rows["by_topic"]) == 10
    per_run = [(r["what"], r["count"]) for r in rows["per_run"]]
    assert per_run == [("duplicates", 3), ("rejects", 0), ("duplicates", 0), ("rejects", 1)]
    assert [(r["outcome"], r["feeds"]) for r in rows["feeds"]] == [("ok", 1)]
    articles = [r for r in rows["partitions"] if r["kind"] == "articles"]
    assert sum(r["records"] for r in articles) == 10 and len(articles) == 7
    index = [r for r in rows["partitions"] if r["kind"] == "_index"]
    assert [(r["partition"], r["files"]) for r in index] == [
        ("_index/ids", 1),  # the first run's kept articles: the second kept none
        ("_index/links", 1),  # the feed's items
        ("_index/near/dt=2025-08-29", 1),
    ]


def colored_bands(png: Path) -> list[tuple[int, int]]:
    """The vertical spans of the screenshot holding saturated (chart-coloured) pixels; axes,
    text and grid lines are grey, so each drawn chart is one span."""
    from PIL import Image  # Beam depends on Pillow

    image = Image.open(png).convert("RGB")
    width, height = image.size
    pixels = image.load()
    rows = [
        y
        for y in range(height)
        if sum(max(p) - min(p) > 80 for p in (pixels[x, y] for x in range(0, width, 2))) > 2
    ]
    bands: list[tuple[int, int]] = []
    for y in rows:
        if bands and y - bands[-1][1] <= 30:
            bands[-1] = (bands[-1][0], y)
        else:
            bands.append((y, y))
    return bands


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium (/usr/bin/chromium; .ci/run installs it): "
    "apt-get install --no-install-recommends chromium",
)
def test_headless_chromium_draws_every_chart_without_the_network(page, tmp_path, capsys):
    shot = tmp_path / "page.png"
    started = time.monotonic()
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # any fetch from the page would fail
            "--virtual-time-budget=10000",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1000,2000",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = time.monotonic() - started
    assert shot.exists(), done.stderr
    bands = colored_bands(shot)
    assert len(bands) >= len(TITLES), bands
    assert all(bottom - top > 40 for top, bottom in bands[: len(TITLES)]), bands
    with capsys.disabled():
        print(f"\nhtml report: {page.stat().st_size:,} bytes, Chromium drew it in {seconds:.1f} s")
