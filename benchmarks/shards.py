"""The sharded duplicate decision's steps run one after another, shard by shard, in one process.

What :class:`pipeline.dedup.in_shards.DecideDuplicatesInShards` runs across workers, without
Beam: the unit tests hold it to the single decision, and ``benchmarks.bench decide
--shards N`` times each step (``step`` is called around every step of every shard).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import pickle
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import fastavro
import numpy as np

import schemas
from benchmarks.sketches import decide_inputs
from pipeline.core.records import IndexBatch
from pipeline.dedup import nodes as keyed
from pipeline.dedup import shard_steps as steps
from pipeline.dedup.decide import decide_batches
from pipeline.dedup.nodes import Links, Memberships, Nodes, Outline
from pipeline.dedup.shard_steps import Verdict
from pipeline.dedup.sketch import SketchBatch
from pipeline.lake.history import LakeHistory
from pipeline.lake.index import index_blocks

__all__ = ["bench_shards", "decide_step_by_step", "history_blocks", "write_lake"]

Step = Callable[[str, int, object], contextlib.AbstractContextManager]


@contextlib.contextmanager
def _nothing(_name: str, _shard: int, _inputs: object) -> Iterator[None]:
    yield


def history_blocks(history, days) -> Iterator[tuple[str, object, int]]:
    """``(kind, block, first place)`` of every block a run on ``days`` reads from ``history``
    (a :class:`pipeline.lake.history.LakeHistory`)."""
    for index, (kind, path) in enumerate(history.files(np.asarray(days))):
        offset = 0
        for block in history.blocks(path):
            yield kind, block, (index << keyed.PLACE_BITS) + offset
            offset += len(block.keys)


def decide_step_by_step(
    batches: list[SketchBatch],
    history,
    threshold: float,
    shards: int,
    step: Step = _nothing,
) -> tuple[Verdict, IndexBatch]:
    """The verdict and new index entries of the sharded decision over ``batches`` against
    ``history`` (None: an empty lake)."""
    uris = [uri for batch in batches for uri in batch.uris]
    outline = Outline.of(uris, [day for batch in batches for day in batch.day.tolist()])
    parts: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(list))

    def add(found) -> None:
        for tag, shard, part in found:
            parts[tag][shard].append(part)

    for n, batch in enumerate(batches):
        with step("split", n, batch):
            add(keyed.run_parts(batch, outline, shards))
    if history is not None:
        for n, (kind, block, first) in enumerate(history_blocks(history, outline.days)):
            with step("read", n, block):
                add(
                    keyed.history_parts(
                        kind, block.keys, block.ids, block.bands, block.sketches, first, shards
                    )
                )
    edges, details = [], []
    for shard in sorted(set(parts[keyed.RUN_LINKS]) | set(parts[keyed.LAKE_LINKS])):
        inputs = (parts[keyed.RUN_LINKS][shard], parts[keyed.LAKE_LINKS][shard])
        with step("links", shard, inputs):
            run = Links.concat(parts[keyed.RUN_LINKS][shard])
            matched = steps.match_links(run, Links.concat(parts[keyed.LAKE_LINKS][shard]))
            edges.append(matched.edges)
            add(steps.matched_parts(matched, shards))
    for shard in sorted(parts[keyed.BANDS]):
        with step("buckets", shard, parts[keyed.BANDS][shard]):
            shared = steps.shared_buckets(Memberships.concat(parts[keyed.BANDS][shard]))
            add(steps.membership_parts(shared))
    tags = (keyed.NODES, keyed.HELD, keyed.NEAR, steps.LINKED, steps.MEMBERS, steps.WANTED)
    for shard in sorted(set().union(*(parts[tag] for tag in tags))):
        with step("nodes", shard, [parts[tag][shard] for tag in tags]):
            held = parts[keyed.HELD][shard]
            settled = steps.settle_nodes(
                Nodes.concat(parts[keyed.NODES][shard]),
                np.concatenate(held) if held else np.empty(0, "S16"),
                Nodes.concat(parts[keyed.NEAR][shard]),
                Nodes.concat(parts[steps.LINKED][shard]),
                Memberships.concat(parts[steps.MEMBERS][shard]),
                Nodes.concat(parts[steps.WANTED][shard]),
            )
            edges.append(settled.edges)
            details.append(settled.details)
            add(steps.candidate_parts(settled.candidates, shards))
        edges, details = steps.gathered(edges, details)  # as the combine does, part by part
    for shard in sorted(parts[steps.CANDIDATES]):
        with step("pairs", shard, parts[steps.CANDIDATES][shard]):
            found, joined = steps.confirm_pairs(parts[steps.CANDIDATES][shard], threshold)
        edges, details = steps.gathered([*edges, found], [*details, joined])
    edges, details = steps.gathered(edges, details, last=True)
    with step("clusters", 0, (edges, details)):
        verdict = steps.decide_from_edges(edges, details, outline)
    kept = []
    for n, batch in enumerate(batches):
        with step("keep", n, (batch, verdict)):
            kept.append(steps.kept_rows(batch, verdict))
    with step("index", 0, (kept, verdict.lake_updates)):
        index = steps.new_index(kept, verdict.lake_updates)
    return verdict, index


def write_lake(folder: Path, lake: IndexBatch, runs: int) -> None:
    """``lake``'s entries as the index files of ``runs`` daily runs (one run a day, the last
    the day before 739,000), each run's files written as a run writes them."""
    for run in range(runs):
        rows = np.arange(run, len(lake), runs)
        day = 739_000 - runs + run
        batch = dataclasses.replace(
            _entries(lake, rows), days=np.full(len(rows), day, dtype=np.int64)
        )
        for destination, block in index_blocks(batch).items():
            path = folder / destination / f"L0-run{run:03d}.avro"
            path.parent.mkdir(parents=True, exist_ok=True)
            buffer = io.BytesIO()
            fastavro.writer(buffer, schemas.load("IndexBlock"), [block])
            path.write_bytes(buffer.getvalue())


