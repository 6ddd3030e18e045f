"""The sharded duplicate decision's steps run one after another, shard by shard, in one process.

What :class:`pipeline.decide_in_shards.DecideDuplicatesInShards` runs across workers, without
Beam: the unit tests hold it to the single decision, and ``benchmarks.bench decide
--shards N`` times each step (``step`` is called around every step of every shard).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterator

import numpy as np

from pipeline import dedup_nodes as keyed
from pipeline import dedup_shards as steps
from pipeline.dedup import SketchBatch
from pipeline.dedup_nodes import Links, Memberships, Nodes, Outline
from pipeline.dedup_shards import Verdict
from pipeline.records import IndexBatch

__all__ = ["decide_step_by_step", "history_blocks"]

Step = Callable[[str, int], contextlib.AbstractContextManager]


@contextlib.contextmanager
def _nothing(_name: str, _shard: int) -> Iterator[None]:
    yield


def history_blocks(history, days) -> Iterator[tuple[str, object, int]]:
    """``(kind, block, first place)`` of every block a run on ``days`` reads from ``history``
    (a :class:`connectors.lake_index.LakeHistory`)."""
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

    for batch in batches:
        with step("split", 0):
            add(keyed.run_parts(batch, outline, shards))
    if history is not None:
        for kind, block, first in history_blocks(history, outline.days):
            with step("read", 0):
                add(
                    keyed.history_parts(
                        kind, block.keys, block.ids, block.bands, block.sketches, first, shards
                    )
                )
    edges, details = [], []
    for shard in sorted(set(parts[keyed.RUN_LINKS]) | set(parts[keyed.LAKE_LINKS])):
        with step("links", shard):
            run = Links.concat(parts[keyed.RUN_LINKS][shard])
            matched = steps.match_links(run, Links.concat(parts[keyed.LAKE_LINKS][shard]))
            edges.append(matched.edges)
            add(steps.matched_parts(matched, shards))
    for shard in sorted(parts[keyed.BANDS]):
        with step("buckets", shard):
            shared = steps.shared_buckets(Memberships.concat(parts[keyed.BANDS][shard]))
            add(steps.membership_parts(shared))
    tags = (keyed.NODES, keyed.HELD, keyed.NEAR, steps.LINKED, steps.MEMBERS, steps.WANTED)
    for shard in sorted(set().union(*(parts[tag] for tag in tags))):
        with step("nodes", shard):
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
    for shard in sorted(parts[steps.CANDIDATES]):
        with step("pairs", shard):
            found, joined = steps.confirm_pairs(parts[steps.CANDIDATES][shard], threshold)
            edges.append(found)
            details.append(joined)
    with step("clusters", 0):
        verdict = steps.decide_from_edges(edges, details, outline)
    kept = []
    for batch in batches:
        with step("keep", 0):
            kept.append(steps.kept_rows(batch, verdict))
    with step("index", 0):
        index = steps.new_index(kept, verdict.lake_updates)
    return verdict, index
