"""feedlake on a local Flink cluster with one and two TaskManagers against the DirectRunner,
on the same generated corpus: wall time of `feedlake run`, articles/s, the Flink job's own time
(from Flink's REST API: without the job server's start and the staging), and the one-minute
load average as each run starts, since the machine may be shared.

    make flink-deps
    python -m benchmarks.flink --articles 20000 --repeat 3

Both clusters (deploy/flink/local_cluster.py, one slot per TaskManager, parallelism = their
number) stay up through the runs, which take turns: DirectRunner, 1 TaskManager, 2
TaskManagers, then again; medians per engine at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.corpus import generate, write
from benchmarks.flink_cluster import Cluster, flink_flags
from benchmarks.run import timed

ENGINES = ("direct", "flink, 1 TM", "flink, 2 TM")


def feedlake_run(drops: Path, lake: Path, *flags: str) -> list[str]:
    return [
        *(sys.executable, "-m", "pipeline.cli", "run", "--drops", str(drops)),
        *("--lake", str(lake), "--quiet", *flags),
    ]


def one_run(engine: str, clusters: dict[str, Cluster], drops: Path, lake: Path) -> dict:
    """Wall seconds, the Flink job's seconds (None on the DirectRunner) and the load before."""
    cluster = clusters.get(engine)
    load = os.getloadavg()[0]
    known = set(cluster.jobs()) if cluster else set()
    measured, _ = timed(feedlake_run(drops, lake, *(flink_flags(cluster) if cluster else [])))
    job = None
    if cluster:
        (new,) = [j for jid, j in cluster.jobs().items() if jid not in known]
        job = new["duration"] / 1000
    return {"wall": measured["wall"], "job": job, "load": load}


def row(engine: str, label: str, articles: int, measured: dict) -> str:
    """One line of the table; ``measured``: wall and job seconds, the load as text."""
    wall, job, load = measured["wall"], measured["job"], measured["load"]
    job_text = f"{job:>7.1f}" if job is not None else f"{'-':>7}"
    return f"{engine:>12} {label:>7} {wall:>8.1f} {articles / wall:>7.0f} {job_text} {load:>6}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flink", description=__doc__)
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--per-drop", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="feedlake-bench-flink-"))
    write(generate(args.articles, seed=1, per_drop=args.per_drop), work)
    clusters = {
        "flink, 1 TM": Cluster(work / "flink-1", taskmanagers=1),
        "flink, 2 TM": Cluster(work / "flink-2", taskmanagers=2),
    }
    results: dict[str, list[dict]] = {engine: [] for engine in ENGINES}
    print(f"{args.articles} articles, {os.cpu_count()} CPUs", flush=True)
    print(f"{'engine':>12} {'run':>7} {'seconds':>8} {'art/s':>7} {'job s':>7} {'load':>6}")
    try:
        for attempt in range(args.repeat):
            for engine in ENGINES:
                lake = work / f"lake-{ENGINES.index(engine)}-{attempt}"
                result = one_run(engine, clusters, work / "drops", lake)
                results[engine].append(result)
                shown = {**result, "load": f"{result['load']:.1f}"}
                print(row(engine, f"#{attempt + 1}", args.articles, shown), flush=True)
    finally:
        for cluster in clusters.values():
            cluster.stop()
        shutil.rmtree(work)
    for engine, runs in results.items():
        wall = statistics.median(r["wall"] for r in runs)
        jobs = [r["job"] for r in runs if r["job"] is not None]
        job = statistics.median(jobs) if jobs else None
        load = "/".join(f"{r['load']:.1f}" for r in runs)
        print(row(engine, "median", args.articles, {"wall": wall, "job": job, "load": load}))


if __name__ == "__main__":
    main()
