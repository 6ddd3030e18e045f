"""The duplicate decision in steps that each hold one shard: pure functions, no Beam.

Guarantees: the steps, run over any number of shards, come to the decision
:func:`pipeline.dedup.decide.decide_batches` makes against the entries
:func:`pipeline.lake.history.history_for` reads: the same decisions and the same new index
entries, given an index that holds an article's band keys and sketch as its run computed
them (feedlake writes it so). No step holds every article: a link shard holds the feed items
of its keys, a bucket shard the band keys of its buckets, a node shard the articles and
entries of its content ids; only the nodes of shared buckets, ids and feed items travel on,
and the last step holds only the nodes that copies join. The nodes and shards are those of
:mod:`pipeline.dedup.nodes`; :mod:`pipeline.dedup.in_shards` runs the steps on Beam.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from pipeline.core import minhash
from pipeline.core.records import IndexBatch
from pipeline.dedup.clusters import Decision, bucket_pairs, settle_clusters
from pipeline.dedup.nodes import (
    NODE,
    Candidates,
    Links,
    Memberships,
    Nodes,
    Outline,
    article_key_of,
    by_bucket_then_node,
    by_shard,
    is_lake,
    lake_nodes,
    lake_parts,
    parts_by_shard,
    shard_of_buckets,
    take_entries,
)
from pipeline.dedup.sketch import SketchBatch
from pipeline.lake.history import ids_of

__all__ = [
    "CANDIDATES",
    "CLUSTERS",
    "LINKED",
    "MEMBERS",
    "WANTED",
    "Matched",
    "Settled",
    "Verdict",
    "candidate_parts",
    "confirm_pairs",
    "decide_from_edges",
    "gathered",
    "kept_rows",
    "match_links",
    "matched_parts",
    "membership_parts",
    "new_index",
    "settle_nodes",
    "shared_buckets",
]

_NO_EDGES = np.empty((0, 2), dtype=NODE)


def shared_buckets(rows: Memberships) -> Memberships:
    """The rows of buckets that two nodes or more share (each node once), each marked with
    whether its bucket holds an article of the run. Nothing pairs in a bucket of one."""
    order = np.argsort(rows.buckets, kind="stable")  # most buckets hold one row: drop them
    same = rows.buckets[order[1:]] == rows.buckets[order[:-1]]
    rows = rows.take(np.sort(order[np.r_[same, False] | np.r_[False, same]]))
    _, unique = np.unique(by_bucket_then_node(rows.buckets, rows.nodes), return_index=True)
    buckets = rows.buckets[unique]
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]]) if len(unique) else unique
    sizes = np.diff(np.r_[starts, len(unique)])
    with_run = np.maximum.reduceat(rows.with_run[unique], starts) if len(unique) else sizes > 0
    shared = np.repeat(sizes >= 2, sizes)
    return dataclasses.replace(
        rows.take(unique[shared]), with_run=np.repeat(with_run, sizes)[shared]
    )


@dataclasses.dataclass(frozen=True, eq=False)
class Matched:
    """A link shard's findings: edges of nodes that are the same feed item, the lake's
    entries that hold a feed item of the run (each with its link), and the run's articles in
    those edges."""

    edges: np.ndarray  # (k, 2) NODE
    linked: Nodes
    wanted: Nodes


def match_links(run: Links, held: Links) -> Matched:
    """One link shard: the run's feed items against the lake's (history_for's first rung)."""
    matched = held.take(np.flatnonzero(np.isin(held.keys, run.keys)))
    link_of = dict(zip(run.keys.tolist(), run.links, strict=True))
    linked = matched.nodes
    linked.entries.links.clear()
    linked.entries.links.update(
        (row, (link_of[key],)) for row, key in enumerate(matched.keys.tolist())
    )
    keys = np.concatenate([run.keys, matched.keys])
    nodes = np.concatenate([run.nodes.nodes, matched.nodes.nodes])
    rows = np.empty((len(keys), 33), dtype=np.uint8)
    rows[:, :16] = np.frombuffer(keys.tobytes(), dtype=np.uint8).reshape(-1, 16)
    rows[:, 16:] = nodes.view(np.uint8).reshape(-1, 17)
    _, unique = np.unique(rows.view("V33").ravel(), return_index=True)  # by key, then node
    keys, nodes = keys[unique], nodes[unique]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else unique
    first = np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
    joined = np.flatnonzero(first != np.arange(len(keys)))
    edges = np.stack([nodes[first[joined]], nodes[joined]], axis=1)
    wanted = run.nodes.take(np.flatnonzero(np.isin(run.nodes.nodes, edges.ravel())))
    return Matched(edges, linked, wanted)


@dataclasses.dataclass(frozen=True, eq=False)
class Settled:
    """A node shard's findings: edges it knows (the same content id), the nodes the final
    step needs, and the candidates of shared buckets."""

    edges: np.ndarray  # (k, 2) NODE
    details: Nodes
    candidates: Candidates
    lake_entries: int  # the lake's entries that take part


def settle_nodes(
    run: Nodes,
    held: np.ndarray,
    near: Nodes,
    linked: Nodes,
    members: Memberships,
    wanted: Nodes,
) -> Settled:
    """One node shard: which lake entries take part, and how its nodes pair.

    Args:
        run: the run's articles whose content ids fall in this shard.
        held: the ids (``S16``) of the lake's ``ids`` files in this shard.
        near: the entries of the window's ``near`` files in this shard, with their places.
        linked: lake entries that hold a feed item of the run, each with that item's link.
        members: the rows of shared buckets (:func:`shared_buckets`) of this shard's nodes.
        wanted: run articles of this shard that share a feed item with another node.

    Returns:
        A lake entry takes part as history_for takes it: the run holds its id (its data
        then the run's article's), or one of its feed items, or it is near and shares a
        bucket with an article of the run. The edges of nodes with the same id; the
        entries of the nodes in those edges, of ``linked`` and of ``wanted``; and each taking
        part node's shared buckets (an entry with the run's id in its article's buckets).
    """
    run = run.take(np.argsort(run.nodes, kind="stable"))
    run_ids = ids_of(run.entries.ids)
    held_rows = np.flatnonzero(np.isin(run_ids, held))
    _, first = np.unique(run_ids[held_rows], return_index=True)  # the first article of each id
    twin_rows = held_rows[first]
    twins = Nodes(
        lake_nodes(run_ids[twin_rows]),
        dataclasses.replace(take_entries(run.entries, twin_rows), links={}),
        np.full(len(twin_rows), -1, dtype=np.int64),
    )
    lake = Nodes.concat([twins, linked, near])
    by_place = np.argsort(lake.places, kind="stable")
    order = by_place[np.argsort(lake.nodes[by_place], kind="stable")]  # by node, then place
    nodes, first = np.unique(lake.nodes[order], return_index=True)
    links: dict[bytes, dict[str, None]] = {}
    for row in order[np.isin(order, np.arange(len(twins), len(twins) + len(linked)))].tolist():
        found = links.setdefault(lake.nodes[row].tobytes(), {})
        found.update(dict.fromkeys(lake.entries.links.get(row, ())))
    taking_part = np.isin(nodes, twins.nodes) | np.isin(nodes, linked.nodes)
    taking_part |= np.isin(nodes, members.nodes[members.with_run])
    entries = lake.take(order[first[taking_part]])
    entries.entries.links.clear()
    for row, node in enumerate(entries.nodes):
        if found := links.get(node.tobytes()):
            entries.entries.links[row] = tuple(found)
    table = Nodes.concat([entries, run])  # in node order: the lake's entries sort first

    _, first, inverse = np.unique(table.entries.ids, return_index=True, return_inverse=True)
    same_id = first[inverse.ravel()]
    copies = np.flatnonzero(same_id != np.arange(len(table)))
    edges = np.stack([table.nodes[same_id[copies]], table.nodes[copies]], axis=1)

    # An entry with the id of a run article takes that article's band keys (history_for
    # does), so it is in that article's buckets: in the crowded ones, it takes a place.
    twin_of = np.full(len(run), -1, dtype=np.int64)
    twin_of[held_rows] = np.searchsorted(table.nodes, lake_nodes(run_ids[held_rows]))
    in_table = np.isin(members.nodes, table.nodes)
    buckets, rows = members.buckets[in_table], np.searchsorted(table.nodes, members.nodes[in_table])
    of_run = rows >= len(entries)
    twinned = twin_of[rows[of_run] - len(entries)]
    buckets = np.r_[buckets, buckets[of_run][twinned >= 0]]
    rows = np.r_[rows, twinned[twinned >= 0]]

    needed = np.isin(table.nodes, np.concatenate([edges.ravel(), linked.nodes, wanted.nodes]))
    used, rows = np.unique(rows, return_inverse=True)
    candidates = Candidates(buckets, rows, table.take(used))
    return Settled(edges, table.take(np.flatnonzero(needed)), candidates, len(entries))


def confirm_pairs(parts: list[Candidates], threshold: float) -> tuple[np.ndarray, Nodes]:
    """One bucket shard (one part or more): the near pairs of its buckets, confirmed by
    their sketches.

    Returns:
        The edges (the pairs of :func:`pipeline.dedup.clusters.bucket_pairs` whose estimated Jaccard
        similarity is at least ``threshold``), and the entries of the nodes they join.
    """
    details = Nodes.concat(part.details for part in parts)  # a part holds a node or more
    offsets = np.cumsum([0, *(len(part.details) for part in parts)])[:-1]
    rows = np.concatenate([p.rows + offset for p, offset in zip(parts, offsets, strict=True)])
    buckets = np.concatenate([part.buckets for part in parts])
    _, unique = np.unique(by_bucket_then_node(buckets, details.nodes[rows]), return_index=True)
    pairs = bucket_pairs(unique, buckets[unique])
    left, right = rows[pairs[:, 0]], rows[pairs[:, 1]]
    sketches = details.entries.sketches
    similar = minhash.estimate_jaccard(sketches[left], sketches[right]) >= threshold
    left, right = left[similar], right[similar]
    edges = np.stack([details.nodes[left], details.nodes[right]], axis=1)
    return edges, details.take(np.unique(np.r_[left, right]))


def gathered(
    edges: list[np.ndarray], details: list[Nodes], last: bool = False
) -> tuple[list, list]:
    """Edges and entries on their way to the final step, each edge and each node's entry
    kept once (a pair of nodes that share several buckets is confirmed in several shards):
    compacted when the parts hold twice the rows of the last compaction, and at the ``last``."""
    rows = sum(len(part) for part in details)
    if not last and (len(details) < 2 or rows < 2 * len(details[0]) + 65_536):
        return edges, details
    table = Nodes.concat(details)
    _, first = np.unique(table.nodes, return_index=True)
    pairs = np.concatenate([_NO_EDGES, *edges])
    _, once = np.unique(np.ascontiguousarray(pairs).view("V34").ravel(), return_index=True)
    return [pairs[once]], [table.take(first)]


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The decision: a :class:`~pipeline.dedup.clusters.Decision` by article key for the articles of
    clusters, the feed links of each kept article that keeps copies (its cluster's), and the
    lake's entries whose clusters brought feed links the index lacks."""

    decisions: dict[str, Decision]
    links: dict[str, tuple[str, ...]]
    lake_updates: IndexBatch


def decide_from_edges(edges: list[np.ndarray], details: list[Nodes], outline: Outline) -> Verdict:
    """The final step: the clusters the edges make, settled as decide_batches settles them.

    Raises:
        ValueError: an edge joins a node no step sent the entry of (a defect of the steps).
    """
    edges = np.concatenate([_NO_EDGES, *edges])
    nodes = np.unique(edges.ravel())
    table = Nodes.concat(details)
    known, first = np.unique(table.nodes, return_index=True)
    found = np.isin(nodes, known)
    if not found.all():
        raise ValueError(f"decide_from_edges: {int((~found).sum())} joined nodes have no entry")
    table = table.take(first[np.searchsorted(known, nodes)])
    held = int(is_lake(table.nodes).sum())
    settled = settle_clusters(
        len(table),
        np.searchsorted(table.nodes, edges),
        held,
        table.entries.ids,
        table.entries.sketches,
        table.entries.links,
    )
    keys = {node: article_key_of(table.nodes[node], outline) for node in settled.decisions}
    keepers = [node for node in settled.cluster_links if node >= held]
    keys.update((node, article_key_of(table.nodes[node], outline)) for node in keepers)
    updates = take_entries(table.entries, np.array(settled.lake_updates, dtype=np.int64))
    updates = dataclasses.replace(
        updates,
        links={n: settled.cluster_links[node] for n, node in enumerate(settled.lake_updates)},
        days=np.zeros(len(updates), dtype=np.int64),
    )
    return Verdict(
        {keys[node]: decision for node, decision in settled.decisions.items()},
        {keys[node]: settled.cluster_links[node] for node in keepers},
        updates,
    )


def kept_rows(batch: SketchBatch, verdict: Verdict) -> SketchBatch:
    """The articles of ``batch`` the index takes: all but duplicates, each with its feed
    links (a keeper's: its cluster's)."""
    keys = [batch.key(row) for row in range(len(batch))]
    decisions = verdict.decisions
    rows = [
        n for n, key in enumerate(keys) if getattr(decisions.get(key), "duplicate_of", None) is None
    ]
    rows = np.array(rows, dtype=np.int64)
    entries = take_entries(batch.entries, rows)
    for n, row in enumerate(rows.tolist()):
        found = verdict.links.get(keys[row], entries.links.get(n, ()))
        entries.links.pop(n, None)
        if found := tuple(dict.fromkeys(found)):
            entries.links[n] = found
    return SketchBatch(batch.uris, batch.uri[rows], batch.position[rows], batch.day[rows], entries)


def new_index(kept: list[SketchBatch], lake_updates: IndexBatch) -> IndexBatch:
    """The run's new index entries as decide_batches orders them: its kept articles in keep
    order, then the lake's updated entries."""
    run = SketchBatch.concat(kept)
    order = run.keep_order()
    entries = dataclasses.replace(take_entries(run.entries, order), days=run.day[order])
    return IndexBatch.concat([entries, lake_updates]) if len(lake_updates) else entries


LINKED, WANTED, MEMBERS, CANDIDATES = "linked", "wanted", "members", "candidates"
CLUSTERS = "clusters"  # edges and entries for the final step


def matched_parts(matched: Matched, shards: int) -> Iterator[tuple[str, int, object]]:
    """What a link shard found, as ``(tag, shard, part)``: the lake's entries that hold a
    run's feed item to their node shards, their band keys to bucket shards, and the run's
    articles in its edges to their node shards (which send on their entries)."""
    yield from lake_parts(LINKED, matched.linked, shards)
    yield from parts_by_shard(WANTED, matched.wanted, matched.wanted.homes(shards))


def membership_parts(shared: Memberships) -> Iterator[tuple[str, int, object]]:
    """A bucket shard's shared buckets to the node shards of their nodes."""
    yield from parts_by_shard(MEMBERS, shared, shared.homes)


def candidate_parts(candidates: Candidates, shards: int) -> Iterator[tuple[str, int, object]]:
    """The candidates by the shard of their bucket, each with only its own nodes' entries."""
    for shard, rows in by_shard(shard_of_buckets(candidates.buckets, shards)):
        used, inverse = np.unique(candidates.rows[rows], return_inverse=True)
        yield (
            CANDIDATES,
            shard,
            Candidates(candidates.buckets[rows], inverse, candidates.details.take(used)),
        )
