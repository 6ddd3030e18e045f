"""The sharded decision's steps, named after their promise: whatever the shards, they come
to the single decision's decisions and new index entries, edge cases of the single
decision included (a bucket only lake entries share, a crowded bucket, an entry the run
holds by id, an entry found by two feed items)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from benchmarks.shards import decide_step_by_step
from pipeline.core import minhash
from pipeline.core.records import IndexBatch
from pipeline.dedup.decide import decide_batches
from pipeline.dedup.nodes import Memberships, Nodes, Outline, lake_nodes, run_nodes
from pipeline.dedup.shard_steps import decide_from_edges, shared_buckets
from pipeline.dedup.sketch import ArticleSketch, SketchBatch
from pipeline.lake.history import LakeHistory
from tests.support.dedup_corpus import build
from tests.support.index import write_index

DAY = dt.date(2025, 8, 29).toordinal()
RNG = np.random.default_rng(11)


def single(batches: list[SketchBatch], history: LakeHistory):
    run = SketchBatch.concat(batches)
    return decide_batches(run, history.for_run(run.entries, run.day))


def assert_same(sharded, single_) -> None:
    (verdict, index), (decisions, kept) = sharded, single_
    assert verdict.decisions == decisions
    assert list(index) == list(kept) and index.days.tolist() == kept.days.tolist()


def in_batches(sketches: list, size: int) -> list[SketchBatch]:
    return [SketchBatch.of(sketches[n : n + size]) for n in range(0, len(sketches), size)]


def content_id(n: int) -> str:
    return f"{n:032x}"


def random_bands() -> np.ndarray:
    return RNG.integers(0, 2**32, minhash.BANDS, dtype=np.uint64).astype("<u4")


def changed(sketch: np.ndarray, count: int) -> np.ndarray:
    """``sketch`` with ``count`` bytes changed: estimated similarity (140 - count) / 140."""
    out = sketch.copy()
    rows = RNG.choice(minhash.NUM_PERM, count, replace=False)
    out[rows] = out[rows] + 1
    return out


def run_sketch(n: int, bands, sketch, uri="/d/milosi-2025-08-29.txt", day=DAY, links=()):
    return ArticleSketch(
        f"{uri}#{n}", (day, uri.rsplit("/", 1)[-1], uri, n), content_id(n), bands.tobytes(),
        sketch.tobytes(), tuple(links),
    )  # fmt: skip


def lake_entries(ids, bands, sketches, day, links=None) -> IndexBatch:
    return IndexBatch(
        np.array([content_id(i) for i in ids], dtype="S32"),
        np.stack(bands).astype("<u4"),
        np.stack(sketches).astype(np.uint8),
        links or {},
        np.full(len(ids), day, dtype=np.int64),
    )


@pytest.mark.parametrize("shards", [1, 2, 3, 6])
def test_the_steps_decide_as_the_single_decision_whatever_the_shards(tmp_path, shards):
    articles = build(tmp_path)
    history = LakeHistory(str(tmp_path), 30)
    batches = [SketchBatch.of_articles(articles[n : n + 7]) for n in range(0, len(articles), 7)]
    expected = single(batches, history)
    assert {d.kind for d in expected[0].values()} == {None, "exact", "near", "link"}
    assert_same(decide_step_by_step(batches, history, 0.7, shards), expected)


def test_lake_entries_join_through_a_bucket_no_article_of_the_run_shares(tmp_path):
    # A and B, both in the lake, share only band 5; A shares band 0 with R1, B band 9 with R2.
    # C, alike and first in keep order, shares band 12 with A and no band with the run: the
    # single decision never holds it, so it keeps nothing.
    a_bands, b_bands, c_bands, r1_bands, r2_bands = (random_bands() for _ in range(5))
    b_bands[5], c_bands[12], r1_bands[0], r2_bands[9] = (
        a_bands[5],
        a_bands[12],
        a_bands[0],
        b_bands[9],
    )
    a_sketch = RNG.integers(0, 256, minhash.NUM_PERM, dtype=np.uint8)
    b_sketch = changed(a_sketch, 10)
    write_index(tmp_path, lake_entries([1], [a_bands], [a_sketch], DAY - 5), "L0-a")
    lake = lake_entries([2, 0], [b_bands, c_bands], [b_sketch, changed(a_sketch, 5)], DAY - 5)
    write_index(tmp_path, lake, "L0-b")
    run = [
        run_sketch(10, r1_bands, changed(a_sketch, 10)),
        run_sketch(11, r2_bands, changed(b_sketch, 10)),
    ]
    history = LakeHistory(str(tmp_path), 30)
    expected = single([SketchBatch.of(run)], history)
    assert expected[0][run[1].key].duplicate_of == content_id(1)  # through B to A, not C
    for shards in (1, 2, 4):
        assert_same(decide_step_by_step(in_batches(run, 1), history, 0.7, shards), expected)


def crowded(count: int, band: int, days: int = 1) -> list[ArticleSketch]:
    """``count`` alike articles over ``days`` days that share one bucket of ``band``."""
    shared, sketch = random_bands(), RNG.integers(0, 256, minhash.NUM_PERM, dtype=np.uint8)
    run = []
    for n in range(count):
        bands = random_bands()
        bands[band] = shared[band]
        run.append(run_sketch(n + 1, bands, changed(sketch, 5), day=DAY + n % days))
    return run


def test_a_crowded_bucket_pairs_only_its_first_64_as_the_single_decision(tmp_path):
    run = crowded(100, band=3, days=3)
    history = LakeHistory(str(tmp_path), 30)
    expected = single([SketchBatch.of(run)], history)
    assert len(expected[0]) == 64  # a keeper and its first 63 copies; the rest pair with none
    for shards in (1, 3, 7):
        assert_same(decide_step_by_step(in_batches(run, 9), history, 0.7, shards), expected)


def test_an_entry_the_run_holds_by_id_takes_a_place_in_its_articles_crowded_bucket(tmp_path):
    # A year-old entry (only its id reachable) with the id of one of 64 articles sharing a
    # bucket: it sorts first in that bucket and pushes the last article past the 64 paired.
    run = crowded(64, band=7)
    old = run[10]
    entry = lake_entries(
        [11], [np.frombuffer(old.bands, "<u4")], [np.frombuffer(old.sketch, "u1")], DAY - 365
    )
    write_index(tmp_path, entry)
    history = LakeHistory(str(tmp_path), 30)
    expected = single([SketchBatch.of(run)], history)
    assert run[-1].key not in expected[0]  # past the 64 of its bucket: kept alone
    assert expected[0][run[0].key].duplicate_of == content_id(11)
    for shards in (1, 2, 5):
        assert_same(decide_step_by_step(in_batches(run, 10), history, 0.7, shards), expected)


def test_an_entry_found_by_two_feed_items_keeps_their_order_in_the_history(tmp_path):
    bands, sketch = random_bands(), RNG.integers(0, 256, minhash.NUM_PERM, dtype=np.uint8)
    year_ago = DAY - 365
    write_index(tmp_path, lake_entries([5], [bands], [sketch], year_ago, {0: ("urn:b",)}), "L0-b")
    write_index(tmp_path, lake_entries([5], [bands], [sketch], year_ago, {0: ("urn:a",)}), "L0-a")
    other, near = RNG.integers(0, 256, minhash.NUM_PERM, dtype=np.uint8), random_bands()
    run = [
        run_sketch(20, near, other, uri="https://f/rss", links=["urn:b"]),
        run_sketch(21, near, changed(other, 3), uri="https://f/rss", links=["urn:c"]),
        run_sketch(22, random_bands(), sketch, uri="https://f/rss", links=["urn:a"]),
    ]
    history = LakeHistory(str(tmp_path), 30)
    expected = single([SketchBatch.of(run)], history)
    (update,) = [
        entry for entry, day in zip(expected[1], expected[1].days, strict=True) if day == 0
    ]
    assert update.links == ("urn:a", "urn:b", "urn:c")  # L0-a's, L0-b's, then the run's
    for shards in (1, 2, 3):
        assert_same(decide_step_by_step(in_batches(run, 1), history, 0.7, shards), expected)


def test_nodes_sort_in_keep_order_with_the_lakes_entries_first():
    sketches = [
        run_sketch(3, random_bands(), np.zeros(140, np.uint8), uri="/b/x.txt", day=DAY),
        run_sketch(1, random_bands(), np.zeros(140, np.uint8), uri="/a/x.txt", day=DAY),
        run_sketch(0, random_bands(), np.zeros(140, np.uint8), uri="/a/y.txt", day=DAY - 1),
        run_sketch(2, random_bands(), np.zeros(140, np.uint8), uri="/a/x.txt", day=DAY),
    ]
    batch = SketchBatch.of(sketches)
    outline = Outline.of(batch.uris, batch.day.tolist())
    nodes = run_nodes(batch, outline)
    assert np.argsort(nodes, kind="stable").tolist() == batch.keep_order().tolist() == [2, 1, 3, 0]
    lake = lake_nodes(np.array([b"\xff" * 16, b"\x00" * 15 + b"\x01"], dtype="S16"))
    assert np.argsort(np.concatenate([nodes, lake])).tolist()[:2] == [5, 4]


def test_only_buckets_two_nodes_share_travel_on_marked_when_the_run_is_in_them():
    nodes = lake_nodes(np.array([bytes([n]) * 16 for n in range(1, 5)], dtype="S16"))
    rows = Memberships(
        buckets=np.array([7, 7, 7, 8, 8, 9], dtype=np.uint64),
        nodes=nodes[[0, 1, 1, 2, 3, 0]],  # node 1 twice in bucket 7: one node
        homes=np.array([0, 1, 1, 0, 1, 0]),
        with_run=np.array([True, False, False, False, False, True]),
    )
    shared = shared_buckets(rows)
    assert shared.buckets.tolist() == [7, 7, 8, 8]  # bucket 9 has one node
    assert shared.with_run.tolist() == [True, True, False, False]


def test_an_edge_to_a_node_no_step_described_is_refused():
    nodes = lake_nodes(np.array([b"\x01" * 16, b"\x02" * 16], dtype="S16"))
    described = Nodes(
        nodes[:1], lake_entries([1], [random_bands()], [np.zeros(140)], 0), np.zeros(1)
    )
    with pytest.raises(ValueError, match="1 joined nodes have no entry"):
        decide_from_edges([nodes.reshape(1, 2)], [described], Outline.of([], []))
