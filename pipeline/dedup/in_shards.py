"""The duplicate decision split across workers by key, for runs too large for one worker.

Guarantees: the same decisions and the same new index entries as
:class:`pipeline.dedup.decide.DecideDuplicates` (whatever the number of shards, bundles or workers),
while no step holds every article: each step of :mod:`pipeline.dedup.shard_steps` holds one
shard of the run's sketches and of the lake's history, read file by file on the workers,
and the step that joins clusters holds only the nodes that copies join. What stays whole:
the run's outline (its sources and days), the decisions (a side input, as in the single
decision), and the new index entries, gathered for :class:`pipeline.lake.index.WriteIndex`, which
writes one file per folder. Nothing is rejected here.

Shuffled: each article's entry with its node (about 280 bytes) and 20 band rows (about 30
bytes each) once, and its sketch once more for the index; the lake's ``ids`` (16 bytes an
id) and ``links`` entries (about 290 bytes) of the whole history and its ``near`` entries in
the window (about 280 bytes), once; then only the nodes of shared buckets, ids and feed items.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipeline.dedup import nodes as keyed
from pipeline.dedup import shard_steps as steps
from pipeline.dedup.decide import DEFAULT_THRESHOLD, Decisions
from pipeline.dedup.nodes import Links, Memberships, Nodes, Outline
from pipeline.dedup.sketch import SketchArticles, SketchBatch

__all__ = ["DecideDuplicatesInShards", "HistoryFiles"]


class HistoryFiles(Protocol):
    """The lake's history as files to read apart: :class:`pipeline.lake.history.LakeHistory`."""

    def files(self, days: np.ndarray) -> list[tuple[str, str]]:
        """``(kind, path)`` of every index file a run of articles published on ``days`` reads."""
        ...

    def blocks(self, path: str) -> Iterator[Any]:
        """The blocks of one of those files: ``keys``, ``ids``, ``bands``, ``sketches``."""
        ...


class _OutlineFn(beam.CombineFn):
    def create_accumulator(self) -> tuple[set[str], set[int]]:
        return set(), set()

    def add_input(self, accumulator, batch: SketchBatch):
        accumulator[0].update(batch.uris)
        accumulator[1].update(np.unique(batch.day).tolist())
        return accumulator

    def merge_accumulators(self, accumulators):
        uris, days = self.create_accumulator()
        for more_uris, more_days in accumulators:
            uris |= more_uris
            days |= more_days
        return uris, days

    def extract_output(self, accumulator) -> Outline:
        return Outline.of(*accumulator)


def _tagged(found: Iterator[tuple[str, int, object]]):
    for tag, shard, part in found:
        yield beam.pvalue.TaggedOutput(tag, (shard, part))


class _SplitRunFn(beam.DoFn):
    def __init__(self, shards: int) -> None:
        self.shards = shards

    def process(self, batch: SketchBatch, outline: Outline):
        yield from _tagged(keyed.run_parts(batch, outline, self.shards))


class _ReadHistoryFn(beam.DoFn):
    """One index file in; its entries, by shard, out."""

    def __init__(self, history: HistoryFiles, shards: int) -> None:
        self.history = history
        self.shards = shards
        self.entries = Metrics.counter("feedlake", "history_entries_read")

    def process(self, listed: tuple[int, str, str]):
        index, kind, path = listed
        offset = 0
        for block in self.history.blocks(path):
            first = (index << keyed.PLACE_BITS) + offset
            if kind != "ids" and block.sketches is None:
                raise ValueError(f"{path}: a {kind} block without sketches; is it an index file?")
            yield from _tagged(
                keyed.history_parts(
                    kind, block.keys, block.ids, block.bands, block.sketches, first, self.shards
                )
            )
            offset += len(block.keys)
        self.entries.inc(offset)


def _listed(outline: Outline, history: HistoryFiles) -> list[tuple[int, str, str]]:
    files = history.files(np.array(outline.days, dtype=np.int64))
    return [(index, kind, path) for index, (kind, path) in enumerate(files)]