def _entries(batch: IndexBatch, rows: np.ndarray) -> IndexBatch:
    return IndexBatch(batch.ids[rows], batch.bands[rows], batch.sketches[rows])


class _Meter:
    """Times each step, or (``memory``) measures what it holds: its inputs as a worker
    receives them (pickled) and the most it allocates while it runs (tracemalloc)."""

    def __init__(self, memory: bool) -> None:
        self.memory = memory
        self.rows: list[dict] = []

    @contextlib.contextmanager
    def __call__(self, name: str, shard: int, inputs: object) -> Iterator[None]:
        held = len(pickle.dumps(inputs, protocol=5)) if self.memory else 0
        if self.memory:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        working = tracemalloc.get_traced_memory()[1] - base if self.memory else 0
        self.rows.append(
            {"step": name, "shard": shard, "s": seconds, "mb": (held + working) / 2**20}
        )


def _measured(run, memory: bool) -> list[dict]:
    meter = _Meter(memory)
    if memory:
        tracemalloc.start()
    try:
        run(meter)
    finally:
        if memory:
            tracemalloc.stop()
    return meter.rows


def bench_shards(articles: int, shards: int, seed: int, folder: Path) -> dict:
    """``benchmarks.bench decide``'s run against its lake written as 20 daily runs' index
    files, decided in one step (history_for and decide_batches) or in ``shards`` shards."""
    batches, lake = decide_inputs(articles, seed)
    if not (folder / "_index").exists():
        write_lake(folder, lake, runs=20)
    del lake
    history = LakeHistory(str(folder), 30)

    def one_step(meter) -> None:
        with meter("one step", 0, batches):
            run = SketchBatch.concat(batches)
            decide_batches(run, history.for_run(run.entries, run.day))

    def in_shards(meter) -> None:
        decide_step_by_step(batches, history, 0.7, shards, meter)

    run = one_step if shards == 1 else in_shards
    timed, held = _measured(run, memory=False), _measured(run, memory=True)
    by_step: dict[str, list[float]] = defaultdict(list)
    for row in timed:
        by_step[row["step"]].append(row["s"])
    most: dict[str, float] = defaultdict(float)
    for row in held:
        most[row["step"]] = max(most[row["step"]], row["mb"])
    return {
        "articles": articles,
        "shards": shards,
        "seconds": round(sum(map(sum, by_step.values())), 1),
        "critical_s": round(sum(map(max, by_step.values())), 1),
        "by_step": {step: round(sum(times), 2) for step, times in by_step.items()},
        "most_mb": {step: round(mb) for step, mb in most.items()},
    }
