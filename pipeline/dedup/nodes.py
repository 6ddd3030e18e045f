"""The nodes of the sharded duplicate decision, and the shards they go to: pure functions.

Guarantees: a node is an article of the run or an entry of the lake's index, named by 17
bytes that sort in keep order (a lake entry: 0, its 16-byte id; a run article: 1, its
published day, the rank of its source by file name and URI, its position), so any shard
orders what it holds as the single decision does. Every part of the run and of the history
goes to the shard of its key: an article or entry to the node shard of its content id (its
home), a feed item to the link shard of its key, a band key to the bucket shard of its
bucket; the same key always to the same shard. :mod:`pipeline.dedup.shard_steps` holds the steps.
"""

from __future__ import annotations

import binascii
import dataclasses
from collections.abc import Iterable, Iterator

import numpy as np

from pipeline.core import minhash
from pipeline.core.records import IndexBatch, segment_key
from pipeline.dedup.sketch import SketchBatch
from pipeline.lake.history import ids_of, key_of

__all__ = [
    "BANDS",
    "HELD",
    "LAKE_LINKS",
    "NEAR",
    "NODE",
    "NODES",
    "PLACE_BITS",
    "RUN_LINKS",
    "Candidates",
    "Links",
    "Memberships",
    "Nodes",
    "Outline",
    "article_key_of",
    "buckets_of",
    "by_bucket_then_node",
    "by_shard",
    "hex_ids",
    "history_parts",
    "is_lake",
    "lake_nodes",
    "lake_parts",
    "parts_by_shard",
    "run_nodes",
    "run_parts",
    "shard_of_buckets",
    "shard_of_keys",
    "take_entries",
]

NODE = np.dtype("V17")
_RUN_NODE = np.dtype([("kind", "u1"), ("day", ">u4"), ("rank", ">u4"), ("position", ">u8")])
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@dataclasses.dataclass(frozen=True)
class Outline:
    """What every step must agree on: the run's sources in keep order (file name, then URI)
    and its published days (the near window's centres)."""

    uris: tuple[str, ...]
    days: tuple[int, ...]

    @classmethod
    def of(cls, uris: Iterable[str], days: Iterable[int]) -> Outline:
        ordered = sorted(set(uris), key=lambda uri: (uri.rsplit("/", 1)[-1], uri))
        return cls(tuple(ordered), tuple(sorted(set(days))))


def run_nodes(batch: SketchBatch, outline: Outline) -> np.ndarray:
    """The nodes of a batch's articles, row by row."""
    rank = {uri: n for n, uri in enumerate(outline.uris)}
    nodes = np.zeros(len(batch), dtype=_RUN_NODE)
    nodes["kind"] = 1
    nodes["day"] = batch.day
    nodes["rank"] = np.array([rank[uri] for uri in batch.uris], dtype=np.int64)[batch.uri]
    nodes["position"] = batch.position
    return nodes.view(NODE)


def lake_nodes(keys: np.ndarray) -> np.ndarray:
    """The nodes of lake entries, from their 16-byte ids (``S16``)."""
    rows = np.zeros((len(keys), 17), dtype=np.uint8)
    rows[:, 1:] = np.frombuffer(keys.tobytes(), dtype=np.uint8).reshape(-1, 16)
    return rows.view(NODE).ravel()


def is_lake(nodes: np.ndarray) -> np.ndarray:
    """Which nodes are the lake's entries."""
    return nodes.view(np.uint8).reshape(-1, 17)[:, 0] == 0


def article_key_of(node: np.void, outline: Outline) -> str:
    """The :func:`pipeline.core.records.article_key` of a run article's node."""
    fields = np.frombuffer(node.tobytes(), dtype=_RUN_NODE)[0]
    return segment_key(outline.uris[int(fields["rank"])], int(fields["position"]))


def shard_of_keys(keys: np.ndarray, shards: int) -> np.ndarray:
    """The shard of each 16-byte key (``S16``: a content id, a feed item's key), from both
    its halves mixed: ids that are not hashes (a test's, a benchmark's) spread too."""
    halves = np.frombuffer(keys.tobytes(), dtype="<u8").reshape(-1, 2)
    return _spread(halves[:, 0] ^ (halves[:, 1] * _GOLDEN), shards)


