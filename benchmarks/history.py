"""What a run costs on a lake that has aged: a year of daily runs, a year of hourly batches.

    python -m benchmarks.history --repeat 3      # both histories, full size (7 minutes here)
    python -m benchmarks.history --scale 0.1     # 36 days of each, for a quick look

Builds (or finds cached under ``--work``) the histories of :mod:`benchmarks.history_lake`
in today's on-disk format: ``daily``, 365 runs of 5,000 kept articles, and ``hourly``, 8,760
batches of 200. Then, in the same invocation, times ``feedlake run`` of one 1,000-article
daily drop, dated the day after the histories end, on a new lake and on a fresh copy of each
history (hard links: the run adds files and never rewrites one; the cache is checked after
every run), each in its own process under /usr/bin/time: wall seconds, peak RSS, their
ratio to the new lake's, and whether the targets hold (at most 1.2 times both). Medians over
``--repeat`` runs; the 1-minute load average beside them, as the machine may be shared.

The drop carries exact and near copies of stories planted in the histories' last three days
and on their first day, so the table of what each run found shows whether a run still
catches a copy of a year-old story.

A second table counts the article files a lake fed by small batches holds (a week of hourly
batches of 200 by default, ``--small-days``), their bytes, and DuckDB's ``count(*)`` over
them (median of 5), beside the same lake after ``feedlake compact`` and the same articles
merged (by fastavro, record by record) into one file per partition and into one file.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import fastavro

from benchmarks.corpus import PREFIXES, generate, near_copy, render, true_jaccard
from benchmarks.history_lake import LAST_DAY, SHAPES, History, Shape, cached, planted
from benchmarks.history_run import derived_seed, write_avro
from benchmarks.run import timed
from pipeline.lake.sql import connect, lake_views

__all__ = [
    "Copy",
    "Timed",
    "compacted_lake",
    "count_articles",
    "main",
    "merged_lakes",
    "time_run",
    "write_drop",
]

ROOT = Path(__file__).resolve().parent.parent
DROP_ARTICLES = 1_000
TARGET = 1.2  # wall time and peak RSS on an aged lake, at most this times the new lake's


@dataclasses.dataclass(frozen=True)
class Copy:
    """A copy of a planted history story in the drop, at ``position``."""

    position: int
    of: str  # the planted entry's id
    group: str  # recent or oldest
    kind: str  # exact or near
    jaccard: float


def write_drop(
    folder: Path, days: int, seed: int, articles: int = DROP_ARTICLES, after: int = 1
) -> tuple[Path, list[Copy]]:
    """A drop of ``articles`` articles dated ``after`` days after a history of ``days`` days
    ends (benchmarks.corpus stories with their own exact and near copies), ending with an
    exact or a near copy of each story :func:`~benchmarks.history_lake.planted` in that
    history."""
    day = LAST_DAY + dt.timedelta(days=after)
    rng = random.Random(seed + after - 1)
    plants = planted(days, seed)
    fresh = articles - len(plants)
    if fresh < 1:
        raise ValueError(
            f"write_drop: {articles} articles leave no room beside {len(plants)} copies"
        )
    texts, copies = [], []
    for order, plant in enumerate(plants):
        exact = order % 2 == 0
        story = plant.story if exact else near_copy(plant.story, rng)
        texts.append(render(story, rng, rng.choice(PREFIXES) if exact else ""))
        jaccard = true_jaccard(plant.story.paragraphs, story.paragraphs)
        kind = "exact" if exact else "near"
        copies.append(Copy(fresh + order, plant.id, plant.group, kind, round(jaccard, 3)))
    corpus = generate(fresh, seed=derived_seed(seed, f"drop{after}"), per_drop=fresh, date=day)
    (text,) = corpus.drops.values()
    path = folder / f"milosi-{day.isoformat()}.txt"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n\n" + "\n\n".join(texts) + "\n", encoding="utf-8")
    return path, copies


@dataclasses.dataclass(frozen=True)
class Timed:
    """One timed run on one lake."""

    seconds: float
    rss_mb: float
    load: float  # the 1-minute load average when it started
    manifest: dict  # the run's manifest
    caught: dict[int, tuple[str, str]]  # a copy's position: (dedup kind, duplicate of)


def _snapshot(lake: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file below ``lake``."""
    found = {}
    for root, _dirs, names in os.walk(lake):
        for name in names:
            stat = os.stat(os.path.join(root, name))
            found[os.path.join(root, name)] = (stat.st_size, stat.st_mtime_ns)
    return found