class _MatchLinksFn(beam.DoFn):
    def __init__(self, shards: int) -> None:
        self.shards = shards

    def process(self, grouped: tuple[int, dict[str, list]]):
        _, parts = grouped
        matched = steps.match_links(Links.concat(parts["run"]), Links.concat(parts["lake"]))
        if len(matched.edges):
            yield beam.pvalue.TaggedOutput(steps.CLUSTERS, ("edges", matched.edges))
        yield from _tagged(steps.matched_parts(matched, self.shards))


def _shared_buckets(grouped: tuple[int, list[Memberships]]):
    _, parts = grouped
    for _tag, shard, part in steps.membership_parts(
        steps.shared_buckets(Memberships.concat(parts))
    ):
        yield shard, part


class _SettleNodesFn(beam.DoFn):
    def __init__(self, shards: int) -> None:
        self.shards = shards
        self.held = Metrics.counter("feedlake", "history_entries")

    def process(self, grouped: tuple[int, dict[str, list]]):
        _, parts = grouped
        held = parts[keyed.HELD]
        settled = steps.settle_nodes(
            Nodes.concat(parts[keyed.NODES]),
            np.concatenate(held) if held else np.empty(0, "S16"),
            Nodes.concat(parts[keyed.NEAR]),
            Nodes.concat(parts[steps.LINKED]),
            Memberships.concat(parts[steps.MEMBERS]),
            Nodes.concat(parts[steps.WANTED]),
        )
        self.held.inc(settled.lake_entries)
        if len(settled.edges):
            yield beam.pvalue.TaggedOutput(steps.CLUSTERS, ("edges", settled.edges))
        if len(settled.details):
            yield beam.pvalue.TaggedOutput(steps.CLUSTERS, ("details", settled.details))
        for _tag, shard, part in steps.candidate_parts(settled.candidates, self.shards):
            yield shard, part


def _confirm_pairs(grouped: tuple[int, list], threshold: float):
    _, parts = grouped
    edges, details = steps.confirm_pairs(list(parts), threshold)
    if len(edges):
        yield "edges", edges
        yield "details", details


class _GatherFn(beam.CombineFn):
    """Edges and entries for the final step, each kept once (:func:`steps.gathered`)."""

    def create_accumulator(self) -> tuple[list, list]:
        return [], []

    def add_input(self, accumulator, found: tuple[str, Any]):
        kind, part = found
        (accumulator[0] if kind == "edges" else accumulator[1]).append(part)
        return steps.gathered(*accumulator)

    def merge_accumulators(self, accumulators):
        edges, details = self.create_accumulator()
        for more_edges, more_details in accumulators:
            edges += more_edges
            details += more_details
        return steps.gathered(edges, details)

    def extract_output(self, accumulator):
        return steps.gathered(*accumulator, last=True)


class _DecideClustersFn(beam.DoFn):
    def __init__(self) -> None:
        self.exact = Metrics.counter("feedlake", "duplicates_exact")
        self.near = Metrics.counter("feedlake", "duplicates_near")

    def process(self, found: tuple[list, list], outline: Outline):
        verdict = steps.decide_from_edges(*found, outline)
        for decision in verdict.decisions.values():
            if decision.duplicate_of is not None:
                (self.exact if decision.kind == "exact" else self.near).inc()
        yield verdict


