"""`feedlake inspect --html FILE`: one page that fetches nothing, whose charts draw what the
lake holds and answer their questions, drawn by headless Chromium (tests/support/rendered.py):
each day once on a one-day lake, a sentence where there is nothing to draw, whole-number
ticks on every count axis, legends never cut, the smallest of many topics as "other"; and
nothing from the lake, its path or its folders' names runs in the page."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import fastavro
import pytest

from pipeline.cli import main
from pipeline.cli.report_charts import FOLDERS_SHOWN, NAMED, charts
from pipeline.cli.report_html import script_json
from pipeline.lake.inspect import inspect_lake
from tests.conftest import SAMPLE_DROP
from tests.support.rendered import (
    CHROMIUM,
    NEEDS_CHROMIUM,
    Node,
    axis_labels,
    legend_labels,
    parse,
    render,
)

pytestmark = [pytest.mark.e2e, pytest.mark.long]
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=NEEDS_CHROMIUM)
TITLES = (
    "Articles per day by region",
    "Articles per day by topic",
    "Duplicates and rejects per run",
    "Feed outcomes per run",
    "Partition folders most in need of compaction",
)
COUNT_AXES = ("articles", "records", "feeds", "files in the folder (feedlake compact merges them)")


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    """Two runs of one day: the bundled drop and feed, then the same drop renamed (skipped,
    already ingested) beside a binary file (a reject)."""
    root = tmp_path_factory.mktemp("report")
    lake, drops = root / "lake", root / "drops"
    assert main(["run", "--lake", str(lake), "--quiet"]) == 0
    drops.mkdir()
    shutil.copy(SAMPLE_DROP, drops / "milosi-2025-08-30.txt")
    (drops / "garbage.bin").write_bytes(bytes(range(256)) * 40)
    assert main(["run", "--drops", str(drops), "--lake", str(lake), "--quiet"]) == 0
    return lake


def write_page(lake: Path, folder: Path) -> Path:
    path = folder / "lake.html"
    assert main(["inspect", "--lake", str(lake), "--html", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def page(lake, tmp_path_factory) -> Path:
    return write_page(lake, tmp_path_factory.mktemp("html"))


def drawn(page: Path, tmp_path: Path) -> dict[str, Node]:
    """Each section of the rendered page by its title."""
    root = parse(render(page, tmp_path / "profile"))
    return {section.find("h2")[0].text: section for section in root.find("section")}


def assert_readable(section: Node) -> None:
    """Count axes tick whole numbers, each once, rising; no legend or axis label is cut."""
    for title, labels in axis_labels(section).items():
        if title in COUNT_AXES:
            assert labels and all(re.fullmatch(r"[\d,]+", label) for label in labels), labels
            counts = [int(label.replace(",", "")) for label in labels]
            assert counts == sorted(set(counts)), labels
        assert not any(label.endswith("…") for label in labels), labels
    assert not any(label.endswith("…") for label in legend_labels(section))


def test_the_page_needs_nothing_from_the_network(page):
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""<script[^>]*\bsrc\s*=""", text, re.I)
    assert not re.search(r"<link\b", text, re.I)
    assert not re.search(r"""\b(src|href)\s*=\s*["']?(https?:)?//""", text, re.I)
    assert "vegaEmbed(" in text and len(text) > 500_000  # vega's scripts are inlined
    assert all(title in text for title in TITLES)


def test_the_charts_draw_what_the_lake_holds(lake):
    drawn_charts = {chart.id: chart for chart in charts(inspect_lake(str(lake), daily=True))}
    rows = drawn_charts["by_region"].spec["data"]["values"]
    assert sum(r["articles"] for r in rows) == 10
    assert {r["region"] for r in rows} == {"asia", "europe", "africa"}
    per_run = [(r["what"], r["count"]) for r in drawn_charts["per_run"].spec["data"]["values"]]
    assert per_run == [("duplicates", 3), ("rejects", 0), ("duplicates", 0), ("rejects", 1)]
    feeds = drawn_charts["feeds"].spec["data"]["values"]
    assert [(r["what"], r["count"]) for r in feeds] == [("ok", 1)]


