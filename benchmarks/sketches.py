"""Synthetic inputs of the duplicate decision: a run's sketches and a lake's index, seeded.

``benchmarks.bench decide`` times the decision in one step on them, ``benchmarks.shards`` in
shards, and the tests hold the two decisions together on them.
"""

from __future__ import annotations

import numpy as np

from pipeline.core import minhash
from pipeline.core.records import IndexBatch
from pipeline.dedup.sketch import SketchBatch

__all__ = ["decide_inputs"]


def _random_entries(rng, count: int, first: int):
    """Index entries of ``count`` random signatures, with ids ``first``, ``first + 1``, ..."""
    signatures = rng.integers(0, 2**32, (count, minhash.NUM_PERM), dtype=np.uint32)
    bands = np.stack([minhash.band_keys(signature) for signature in signatures])
    ids = np.char.zfill(np.arange(first, first + count).astype("U32"), 32).astype("S32")
    return IndexBatch(ids, bands.astype("<u4"), minhash.sketch(signatures))


def decide_inputs(articles: int, seed: int) -> tuple[list[SketchBatch], IndexBatch]:
    """A run of ``articles`` sketches in batches of 10,000 (10% exact and 10% near copies of
    each other, 5% republishing the lake's) and a lake index of as many entries."""
    rng = np.random.default_rng(seed)

    def entries(count: int, offset: int) -> IndexBatch:
        return IndexBatch.concat(
            _random_entries(rng, min(10_000, count - start), offset + start)
            for start in range(0, count, 10_000)  # in pieces: the inputs, not their making
        )

    lake = entries(articles, 0)
    run = entries(articles, articles)
    copies = rng.choice(articles, size=articles // 5, replace=False)
    exact, near = copies[: len(copies) // 2], copies[len(copies) // 2 :]
    run.ids[exact] = run.ids[exact - 1]  # an exact copy of its neighbour
    run.bands[near, :3] = run.bands[near - 1, :3]  # a near copy: shares bands and most bytes
    run.sketches[near, :120] = run.sketches[near - 1, :120]
    republished = rng.choice(articles, size=articles // 20, replace=False)
    run.ids[republished] = lake.ids[republished]
    batches = [
        SketchBatch(
            uris=(f"/drops/milosi-{start // 10_000:05d}.txt",),
            uri=np.zeros(len(rows), dtype=np.int64),
            position=rows.astype(np.int64),
            day=np.full(len(rows), 739_000, dtype=np.int64),
            entries=IndexBatch(run.ids[rows], run.bands[rows], run.sketches[rows]),
        )
        for start in range(0, articles, 10_000)
        for rows in [np.arange(start, min(start + 10_000, articles))]
    ]
    return batches, lake
