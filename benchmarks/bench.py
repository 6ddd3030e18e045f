"""Benchmarks that print numbers: throughput, memory, and a plain-Python baseline.

    python -m benchmarks.bench parse --articles 20000 --repeat 3
    python -m benchmarks.bench classify --articles 5000
    python -m benchmarks.bench decide --articles 1000000
    python -m benchmarks.bench decide --articles 1000000 --shards 1 8 32
    python -m benchmarks.bench staging --articles 20000

``parse`` times the pure split and parse functions on one large generated drop (no Beam):
MB/s and articles/s, median of ``--repeat`` runs, and the process's peak RSS.
``classify`` times region and topic classification per article (CPU time of this process,
which a busy neighbour on a shared machine disturbs less than wall time): the median
microseconds over every article of every repeat.
``decide`` measures the dedup decision at scale, the one step that sees every article of a
run at once: a run of ``--articles`` sketches (10% exact and 10% near copies of each other)
against a lake index of as many entries (5% of the run republishes them), as the pipeline
hands them over (numpy batches of 10,000); seconds and the peak RSS it adds. With
``--shards``, the lake is written as 20 daily runs' index files and read from them, and the
decision runs in one step (1) or in N shards step by step (:mod:`benchmarks.shards`): seconds
in all and per step, and the memory of the largest step (its inputs, pickled as a worker
receives them, plus the most it allocates, by tracemalloc; timed in a pass without it).
``staging`` times what staging costs a run: classified articles written as parts and read
back, in the Avro parts feedlake writes (data only, each record checked as it is read)
against the pickled parts it wrote before (which whoever could write ``_staging`` could make
run code); microseconds an article, median of ``--repeat``, and bytes on disk.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pickle
import resource
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.corpus import generate
from benchmarks.sketches import decide_inputs
from connectors.inputs import Drop
from pipeline.core.records import RunContext
from pipeline.dedup.decide import decide_batches
from pipeline.dedup.sketch import SketchBatch
from pipeline.lake.paths import PARTITION_KEYS, group_of
from pipeline.lake.staging import ArticleEncoder, Parts, StagedArticle, read_parts, stage_article
from pipeline.parse.articles import Refusal, parse_segment
from pipeline.parse.split import segments_of

__all__ = ["bench_parse", "main"]

RUN = RunContext("bench", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "bench")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _parse_once(drop: Drop) -> tuple[float, int, int]:
    started = time.perf_counter()
    articles = rejects = 0
    for segment in segments_of(drop):
        try:
            parse_segment(segment, RUN)
            articles += 1
        except Refusal:
            rejects += 1
    return time.perf_counter() - started, articles, rejects


def bench_parse(articles: int, repeat: int, seed: int) -> dict:
    """Split and parse one drop of ``articles`` generated articles, ``repeat`` times."""
    corpus = generate(articles, exact_rate=0, near_rate=0, seed=seed, per_drop=articles)
    (text,) = corpus.drops.values()
    data = text.encode("utf-8")
    drop = Drop("bench.txt", data, "0" * 64, None, dt.date(2025, 8, 29), "drop_name")
    runs = [_parse_once(drop) for _ in range(repeat)]
    seconds = statistics.median(run[0] for run in runs)
    _, parsed, rejected = runs[0]
    return {
        "articles": parsed,
        "rejects": rejected,
        "megabytes": round(len(data) / 1e6, 2),
        "seconds_median": round(seconds, 3),
        "seconds_all": [round(run[0], 3) for run in runs],
        "articles_per_s": round(parsed / seconds),
        "mb_per_s": round(len(data) / 1e6 / seconds, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def bench_classify(articles: int, repeat: int, seed: int) -> dict:
    """Classify ``articles`` generated articles ``repeat`` times; per-article CPU time."""
    from pipeline.classify.classifier import classifier
    from pipeline.core import heap

    corpus = generate(articles, exact_rate=0, near_rate=0, seed=seed, per_drop=articles)
    (text,) = corpus.drops.values()
    drop = Drop("bench.txt", text.encode(), "0" * 64, None, dt.date(2025, 8, 29), "drop_name")
    parsed = [parse_segment(segment, RUN) for segment in segments_of(drop)]
    started = time.perf_counter()
    classify = classifier()
    setup = time.perf_counter() - started
    heap.settle()  # as a worker does once its tables are loaded
    times = []
    for _ in range(repeat):
        for article in parsed:
            begin = time.process_time()
            classify.classify(article)
            times.append(time.process_time() - begin)
    return {
        "articles": len(parsed),
        "setup_s": round(setup, 2),
        "median_us": round(statistics.median(times) * 1e6, 1),
        "p90_us": round(statistics.quantiles(times, n=10)[-1] * 1e6, 1),
    }


def bench_decide(articles: int, seed: int) -> dict:
    """The dedup decision for ``articles`` sketches against an index of as many."""
    before = peak_rss_mb()
    batches, lake = decide_inputs(articles, seed)
    held = peak_rss_mb()
    started = time.perf_counter()
    decisions, kept = decide_batches(SketchBatch.concat(batches), lake)
    seconds = time.perf_counter() - started
    return {
        "articles": articles,
        "lake": len(lake),
        "decisions": len(decisions),
        "duplicates": sum(d.duplicate_of is not None for d in decisions.values()),
        "kept": len(kept),
        "seconds": round(seconds, 1),
        "inputs_mb": round(held - before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "added_mb": round(peak_rss_mb() - before, 1),
    }


def _pickled_parts(folder: Path, staged: list) -> list[Path]:
    """The parts as feedlake staged them before: a pickled list of tuples per group."""
    groups: dict[str, list] = {}
    for article in staged:
        groups.setdefault(group_of(article.destination), []).append(tuple(article))
    paths = []
    for n, articles in enumerate(groups.values()):
        path = folder / f"{n}.pickle"
        with path.open("wb") as fh:
            pickle.dump(articles, fh, pickle.HIGHEST_PROTOCOL)
        paths.append(path)
    return paths


def _read_pickled(paths: list[Path]) -> int:
    count = 0
    for path in paths:
        with path.open("rb") as fh:
            count += sum(1 for _ in map(StagedArticle._make, pickle.load(fh)))
    return count


def _avro_parts(folder: Path, staged: list) -> list[str]:
    parts = Parts(str(folder), limit=len(staged) + 1)
    for article in staged:
        assert not list(parts.add(article))  # below the limit: nothing spills
    return [path for _group, path in parts.flush()]


def bench_staging(articles: int, repeat: int, seed: int) -> dict:
    """Stage ``articles`` classified articles as parts and read them back, both formats."""
    from pipeline.classify.classifier import classifier

    corpus = generate(articles, exact_rate=0, near_rate=0, seed=seed, per_drop=articles)
    (text,) = corpus.drops.values()
    drop = Drop("bench.txt", text.encode(), "0" * 64, None, dt.date(2025, 8, 29), "drop_name")
    classify = classifier()
    encoder = ArticleEncoder()
    staged = [
        stage_article(classify.classify(parse_segment(segment, RUN)), encoder, PARTITION_KEYS)
        for segment in segments_of(drop)
    ]
    formats = {
        "avro": (_avro_parts, lambda paths: sum(1 for _ in read_parts(paths))),
        "pickle": (_pickled_parts, _read_pickled),
    }
    result: dict = {"articles": len(staged)}
    for name, (write, read) in formats.items():
        writes, reads = [], []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as folder:
                started = time.perf_counter()
                paths = write(Path(folder), staged)
                writes.append(time.perf_counter() - started)
                size = sum(os.path.getsize(path) for path in paths)
                started = time.perf_counter()
                assert read(paths) == len(staged)
                reads.append(time.perf_counter() - started)
        result[name] = {
            "write_us": round(statistics.median(writes) / len(staged) * 1e6, 1),
            "read_us": round(statistics.median(reads) / len(staged) * 1e6, 1),
            "megabytes": round(size / 1e6, 2),
        }
    return result


def _print_shards(articles: int, shards: list[int], seed: int) -> None:
    from benchmarks.shards import bench_shards

    with tempfile.TemporaryDirectory() as folder:
        for count in shards:
            r = bench_shards(articles, count, seed, Path(folder))
            steps = ", ".join(f"{step} {s}" for step, s in r["by_step"].items())
            most = ", ".join(f"{step} {mb}" for step, mb in r["most_mb"].items())
            print(
                f"decide --shards {count}: {articles:,} sketches, {r['seconds']} s in all "
                f"({r['critical_s']} s if each step's shards ran at once; {steps}); "
                f"MB the largest shard of each step holds: {most}"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__)
    parser.add_argument(
        "what",
        choices=["parse", "classify", "decide", "staging"],
        help="Which benchmark to run.",
    )
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--shards",
        type=int,
        nargs="+",
        help="decide: against the lake written as index files, in one step (1) and in N "
        "shards, step by step: seconds, and the memory of the largest step",
    )
    args = parser.parse_args(argv)
    if args.what == "decide" and args.shards:
        _print_shards(args.articles, args.shards, args.seed)
        return
    if args.what == "classify":
        result = bench_classify(args.articles, args.repeat, args.seed)
        print(
            f"classify: {result['articles']:,} articles x {args.repeat}: median "
            f"{result['median_us']} us/article, p90 {result['p90_us']} us "
            f"(classifier set-up {result['setup_s']} s, once per worker)"
        )
        return
    if args.what == "decide":
        result = bench_decide(args.articles, args.seed)
        print(
            f"decide: {result['articles']:,} sketches against an index of {result['lake']:,}: "
            f"{result['seconds']} s; {result['duplicates']:,} duplicates, "
            f"{result['kept']:,} new index entries; sketches and index take "
            f"{result['inputs_mb']} MB, peak RSS {result['peak_rss_mb']} MB "
            f"({result['added_mb']} MB over the interpreter with numpy)"
        )
        return
    if args.what == "staging":
        result = bench_staging(args.articles, args.repeat, args.seed)
        print(f"staging: {result['articles']:,} articles, median of {args.repeat}")
        for name in ("avro", "pickle"):
            row = result[name]
            print(
                f"  {name:6} write {row['write_us']:6.1f} us/article, read {row['read_us']:6.1f} "
                f"us/article, {row['megabytes']} MB"
            )
        return
    result = bench_parse(args.articles, args.repeat, args.seed)
    print(
        f"parse: {result['articles']:,} articles, {result['megabytes']} MB in "
        f"{result['seconds_median']} s (median of {args.repeat}: {result['seconds_all']})\n"
        f"  {result['articles_per_s']:,} articles/s, {result['mb_per_s']} MB/s, "
        f"peak RSS {result['peak_rss_mb']} MB, rejects {result['rejects']}"
    )


if __name__ == "__main__":
    main()