def test_a_lake_of_one_file_a_folder_says_there_is_nothing_to_compact(lake):
    (compaction,) = [c for c in charts(inspect_lake(str(lake), daily=True)) if c.id == "compaction"]
    assert compaction.spec is None
    assert "nothing to compact" in compaction.note


def test_the_json_in_the_page_cannot_end_its_script():
    text = script_json({"a": "</script><!--<script>\u2028&", "</script>": 1})
    assert not re.search(r"[<>&\u2028\u2029]", text)
    assert json.loads(text) == {"a": "</script><!--<script>\u2028&", "</script>": 1}


@needs_chromium
def test_a_one_day_lake_shows_its_day_once_with_whole_counts(page, tmp_path, capsys):
    started = time.monotonic()
    sections = drawn(page, tmp_path)
    seconds = time.monotonic() - started
    assert list(sections) == list(TITLES)
    for title in ("Articles per day by region", "Articles per day by topic"):
        assert axis_labels(sections[title])["published date"] == ["2025-08-29"]
    for title in TITLES[:4]:
        assert sections[title].find("svg"), title
        assert_readable(sections[title])
    assert legend_labels(sections["Duplicates and rejects per run"]) == ["duplicates", "rejects"]
    with capsys.disabled():
        print(f"\nhtml report: {page.stat().st_size:,} bytes, Chromium drew it in {seconds:.1f} s")


@needs_chromium
def test_a_lake_without_feeds_says_so_instead_of_an_empty_chart(tmp_path):
    lake = tmp_path / "lake"
    assert main(["run", "--drops", str(SAMPLE_DROP), "--lake", str(lake), "--quiet"]) == 0
    sections = drawn(write_page(lake, tmp_path), tmp_path)
    feeds = sections["Feed outcomes per run"]
    assert not feeds.find("svg")
    assert [p.text for p in feeds.find("p")] == ["No run has read a feed."]
    assert sections["Articles per day by region"].find("svg")


# Each payload, if it ran, would set the page's title or add an element <xss-ran>; none has a
# "/" where it becomes a folder's name (a name cannot hold one: the path's "/" completes it).
RAN = "document.body.appendChild(document.createElement('xss-ran'))"
TITLED = "document.title='pwned'"
SCRIPTS = (
    f"</script><script>{RAN}</script>",
    f"<!--<script>{TITLED}</script>",
    f'<img src=x onerror="{RAN}">',
    f"\u2028</script><svg onload={RAN}>",
)


def hostile_lake(lake: Path, root: Path) -> Path:
    """A copy of ``lake`` at a path that closes a script and opens one, with payloads in a
    folder's name, run ids, kinds, statuses, feed outcomes, reject reasons, and in an
    article's and a reject's fields (region, topic, title, source, reason, uri)."""
    copy = root.joinpath("x<", f"script><script>{TITLED}<", f"script><img src=x onerror={RAN}>")
    shutil.copytree(lake, copy)
    odd = copy.joinpath("articles", "dt=2025-08-29", "region=x<", f"script><script>{RAN}<")
    odd.mkdir(parents=True)
    shutil.copy(next((copy / "articles").rglob("*.avro")), odd / "odd.avro")
    for n, manifest in enumerate(sorted((copy / "_runs").glob("*.json"))):
        document = json.loads(manifest.read_text())
        document.update(run_id=SCRIPTS[n], kind=SCRIPTS[n + 1], status=SCRIPTS[n + 2])
        counts = document["counts"]
        counts["feeds_by_outcome"] = {SCRIPTS[n + 1]: 1, "ok": 1}
        counts["rejects_by_reason"] = {SCRIPTS[n + 2]: 1}
        manifest.write_text(json.dumps(document))
    for kind, fields in (("articles", _article_payloads), ("rejects", _reject_payloads)):
        path = next((copy / kind).rglob("*.avro"))
        with path.open("rb") as fh:
            reader = fastavro.reader(fh)
            schema, rows = reader.writer_schema, list(reader)
        with (path.parent / f"z-{path.name}").open("wb") as fh:
            fastavro.writer(fh, schema, [fields(row, n) for n, row in enumerate(rows)])
    return copy


