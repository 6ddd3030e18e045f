"""End-to-end benchmark: the pipeline on the DirectRunner against the plain baseline, same run.

    python -m benchmarks.run --articles 10000 50000 --repeat 3

For each size it generates a corpus from the real drop (10% exact and 10% near copies), then
runs `feedlake run` and `benchmarks.baseline`, each in its own process under /usr/bin/time,
and prints wall time, articles/s, MB/s, peak RSS, and the pipeline's dedup precision and
recall against the corpus's ground truth; medians over --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.corpus import generate, write

ROOT = Path(__file__).resolve().parent.parent


def timed(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB and stdout of a child process."""
    completed = subprocess.run(
        ["/usr/bin/time", "-f", "TIME %e %M", *argv], cwd=ROOT, capture_output=True, text=True
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-2000:])
    line = [row for row in completed.stderr.splitlines() if row.startswith("TIME ")][-1]
    seconds, kilobytes = line.split()[1:]
    return float(seconds), int(kilobytes) / 1024, completed.stdout


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--articles", type=int, nargs="+", default=[10_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'size':>8} {'engine':>9} {'seconds':>8} {'art/s':>7} {'MB/s':>6} {'RSS MB':>7}  dedup")
    for size in args.articles:
        work = Path(tempfile.mkdtemp(prefix="feedlake-bench-"))
        corpus = generate(size, seed=1)
        write(corpus, work)
        megabytes = corpus.size() / 1e6
        results = {"pipeline": [], "baseline": []}
        quality = ""
        for attempt in range(args.repeat):
            lake = work / f"lake{attempt}"
            results["pipeline"].append(
                timed(
                    [
                        sys.executable,
                        "-m",
                        "pipeline.cli",
                        "run",
                        "--drops",
                        str(work / "drops"),
                        "--lake",
                        str(lake),
                        "--quiet",
                    ]
                )[:2]
            )
            if attempt == 0:
                precision, recall = dedup_quality(lake, corpus.truth)
                quality = f"precision {precision:.4f}, recall {recall:.4f}"
            shutil.rmtree(lake)
            out = work / f"baseline{attempt}"
            results["baseline"].append(
                timed([sys.executable, "-m", "benchmarks.baseline", str(work / "drops"), str(out)])[
                    :2
                ]
            )
            shutil.rmtree(out)
        medians = {}
        for engine, runs in results.items():
            seconds = statistics.median(r[0] for r in runs)
            rss = statistics.median(r[1] for r in runs)
            medians[engine] = seconds
            note = quality if engine == "pipeline" else ""
            print(
                f"{size:>8} {engine:>9} {seconds:>8.1f} {size / seconds:>7.0f} "
                f"{megabytes / seconds:>6.2f} {rss:>7.0f}  {note}"
            )
        ratio = medians["pipeline"] / medians["baseline"]
        runs = json.dumps({k: [r[0] for r in v] for k, v in results.items()})
        print(f"{size:>8} pipeline/baseline time ratio {ratio:.2f} (seconds of each run: {runs})")
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
