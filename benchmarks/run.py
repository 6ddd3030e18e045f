"""End-to-end benchmark: the pipeline on the DirectRunner against the plain baseline, same run.

    python -m benchmarks.run --articles 10000 50000 --repeat 3
    python -m benchmarks.run --articles 20000 --span-days 365 --syscalls   # a year's backfill

For each size it generates a corpus from the real drop (10% exact and 10% near copies; with
``--span-days``, a backfill of archives whose stories span that many days), then runs
`feedlake run` and `benchmarks.baseline` (the floor), each in its own process under
/usr/bin/time, and prints wall time, articles/s, MB/s, peak RSS, user and system time, and the
pipeline's dedup precision and recall against the corpus's ground truth; medians over
--repeat runs. With ``--syscalls``, one more run of each under ``strace -f -c`` (not timed:
strace slows every call) counts the system calls that touch the file system.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.corpus import generate, write

ROOT = Path(__file__).resolve().parent.parent
# The calls a run's file-system work is made of, grouped as the README reports them.
SYSCALL_GROUPS = {
    "mkdir": ("mkdir", "mkdirat"),
    "open": ("open", "openat", "creat"),
    "stat": ("stat", "lstat", "fstat", "newfstatat", "statx", "access", "faccessat2"),
    "rename": ("rename", "renameat", "renameat2"),
    "unlink": ("unlink", "unlinkat", "rmdir"),
    "list": ("getdents64",),
    "sync": ("fsync", "fdatasync", "syncfs", "sync"),
}


def timed(argv: list[str]) -> tuple[dict[str, float], str]:
    """Wall, user and system seconds and peak RSS in MB of a child process, and its stdout."""
    completed = subprocess.run(
        ["/usr/bin/time", "-f", "TIME %e %U %S %M", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-2000:])
    line = [row for row in completed.stderr.splitlines() if row.startswith("TIME ")][-1]
    wall, user, system, kilobytes = line.split()[1:]
    measured = {"wall": float(wall), "user": float(user), "sys": float(system)}
    return {**measured, "rss": int(kilobytes) / 1024}, completed.stdout


def syscalls(argv: list[str], folder: Path) -> Counter[str]:
    """How many of each group of :data:`SYSCALL_GROUPS` a child process and its children made."""
    summary = folder / "strace.txt"
    subprocess.run(
        ["strace", "-f", "-c", "-o", str(summary), *argv],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    calls: Counter[str] = Counter()
    for row in summary.read_text().splitlines():
        fields = row.split()  # % time, seconds, usecs/call, calls, [errors,] syscall
        name = fields[-1] if fields else ""
        if len(fields) >= 5 and name.isidentifier() and name != "total" and fields[3].isdigit():
            calls[name] += int(fields[3])
    grouped = Counter(
        {group: sum(calls[n] for n in names) for group, names in SYSCALL_GROUPS.items()}
    )
    grouped["total"] = sum(calls.values())
    return grouped


def dedup_quality(lake: Path, truth: list[dict]) -> tuple[float, float]:
    import fastavro

    story = {
        (t["drop"], t["position"]): (t["original"] if t["kind"] != "distinct" else t["id"])
        for t in truth
    }
    kept, duplicates = {}, []
    for kind in ("articles", "duplicates"):
        for path in lake.glob(f"{kind}/**/*.avro"):
            with path.open("rb") as fh:
                for r in fastavro.reader(fh):
                    key = (
                        r["lineage"]["source_uri"].rsplit("/", 1)[1],
                        r["lineage"]["segment_index"],
                    )
                    if kind == "articles":
                        kept[r["id"]] = story[key]
                    else:
                        duplicates.append((story[key], r["dedup"]["duplicate_of"]))
    correct = sum(kept.get(of) == s for s, of in duplicates)
    copies = sum(t["kind"] != "distinct" for t in truth)
    return correct / max(1, len(duplicates)), correct / max(1, copies)


def _commands(work: Path, out: Path, extra: list[str]) -> dict[str, list[str]]:
    drops = str(work / "drops")
    return {
        "pipeline": [
            sys.executable, "-m", "pipeline.cli", "run", "--drops", drops,
            "--lake", str(out), "--quiet", *extra,
        ],
        "baseline": [sys.executable, "-m", "benchmarks.baseline", drops, str(out)],
    }  # fmt: skip


def _files_and_folders(out: Path) -> tuple[int, int]:
    files = folders = 0
    for path in out.rglob("*"):
        if path.is_dir():
            folders += 1
        else:
            files += 1
    return files, folders


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--articles", type=int, nargs="+", default=[10_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--span-days", type=int, help="a backfill whose stories span these days")
    parser.add_argument("--per-drop", type=int, default=1000)
    parser.add_argument("--syscalls", action="store_true", help="count system calls (strace)")
    parser.add_argument(
        "--feedlake-args", default="", help="more flags for feedlake run, e.g. '--partition-by dt'"
    )
    args = parser.parse_args(argv)
    extra = args.feedlake_args.split()
    print(
        f"{'size':>8} {'engine':>9} {'seconds':>8} {'art/s':>7} {'MB/s':>6} {'RSS MB':>7} "
        f"{'user':>6} {'sys':>6} {'files':>6} {'folders':>7}  dedup"
    )
    for size in args.articles:
        work = Path(tempfile.mkdtemp(prefix="feedlake-bench-"))
        corpus = generate(size, seed=1, per_drop=args.per_drop, span_days=args.span_days)
        write(corpus, work)
        megabytes = corpus.size() / 1e6
        results: dict[str, list[dict]] = {"pipeline": [], "baseline": []}
        quality, shape = "", {}
        for attempt in range(args.repeat):
            for engine in ("pipeline", "baseline"):
                out = work / f"{engine}{attempt}"
                measured, _ = timed(_commands(work, out, extra)[engine])
                results[engine].append(measured)
                if attempt == 0:
                    shape[engine] = _files_and_folders(out)
                    if engine == "pipeline":
                        precision, recall = dedup_quality(out, corpus.truth)
                        quality = f"precision {precision:.4f}, recall {recall:.4f}"
                shutil.rmtree(out)
        medians = {}
        for engine, runs in results.items():
            median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            medians[engine] = median
            files, folders = shape[engine]
            print(
                f"{size:>8} {engine:>9} {median['wall']:>8.1f} {size / median['wall']:>7.0f} "
                f"{megabytes / median['wall']:>6.2f} {median['rss']:>7.0f} "
                f"{median['user']:>6.1f} {median['sys']:>6.1f} {files:>6} {folders:>7}  "
                f"{quality if engine == 'pipeline' else ''}"
            )
        speed = medians["baseline"]["wall"] / medians["pipeline"]["wall"]
        runs = json.dumps({k: [r["wall"] for r in v] for k, v in results.items()})
        print(
            f"{size:>8} pipeline is {speed:.2f} times the baseline's speed "
            f"(wall seconds of each run: {runs})"
        )
        if args.syscalls:
            print(f"{size:>8} system calls (one run each under strace -f -c):")
            for engine in ("pipeline", "baseline"):
                out = work / f"{engine}-traced"
                counted = syscalls(_commands(work, out, extra)[engine], work)
                shutil.rmtree(out)
                print(f"{'':>8} {engine:>9} " + ", ".join(f"{k} {v:,}" for k, v in counted.items()))
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