def _fresh_copy(history: History | None, target: Path, copy: str) -> None:
    """An empty folder, or ``history``'s lake: with ``copy`` "link" every file hard-linked
    (today's runs add files and rename them into place, never write into one), with "full"
    copied (``--reflink`` where the file system shares blocks)."""
    if target.exists():
        shutil.rmtree(target)
    if history is None:
        target.mkdir(parents=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    how = "-al" if copy == "link" else "-a --reflink=auto"
    subprocess.run(["cp", *how.split(), str(history.lake), str(target)], check=True)


def _duplicates_of_copies(manifest: dict, copies: list[Copy]) -> dict[int, tuple[str, str]]:
    """What the run decided about each planted copy it found duplicate, by drop position."""
    positions = {copy.position for copy in copies}
    found = {}
    for output in manifest["outputs"]:
        if output["kind"] != "duplicates":
            continue
        with open(output["path"], "rb") as fh:
            for record in fastavro.reader(fh):
                position = record["lineage"]["segment_index"]
                if position in positions:
                    found[position] = (record["dedup"]["kind"], record["dedup"]["duplicate_of"])
    return found


def time_run(
    drop: Path,
    history: History | None,
    target: Path,
    copies: list[Copy],
    *,
    copy: str = "link",
    keep: bool = False,
) -> Timed:
    """``feedlake run`` of ``drop`` on a fresh copy of ``history`` (a new lake for None) in
    ``target``, removed afterwards unless ``keep``.

    Raises:
        RuntimeError: the run changed a file of the cached history through a hard link.
    """
    _fresh_copy(history, target, copy)
    before = _snapshot(history.lake) if history else {}
    run = time_again(drop, target, copies)
    if history and _snapshot(history.lake) != before:
        raise RuntimeError(
            f"the run on {target} changed files of the cached history {history.lake} through "
            f"their hard links: delete {history.lake.parent} to rebuild it, and rerun with "
            "--copy full"
        )
    if not keep:
        shutil.rmtree(target)
    return run


def time_again(drop: Path, lake: Path, copies: list[Copy]) -> Timed:
    """``feedlake run`` of ``drop`` on ``lake`` as it is."""
    load = os.getloadavg()[0]
    command = ["-m", "pipeline.cli", "run", "--drops", str(drop), "--lake", str(lake)]
    measured, stdout = timed([sys.executable, *command, "--quiet", "--json"])
    seconds, rss = measured["wall"], measured["rss"]
    manifest = json.loads(stdout)
    return Timed(seconds, rss, load, manifest, _duplicates_of_copies(manifest, copies))


def _label(name: str, history: History | None) -> str:
    if history is None:
        return name
    shape = history.shape
    return f"{name} ({shape.runs:,} x {shape.kept:,})"


def print_costs(results: dict[str, list[Timed]], histories: dict[str, History]) -> None:
    """The cost table: medians, ratios to the new lake, and the targets' verdict."""
    new_seconds = statistics.median(t.seconds for t in results["new"])
    new_rss = statistics.median(t.rss_mb for t in results["new"])
    print(
        f"{'lake':<24} {'entries':>10} {'wall s':>7} {'RSS MB':>7} {'wall x':>7} {'RSS x':>6}"
        f" {'load':>5}  every run's seconds"
    )
    verdicts = []
    for name, runs in results.items():
        history = histories.get(name)
        seconds = statistics.median(t.seconds for t in runs)
        rss = statistics.median(t.rss_mb for t in runs)
        entries = history.entries if history else 0
        load = statistics.median(t.load for t in runs)
        every = ", ".join(f"{t.seconds:.1f}" for t in runs)
        print(
            f"{_label(name, history):<24} {entries:>10,} {seconds:>7.1f} {rss:>7.0f}"
            f" {seconds / new_seconds:>7.2f} {rss / new_rss:>6.2f} {load:>5.1f}  {every}"
        )
        if history:
            holds = seconds <= TARGET * new_seconds and rss <= TARGET * new_rss
            verdicts.append(f"{name} {'holds' if holds else 'misses'}")
    if verdicts:
        print(
            f"targets (wall and peak RSS at most {TARGET} x the new lake's): {', '.join(verdicts)}"
        )


def print_findings(results: dict[str, list[Timed]], copies: list[Copy]) -> None:
    """What each lake's first run found, and which planted copies it caught."""
    groups = sorted({(c.group, c.kind) for c in copies}, key=lambda g: (g[0] != "recent", g[1]))
    print(f"{'lake':<8} {'articles':>8} {'duplicates':>10}  {'by kind':<24} history copies caught")
    for name, runs in results.items():
        counts, caught = runs[0].manifest["counts"], runs[0].caught
        by_kind = ", ".join(f"{kind} {n}" for kind, n in counts["duplicates_by_kind"].items())
        cells = []
        for group, kind in groups:
            mine = [c for c in copies if (c.group, c.kind) == (group, kind)]
            hits = sum(caught.get(c.position) == (kind, c.of) for c in mine)
            cells.append(f"{group} {kind} {hits}/{len(mine)}")
        print(
            f"{name:<8} {counts['articles']:>8,} {counts['duplicates']:>10,}  {by_kind:<24} "
            + ", ".join(cells)
        )
    near = sorted(c.jaccard for c in copies if c.kind == "near")
    print(f"(the near copies' true Jaccard with their story: {near[0]:.2f} to {near[-1]:.2f})")


def merged_lakes(history: History, folder: Path) -> dict[str, Path]:
    """The article records of ``history`` rewritten as one file per partition, and as one
    file (what compaction could make of them), in lakes below ``folder``."""
    lakes = {
        "the same articles, one file per partition": folder / "per-partition",
        "the same articles, one file": folder / "one-file",
    }
    if (folder / "done").exists():
        return lakes
    shutil.rmtree(folder, ignore_errors=True)
    by_partition: dict[str, list[dict]] = {}
    articles = history.lake / "articles"
    for path in sorted(articles.rglob("*.avro")):
        with path.open("rb") as fh:
            partition = path.parent.relative_to(articles).as_posix()
            by_partition.setdefault(partition, []).extend(fastavro.reader(fh))
    per_partition, one_file = lakes.values()
    name = "merged-00000-of-00001.avro"
    for partition, records in by_partition.items():
        write_avro(per_partition / "articles" / partition / name, "Article", records)
    every = (record for records in by_partition.values() for record in records)
    write_avro(one_file / "articles" / name, "Article", every)
    (folder / "done").touch()
    return lakes


def compacted_lake(history: History, folder: Path) -> tuple[Path, dict]:
    """A copy of ``history``'s lake below ``folder`` after ``feedlake compact``, and the
    command's summary (files, MB, seconds, and the seconds of the swap)."""
    lake, summary = folder / "lake", folder / "summary.json"
    if summary.exists():
        return lake, json.loads(summary.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(history.lake, lake)
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "compact", "--lake", str(lake), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    summary.write_text(done.stdout)
    return lake, json.loads(done.stdout)


def count_articles(lake: Path, repeat: int = 5) -> tuple[int, float]:
    """DuckDB's ``count(*)`` over the lake's articles view, and its median seconds (a new
    connection each time)."""
    times, count = [], 0
    for _ in range(repeat):
        con = connect()
        lake_views(con, str(lake))
        begun = time.perf_counter()
        (count,) = con.execute("SELECT count(*) FROM articles").fetchone()
        times.append(time.perf_counter() - begun)
        con.close()
    return count, statistics.median(times)


def print_small_files(lakes: dict[str, Path]) -> None:
    print(
        f"{'lake':<46} {'files':>8} {'MB':>8} {'KB a file':>9} {'articles':>9} {'count(*) s':>10}"
    )
    for label, lake in lakes.items():
        sizes = [path.stat().st_size for path in (lake / "articles").rglob("*.avro")]
        count, seconds = count_articles(lake)
        print(
            f"{label:<46} {len(sizes):>8,} {sum(sizes) / 1e6:>8.1f} "
            f"{sum(sizes) / len(sizes) / 1e3:>9.1f} {count:>9,} {seconds:>10.3f}"
        )


def _histories(args: argparse.Namespace) -> dict[str, History]:
    histories = {}
    for name in args.shapes:
        begun = time.perf_counter()
        shape = dataclasses.replace(SHAPES[name].scaled(args.scale), links=args.link_share)
        history = cached(shape, args.work, seed=args.seed, articles=args.articles)
        histories[name] = history
        print(
            f"{name}: {shape.runs:,} runs x {shape.kept:,} kept = {history.entries:,} index "
            f"entries; {history.files:,} files, {history.bytes / 1e6:,.0f} MB; ready in "
            f"{time.perf_counter() - begun:.0f} s (built in {history.build_seconds:.0f} s)"
        )
    return histories


def _timed_runs(args: argparse.Namespace, histories: dict[str, History]) -> None:
    """Each lake gets the first day's drop (on a history of feedlake before 0.2, that run
    also migrates its index and catalog, once), then the next day's: the steady cost."""
    days = SHAPES["daily"].scaled(args.scale).days
    drop, copies = write_drop(args.work / "drop", days, args.seed)
    then, later_copies = write_drop(args.work / "drop", days, args.seed, after=2)
    lakes: dict[str, History | None] = {"new": None, **histories}
    first: dict[str, list[Timed]] = {name: [] for name in lakes}
    steady: dict[str, list[Timed]] = {name: [] for name in lakes}
    for attempt in range(args.repeat):  # lakes in turn, so a busy minute spreads over them
        for name, history in lakes.items():
            target = args.work / "runs" / f"{name}-{attempt}"
            run = time_run(drop, history, target, copies, copy=args.copy, keep=True)
            first[name].append(run)
            steady[name].append(time_again(then, target, later_copies))
            shutil.rmtree(target)
            print(
                f"  {name}: {run.seconds:.1f} s, {run.rss_mb:.0f} MB, then "
                f"{steady[name][-1].seconds:.1f} s, {steady[name][-1].rss_mb:.0f} MB",
                file=sys.stderr,
            )
    print()
    print("The first day's drop (on a history of feedlake before 0.2: the run that upgrades it)")
    print_costs(first, histories)
    print()
    print("The next day's drop: what a run costs from then on")
    print_costs(steady, histories)
    print()
    print_findings(first, copies)


def _small_files(args: argparse.Namespace, histories: dict[str, History]) -> None:
    batches = Shape("batches", runs_per_day=24, kept=200, drops=1, days=args.small_days)
    small = cached(batches, args.work, seed=args.seed, articles=True)
    compacted, summary = compacted_lake(small, args.work / "compacted" / small.lake.parent.name)
    lakes = {
        f"{batches.runs} hourly batches of 200, as written today": small.lake,
        "the same lake after feedlake compact": compacted,
        **merged_lakes(small, args.work / "merged" / small.lake.parent.name),
    }
    if args.articles:
        lakes.update({f"{name} history": history.lake for name, history in histories.items()})
    print_small_files(lakes)
    print(
        f"feedlake compact: {summary['files_before']:,} files ({summary['bytes_before'] / 1e6:.1f}"
        f" MB, articles, duplicates and rejects) into {summary['files_after']:,} "
        f"({summary['bytes_after'] / 1e6:.1f} MB) in {summary['seconds']:.1f} s; the swap (new "
        f"files renamed in, old ones deleted) {summary['swap_seconds']:.2f} s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.history",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=list(SHAPES))
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="Days of history as a share of a year (0.1: 36 days); runs a day and articles "
        "a run stay. Default: %(default)s.",
    )
    parser.add_argument("--repeat", type=int, default=1, help="Timed runs per lake (medians).")
    parser.add_argument(
        "--work",
        type=Path,
        default=ROOT / "build" / "history",
        help="Folder for the cached histories, the drop and the runs' lake copies. "
        "Default: build/history.",
    )
    parser.add_argument(
        "--copy",
        choices=["link", "full"],
        default="link",
        help="How each run gets its history: hard links (a run that rewrote a file in place "
        "would change the cache; that is checked) or a full copy. Default: %(default)s.",
    )
    parser.add_argument(
        "--articles",
        action="store_true",
        help="Also write the histories' article and duplicate files, and count them in the "
        "small-files table (a run never reads them; at full size about 4 GB and 44,000 files "
        "daily, 7 GB and 340,000 files hourly).",
    )
    parser.add_argument(
        "--small-days",
        type=int,
        default=7,
        help="Days of hourly batches of 200 in the small-files table. Default: %(default)s.",
    )
    parser.add_argument(
        "--link-share",
        type=float,
        default=0.1,
        help="Share of the histories' index entries that came from feeds and carry a guid and "
        "link. Default: %(default)s.",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.scale <= 0 or args.repeat < 1 or args.small_days < 1:
        parser.error("--scale must be positive, --repeat and --small-days at least 1")
    if not 0 <= args.link_share <= 1:
        parser.error("--link-share is a share, from 0 to 1")
    print(
        f"history benchmark, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, scale {args.scale}"
    )
    histories = _histories(args)
    _timed_runs(args, histories)
    print()
    _small_files(args, histories)


if __name__ == "__main__":
    main()