def _spread(values: np.ndarray, shards: int) -> np.ndarray:
    """``values`` (uint64) mixed by splitmix64's finaliser, so every bit counts, into shards."""
    x = values ^ (values >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return ((x ^ (x >> np.uint64(31))) % np.uint64(shards)).astype(np.int64)


def shard_of_buckets(buckets: np.ndarray, shards: int) -> np.ndarray:
    """The shard of each bucket (``band << 32 | band key``)."""
    return _spread(buckets, shards)


def by_shard(shards: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """``(shard, rows)`` for each shard that ``shards`` (one per row) names."""
    if not len(shards):
        return
    order = np.argsort(shards, kind="stable")
    found, starts = np.unique(shards[order], return_index=True)
    yield from zip(found.tolist(), np.split(order, starts[1:]), strict=True)


def take_entries(batch: IndexBatch, rows: np.ndarray) -> IndexBatch:
    """The entries of ``rows``, in that order, their links and days with them."""
    links = {}
    if batch.links:
        links = {
            new: batch.links[old] for new, old in enumerate(rows.tolist()) if old in batch.links
        }
    days = None if batch.days is None else batch.days[rows]
    return IndexBatch(batch.ids[rows], batch.bands[rows], batch.sketches[rows], links, days)


@dataclasses.dataclass(frozen=True, eq=False)
class Nodes:
    """Nodes and their index entries (id, band keys, sketch, feed links), row by row; for
    lake entries, ``places``: where in the history they were read (file, then row), so that
    the first place gives an entry's data and its links' order, as history_for reads them."""

    nodes: np.ndarray  # (n,) NODE
    entries: IndexBatch
    places: np.ndarray  # (n,) int64; -1: an entry whose data comes from the run's article

    @classmethod
    def concat(cls, parts: Iterable[Nodes]) -> Nodes:
        parts = [part for part in parts if len(part)]
        return cls(
            np.concatenate([p.nodes for p in parts]) if parts else np.empty(0, NODE),
            IndexBatch.concat(p.entries for p in parts),
            np.concatenate([p.places for p in parts]) if parts else np.empty(0, np.int64),
        )

    def __len__(self) -> int:
        return len(self.nodes)

    def take(self, rows: np.ndarray) -> Nodes:
        return Nodes(self.nodes[rows], take_entries(self.entries, rows), self.places[rows])

    def homes(self, shards: int) -> np.ndarray:
        """Each row's node shard: the shard of its content id."""
        return shard_of_keys(ids_of(self.entries.ids), shards)


def buckets_of(nodes: Nodes, shards: int, run: bool) -> Memberships:
    """Each node once in each of its 20 buckets (``band << 32 | band key``), with its home."""
    bands = np.arange(minhash.BANDS, dtype=np.uint64) << np.uint64(32)
    return Memberships(
        buckets=(bands | nodes.entries.bands.astype(np.uint64)).ravel(),
        nodes=np.repeat(nodes.nodes, minhash.BANDS),
        homes=np.repeat(nodes.homes(shards).astype(np.int32), minhash.BANDS),
        with_run=np.full(len(nodes) * minhash.BANDS, run),
    )


@dataclasses.dataclass(frozen=True, eq=False)
class Memberships:
    """Nodes in buckets, with each node's home shard and whether its bucket (or, as a band
    row going in, the node) holds an article of the run."""

    buckets: np.ndarray  # (n,) uint64
    nodes: np.ndarray  # (n,) NODE
    homes: np.ndarray  # (n,) int32
    with_run: np.ndarray  # (n,) bool

    @classmethod
    def concat(cls, parts: Iterable[Memberships]) -> Memberships:
        parts = list(parts)
        fields = ("buckets", "nodes", "homes", "with_run")
        empty = (np.uint64, NODE, np.int32, bool)
        return cls(
            *(
                np.concatenate([getattr(p, f) for p in parts]) if parts else np.empty(0, e)
                for f, e in zip(fields, empty, strict=True)
            )
        )

    def take(self, rows: np.ndarray) -> Memberships:
        return Memberships(
            self.buckets[rows], self.nodes[rows], self.homes[rows], self.with_run[rows]
        )


def by_bucket_then_node(buckets: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """One 25-byte value per row that sorts by bucket, then by node (keep order)."""
    rows = np.empty((len(buckets), 25), dtype=np.uint8)
    rows[:, :8] = buckets.astype(">u8").view(np.uint8).reshape(-1, 8)
    rows[:, 8:] = nodes.view(np.uint8).reshape(-1, 17)
    return rows.view("V25").ravel()


@dataclasses.dataclass(frozen=True, eq=False)
class Links:
    """Feed items by their 16-byte keys (:func:`pipeline.lake.history.key_of`): the run's,
    each with its article and link, or the lake's, each with the entry that holds it."""

    keys: np.ndarray  # (n,) S16
    links: tuple[str, ...]  # the run's: each row's link; the lake's: ()
    nodes: Nodes

    @classmethod
    def of_run(cls, nodes: Nodes) -> Links:
        rows = [(row, link) for row, found in sorted(nodes.entries.links.items()) for link in found]
        links = tuple(link for _, link in rows)
        keys = np.array([key_of(link) for link in links], dtype="S16").reshape(-1)
        return cls(keys, links, nodes.take(np.array([row for row, _ in rows], dtype=np.int64)))

    @classmethod
    def concat(cls, parts: Iterable[Links]) -> Links:
        parts = list(parts)
        keys = np.concatenate([p.keys for p in parts]) if parts else np.empty(0, "S16")
        links = tuple(link for part in parts for link in part.links)
        return cls(keys, links, Nodes.concat(part.nodes for part in parts))

    def take(self, rows: np.ndarray) -> Links:
        links = tuple(self.links[row] for row in rows.tolist()) if self.links else ()
        return Links(self.keys[rows], links, self.nodes.take(rows))


@dataclasses.dataclass(frozen=True, eq=False)
class Candidates:
    """Nodes of shared buckets on their way to the bucket's shard, with their entries."""

    buckets: np.ndarray  # (n,) uint64
    rows: np.ndarray  # (n,) int64: the node's row in details
    details: Nodes


def hex_ids(keys: np.ndarray) -> np.ndarray:
    """16-byte ids (``S16``) as the index's content ids (``S32``, hex)."""
    return (
        np.frombuffer(binascii.hexlify(keys.tobytes()), dtype="S32")
        if len(keys)
        else np.empty(0, "S32")
    )


# What each shard takes ---------------------------------------------------------------------

NODES, HELD, NEAR, BANDS = "nodes", "held", "near", "bands"
RUN_LINKS, LAKE_LINKS = "run_links", "lake_links"
PLACE_BITS = 36  # a place is (file << PLACE_BITS) | row in file


def parts_by_shard(tag: str, part, shards: np.ndarray) -> Iterator[tuple[str, int, object]]:
    """``(tag, shard, rows of part)`` for each shard that ``shards`` (one per row) names."""
    for shard, rows in by_shard(shards):
        yield tag, shard, part.take(rows)


def run_parts(
    batch: SketchBatch, outline: Outline, shards: int
) -> Iterator[tuple[str, int, object]]:
    """A batch of the run's sketches as ``(tag, shard, part)``: its articles to their node
    shards, their feed items to their link shards, their band keys to their bucket shards."""
    nodes = Nodes(run_nodes(batch, outline), batch.entries, np.zeros(len(batch), np.int64))
    yield from parts_by_shard(NODES, nodes, nodes.homes(shards))
    links = Links.of_run(nodes)
    yield from parts_by_shard(RUN_LINKS, links, shard_of_keys(links.keys, shards))
    bands = buckets_of(nodes, shards, run=True)
    yield from parts_by_shard(BANDS, bands, shard_of_buckets(bands.buckets, shards))


def history_parts(
    kind: str, keys: np.ndarray, ids: np.ndarray | None, bands, sketches, first: int, shards: int
) -> Iterator[tuple[str, int, object]]:
    """A block of the lake's index (``kind`` ids, links or near) as ``(tag, shard, part)``;
    its rows' places are ``first``, ``first + 1``, ... ``ids`` (of a links block) and
    ``keys`` are 16-byte ids or feed keys (``S16``)."""
    if kind == "ids":
        for shard, rows in by_shard(shard_of_keys(keys, shards)):
            yield HELD, shard, keys[rows]
        return
    places = first + np.arange(len(keys), dtype=np.int64)
    held = keys if kind == "near" else ids
    nodes = Nodes(lake_nodes(held), IndexBatch(hex_ids(held), bands, sketches), places)
    if kind == "links":
        yield from parts_by_shard(LAKE_LINKS, Links(keys, (), nodes), shard_of_keys(keys, shards))
        return
    yield from lake_parts(NEAR, nodes, shards)


def lake_parts(tag: str, nodes: Nodes, shards: int) -> Iterator[tuple[str, int, object]]:
    """Lake entries to their node shards (as ``tag``) and their band keys to bucket shards."""
    yield from parts_by_shard(tag, nodes, nodes.homes(shards))
    rows = buckets_of(nodes, shards, run=False)
    yield from parts_by_shard(BANDS, rows, shard_of_buckets(rows.buckets, shards))
