"""Copies joined into clusters, and what each cluster comes to: pure functions on arrays.

Guarantees: the candidate pairs and the clusters depend only on the nodes' keep order, so the
decision in one step (:mod:`pipeline.dedup.decide`) and in shards
(:mod:`pipeline.dedup.shard_steps`) come to the same clusters. The keeper of a cluster is its
lowest node: an entry already in the lake if it has one, else its first article in keep order.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pipeline.core import minhash

__all__ = ["Decision", "Settlement", "bucket_pairs", "settle_clusters"]

_MAX_PAIRS_PER_BUCKET = 64  # a bucket shared by many articles is boilerplate, not news


@dataclasses.dataclass(frozen=True)
class Decision:
    """What happens to one article of a cluster."""

    duplicate_of: str | None = None
    kind: str | None = None
    similarity: float | None = None
    copies: int = 0


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, node: int) -> int:
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def union(self, left: int, right: int) -> None:
        left, right = self.find(left), self.find(right)
        if left != right:  # the lower index (earlier in keep order) stays the root
            self.parent[max(left, right)] = min(left, right)


def bucket_pairs(order: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The candidate pairs of rows that share a bucket, as rows ``(left, right)``.

    Args:
        order: rows sorted by bucket, and within a bucket by node (keep order).
        keys: their buckets, in that order.

    Returns:
        Each row with the previous and with the first of its bucket, for the first
        ``_MAX_PAIRS_PER_BUCKET`` rows of a bucket (a bucket shared by many is boilerplate).
    """
    same = np.flatnonzero(keys[1:] == keys[:-1]) + 1
    if not len(same):
        return np.empty((0, 2), dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    first = starts[np.searchsorted(starts, same, side="right") - 1]
    near_start = same - first < _MAX_PAIRS_PER_BUCKET
    same, first = same[near_start], first[near_start]
    return np.concatenate(
        [
            np.stack([order[same - 1], order[same]], axis=1),
            np.stack([order[first], order[same]], axis=1),
        ]
    )


@dataclasses.dataclass(frozen=True)
class Settlement:
    """What the clusters of a decision come to, by node (an index in keep order, the lake's
    entries first)."""

    decisions: dict[int, Decision]  # run nodes: duplicates, and keepers with copies
    cluster_links: dict[int, tuple[str, ...]]  # each keeper of a cluster with run nodes: its links
    lake_updates: list[int]  # lake keepers whose clusters brought links the index lacks


def settle_clusters(
    nodes: int,
    edges: np.ndarray,
    held: int,
    ids: np.ndarray,
    sketches: np.ndarray,
    links: dict[int, tuple[str, ...]],
) -> Settlement:
    """Join ``edges`` into clusters (connected components) and decide each one.

    Args:
        nodes: how many nodes; nodes below ``held`` are the lake's entries, the rest this
            run's articles, each part in keep order.
        edges: ``(left, right)`` node pairs that are copies (the same feed item, content id,
            or a confirmed near pair).
        held, ids, sketches, links: the lake's node count, and the nodes' content ids
            (``S32``), sketches and feed links (by node).

    Returns:
        The keeper of each cluster is its lowest node: a lake entry if it has one, else its
        first article in keep order. Every other article of the cluster is its duplicate
        (``exact``: the same id; ``link``: a feed link in common; else ``near``).
    """
    clusters = _UnionFind(nodes)
    for left, right in edges.tolist():
        clusters.union(left, right)
    members: dict[int, list[int]] = {}
    for node in np.unique(edges).tolist():
        members.setdefault(clusters.find(node), []).append(node)
    decisions: dict[int, Decision] = {}
    cluster_links_of: dict[int, tuple[str, ...]] = {}
    lake_updates: list[int] = []
    for root, cluster in members.items():
        new = [node for node in cluster if node >= held]
        if not new:
            continue
        keeper = root  # the lowest index: a lake entry if any, else the first in keep order
        # The index learns every feed link of the cluster, so the next run skips those items.
        cluster_links = tuple(dict.fromkeys(link for n in cluster for link in links.get(n, ())))
        cluster_links_of[keeper] = cluster_links
        if keeper >= held:
            if len(new) > 1:
                decisions[keeper] = Decision(copies=len(new) - 1)
        elif set(cluster_links) - set(links.get(keeper, ())):
            lake_updates.append(keeper)
        for node in new:
            if node == keeper:
                continue
            exact = ids[node] == ids[keeper]
            similarity = 1.0
            if not exact:
                similarity = float(minhash.estimate_jaccard(sketches[node], sketches[keeper]))
            same_item = bool(set(links.get(node, ())) & set(links.get(keeper, ())))
            decisions[node] = Decision(
                duplicate_of=ids[keeper].decode("ascii"),
                kind="exact" if exact else "link" if same_item else "near",
                similarity=round(similarity, 4),
            )
    return Settlement(decisions, cluster_links_of, lake_updates)