def _article_payloads(row: dict, n: int) -> dict:
    payload = SCRIPTS[n % len(SCRIPTS)]
    row["id"] = f"{n:032x}"
    row["title"] = payload
    row["source"].update(channel=payload, origin=payload, feed_url=payload, item_url=payload)
    row["location"]["region"] = payload
    for topic in row["topics"]:
        topic["top_level"] = SCRIPTS[(n + 1) % len(SCRIPTS)]
    return row


def _reject_payloads(row: dict, n: int) -> dict:
    row["reason"] = row["message"] = SCRIPTS[n % len(SCRIPTS)]
    return row


@needs_chromium
def test_nothing_from_the_lake_runs_in_the_page(lake, tmp_path):
    copy = hostile_lake(lake, tmp_path / "hostile")
    page = write_page(copy, tmp_path)
    root = parse(render(page, tmp_path / "profile"))
    assert not root.find("xss-ran") and not root.find("img")
    (title,) = root.find("title")
    assert title.text == f"feedlake: {copy}"
    (heading,) = root.find("h1")
    assert heading.text == f"feedlake: {copy}"
    assert any(item.text.startswith("articles/dt=2025-08-29/region=x<") for item in root.find("li"))
    sections = {section.find("h2")[0].text: section for section in root.find("section")}
    for title in TITLES[:4]:
        assert sections[title].find("svg"), f"{title} was not drawn"
    legends = legend_labels(sections["Articles per day by region"])
    assert any(label.startswith("</script>") for label in legends), legends


@pytest.fixture(scope="module")
def year(tmp_path_factory) -> Path:
    """A year of hourly runs of one article each (8,760 runs, their files and manifests),
    written by the project's history builder (benchmarks/history_lake.py) in about 90 s."""
    from benchmarks.history_lake import Shape, build

    shape = Shape("hourly", runs_per_day=24, kept=1, drops=1, days=365)
    return build(shape, tmp_path_factory.mktemp("year"), articles=True).lake


@needs_chromium
def test_a_year_of_hourly_runs_reads(year, tmp_path):
    report = inspect_lake(str(year), daily=True)
    topics = {row["topic"] for row in report["articles_by_topic"]}
    assert len(topics) > NAMED + 1  # enough to group
    sections = drawn(write_page(year, tmp_path), tmp_path)
    assert list(sections) == [
        "Articles per day by region",
        "Articles per day by topic",
        "Duplicates and rejects per day of runs",
        "Feed outcomes per day of runs",
        "Partition folders most in need of compaction",
    ]
    feeds = sections.pop("Feed outcomes per day of runs")  # the builder writes no feed outcome
    assert [p.text for p in feeds.find("p")] == ["No run has read a feed."]
    none = sections.pop("Duplicates and rejects per day of runs")  # nor a duplicate
    assert [p.text for p in none.find("p")] == ["No run has found a duplicate or a reject."]
    for title, section in sections.items():
        assert section.find("svg"), title
        assert_readable(section)
        for labels in axis_labels(section).values():
            assert len(labels) == len(set(labels)), (title, labels)
    legend = legend_labels(sections["Articles per day by topic"])
    assert len(legend) == NAMED + 1 and legend[-1] == "other", legend
    assert set(legend[:-1]) < topics
    crowded = sections["Partition folders most in need of compaction"]
    folders = axis_labels(crowded)[""]
    assert len(folders) == FOLDERS_SHOWN and all(f.startswith("articles/dt=") for f in folders)