class DecideDuplicatesInShards(beam.PTransform):
    """:class:`pipeline.dedup.decide.DecideDuplicates` split across workers in ``shards`` shards:
    articles in; ``decisions`` (a singleton :class:`~pipeline.dedup.decide.Decisions`) and
    ``index`` (one :class:`~pipeline.core.records.IndexBatch`) out, the same as it gives.

    Args:
        history: the lake's history as files (None: a lake with none).
        threshold: estimated Jaccard similarity at which a candidate pair is a near duplicate.
        shards: how many shards each keyed step splits into (2 or more).
        batch: sketches per element that crosses to the shards.
    """

    def __init__(
        self,
        history: HistoryFiles | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        shards: int = 8,
        batch: int = 10_000,
    ) -> None:
        super().__init__()
        if not 0 < threshold <= 1:
            raise ValueError("DecideDuplicatesInShards: threshold must be in (0, 1]")
        if shards < 2:
            raise ValueError("DecideDuplicatesInShards: shards must be 2 or more")
        self.history = history
        self.threshold = threshold
        self.shards = shards
        self.batch = batch

    def expand(self, articles):
        shards = self.shards
        sketches = articles | "Sketch articles" >> SketchArticles(self.batch)
        outline = sketches | "Outline the run" >> beam.CombineGlobally(_OutlineFn())
        run = sketches | "Key sketches by shard" >> beam.ParDo(
            _SplitRunFn(shards), beam.pvalue.AsSingleton(outline)
        ).with_outputs(keyed.NODES, keyed.RUN_LINKS, keyed.BANDS)
        lake = {tag: articles.pipeline | f"No {tag}" >> beam.Create([]) for tag in _LAKE_TAGS}
        if self.history is not None:
            lake = (
                outline
                | "List history files" >> beam.FlatMap(_listed, self.history)
                | "Spread history files" >> beam.Reshuffle()
                | "Read history by shard"
                >> beam.ParDo(_ReadHistoryFn(self.history, shards)).with_outputs(*_LAKE_TAGS)
            )
        linked = (
            {"run": run[keyed.RUN_LINKS], "lake": lake[keyed.LAKE_LINKS]}
            | "Group feed items" >> beam.CoGroupByKey()
            | "Match feed items"
            >> beam.ParDo(_MatchLinksFn(shards)).with_outputs(
                steps.CLUSTERS, steps.LINKED, steps.WANTED, keyed.BANDS
            )
        )
        members = (
            (run[keyed.BANDS], lake[keyed.BANDS], linked[keyed.BANDS])
            | "Gather band keys" >> beam.Flatten()
            | "Group band keys" >> beam.GroupByKey()
            | "Find shared buckets" >> beam.FlatMap(_shared_buckets)
        )
        settled = (
            {
                keyed.NODES: run[keyed.NODES],
                keyed.HELD: lake[keyed.HELD],
                keyed.NEAR: lake[keyed.NEAR],
                steps.LINKED: linked[steps.LINKED],
                steps.MEMBERS: members,
                steps.WANTED: linked[steps.WANTED],
            }
            | "Group by content id" >> beam.CoGroupByKey()
            | "Settle nodes"
            >> beam.ParDo(_SettleNodesFn(shards)).with_outputs(steps.CLUSTERS, main="candidates")
        )
        pairs = (
            settled["candidates"]
            | "Group candidates by bucket" >> beam.GroupByKey()
            | "Confirm near pairs" >> beam.FlatMap(_confirm_pairs, self.threshold)
        )
        verdict = (
            (linked[steps.CLUSTERS], settled[steps.CLUSTERS], pairs)
            | "Gather edges" >> beam.Flatten()
            | "Keep each edge and node once" >> beam.CombineGlobally(_GatherFn())
            | "Decide clusters" >> beam.ParDo(_DecideClustersFn(), beam.pvalue.AsSingleton(outline))
        )
        decisions = verdict | "Decisions" >> beam.Map(lambda v: Decisions.of(v.decisions))
        index = (
            sketches
            # Read again after a shuffle: fused with the sketching, the step would wait for
            # a verdict that waits for the sketching (the DirectRunner stops, "bundles did
            # not execute").
            | "Hold sketches for the index" >> beam.Reshuffle()
            | "Keep what is new" >> beam.Map(steps.kept_rows, beam.pvalue.AsSingleton(verdict))
            | "Gather new entries" >> beam.combiners.ToList()
            | "Order new entries"
            >> beam.Map(
                lambda kept, verdict: steps.new_index(kept, verdict.lake_updates),
                beam.pvalue.AsSingleton(verdict),
            )
        )
        return {"decisions": decisions, "index": index}


_LAKE_TAGS = (keyed.HELD, keyed.NEAR, keyed.LAKE_LINKS, keyed.BANDS)
