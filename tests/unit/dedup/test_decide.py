"""MinHash sketches and the cluster decision, as pure functions."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.corpus import true_jaccard
from pipeline.core import jit, minhash
from pipeline.core.records import IndexBatch, IndexEntry, article_key
from pipeline.core.text import fold, tokens
from pipeline.dedup.decide import decide, decide_batches
from pipeline.dedup.sketch import SketchBatch, sketch_article
from tests.conftest import make_article
from tests.support.stories import OTHER, STORY, article, reworded

# MinHash ----------------------------------------------------------------------------------


def test_signatures_are_stable_across_processes_and_versions():
    # The index of one run is read by the next: these values must never change silently.
    sig = minhash.signature(tokens("The quick brown fox jumps over the lazy dog near the river."))
    assert minhash.band_keys(sig).tolist()[:3] == [213612103, 3107692354, 3333895623]
    assert int(sig[0]) == 574826526


def test_identical_texts_share_every_band_and_estimate_one():
    a, b = (minhash.signature(tokens(" ".join(STORY))) for _ in range(2))
    assert (minhash.band_keys(a) == minhash.band_keys(b)).all()
    assert minhash.estimate_jaccard(minhash.sketch(a), minhash.sketch(b)) == 1.0


@pytest.mark.parametrize("changes", [2, 6, 15])
def test_estimate_follows_true_jaccard(changes):
    copy = reworded(STORY, changes)
    estimate = minhash.estimate_jaccard(
        minhash.sketch(minhash.signature(tokens(" ".join(STORY)))),
        minhash.sketch(minhash.signature(tokens(" ".join(copy)))),
    )
    assert abs(estimate - true_jaccard(STORY, copy)) < 0.12


def test_distinct_texts_estimate_near_zero():
    left, right = (minhash.sketch(minhash.signature(tokens(" ".join(t)))) for t in (STORY, OTHER))
    assert minhash.estimate_jaccard(left, right) < 0.1


def test_short_texts_still_get_a_signature():
    assert minhash.signature(tokens("Two words")).shape == (minhash.NUM_PERM,)
    assert minhash.signature([]).shape == (minhash.NUM_PERM,)


def test_lsh_catches_08_pairs_with_high_probability():
    s = 0.8
    assert 1 - (1 - s**minhash.ROWS) ** minhash.BANDS >= 0.99
    assert 1 - (1 - 0.3**minhash.ROWS) ** minhash.BANDS < 0.01


# Decisions --------------------------------------------------------------------------------


def test_exact_copy_under_another_title_and_channel_is_an_exact_duplicate():
    original = article(STORY, index=0)
    copy = article(STORY, index=1, title="MIL-OSI China: Title")
    decisions, kept = decide([sketch_article(copy), sketch_article(original)], [])
    assert decisions[article_key(copy)].duplicate_of == original.id
    assert decisions[article_key(copy)].kind == "exact"
    assert decisions[article_key(copy)].similarity == 1.0
    assert decisions[article_key(original)].copies == 1
    assert [entry.id for entry in kept] == [original.id]


def test_near_copy_is_a_near_duplicate_with_its_similarity():
    original = article(STORY, index=0)
    copy = article(reworded(STORY, 3), index=1)
    decisions, _ = decide([sketch_article(original), sketch_article(copy)], [])
    decision = decisions[article_key(copy)]
    assert (decision.duplicate_of, decision.kind) == (original.id, "near")
    assert 0.7 <= decision.similarity < 1.0


def test_distinct_articles_are_all_kept():
    articles = [article(STORY, index=0), article(OTHER, index=1)]
    decisions, kept = decide([sketch_article(a) for a in articles], [])
    assert decisions == {}
    assert len(kept) == 2


def test_the_earliest_published_copy_is_kept_then_drop_name_then_position():
    late = article(STORY, uri="/d/a.txt", index=0, day=30)
    early = article(STORY, uri="/d/z.txt", index=5, day=28)
    decisions, _ = decide([sketch_article(late), sketch_article(early)], [])
    assert decisions[article_key(late)].duplicate_of == early.id
    assert decisions[article_key(early)].copies == 1
    first, second = article(STORY, uri="/x/a.txt", index=3), article(STORY, uri="/b/b.txt", index=0)
    decisions, _ = decide([sketch_article(second), sketch_article(first)], [])
    assert decisions[article_key(first)].copies == 1  # a.txt sorts before b.txt
    assert decisions[article_key(second)].duplicate_of == first.id


def test_decisions_do_not_depend_on_input_order():
    articles = [article(STORY, index=0), article(reworded(STORY, 3), index=1)]
    articles += [article(STORY, uri="/d/b.txt", index=2), article(OTHER, index=3)]
    sketches = [sketch_article(a) for a in articles]
    expected = decide(sketches, [])
    for seed in range(5):
        shuffled = sketches[:]
        random.Random(seed).shuffle(shuffled)
        assert decide(shuffled, []) == expected


def test_decisions_do_not_depend_on_how_sketches_were_batched():
    articles = [article(STORY, index=0), article(reworded(STORY, 3), index=1)]
    articles += [article(STORY, uri="/d/b.txt", index=2), article(OTHER, index=3)]
    articles += [with_links(article(OTHER, uri="/f/rss", index=n), "guid-1", None) for n in (4, 5)]
    sketches = [sketch_article(a) for a in articles]
    whole, whole_kept = decide_batches(SketchBatch.of(sketches), IndexBatch.of([]))
    random.Random(7).shuffle(sketches)
    batches = [SketchBatch.of(sketches[:2]), SketchBatch.of([]), SketchBatch.of(sketches[2:])]
    split, split_kept = decide_batches(SketchBatch.concat(batches), IndexBatch.of([]))
    assert split == whole and len(whole) == 6  # 2 keepers with copies, 4 duplicates
    assert list(split_kept) == list(whole_kept)


def test_copies_of_what_the_lake_already_holds_are_all_duplicates():
    original = article(STORY)
    sketch = sketch_article(original)
    lake = [IndexEntry(sketch.id, sketch.bands, sketch.sketch)]
    rerun = article(STORY, uri="/d/again.txt")
    republished = article(reworded(STORY, 3), uri="/d/later.txt", index=4)
    decisions, kept = decide([sketch_article(rerun), sketch_article(republished)], lake)
    assert {d.duplicate_of for d in decisions.values()} == {original.id}
    assert decisions[article_key(rerun)].kind == "exact"
    assert decisions[article_key(republished)].kind == "near"
    assert kept == []


def test_clusters_are_connected_components():
    a = article(STORY, index=0)
    b = article(reworded(STORY, 3, seed=1), index=1)
    c = article(reworded(b.body, 3, seed=2), index=2)
    decisions, kept = decide([sketch_article(x) for x in (a, b, c)], [])
    assert decisions[article_key(b)].duplicate_of == a.id
    assert decisions[article_key(c)].duplicate_of == a.id
    assert decisions[article_key(a)].copies == 2 and len(kept) == 1


def test_sketches_carry_no_body_and_little_data():
    sketch = sketch_article(article(STORY))
    assert len(sketch.bands) == 4 * minhash.BANDS and len(sketch.sketch) == minhash.NUM_PERM
    assert not any(STORY[0][:20] in str(value) for value in dataclasses.astuple(sketch))


def test_lineage_key_is_unique_per_segment():
    base = make_article()
    other = make_article(lineage=dataclasses.replace(base.lineage, segment_index=7))
    assert article_key(base) != article_key(other)


def with_links(base, guid, link):
    return dataclasses.replace(
        base, source=dataclasses.replace(base.source, guid=guid, item_url=link)
    )


def test_the_same_feed_item_with_new_text_is_a_link_duplicate():
    first = with_links(article(STORY, index=0), "guid-1", "https://f.example/a")
    updated = with_links(article(OTHER, index=1), "guid-1", "https://f.example/a")
    decisions, kept = decide([sketch_article(first), sketch_article(updated)], [])
    assert decisions[article_key(updated)].kind == "link"
    assert kept[0].links == ("guid-1",)  # the guid is the item; the link is not asked


def test_items_with_distinct_guids_and_a_shared_link_are_distinct_stories():
    home = "https://f.example/"  # a site that links every item to its home page
    first = with_links(article(STORY, index=0), "guid-1", home)
    second = with_links(article(OTHER, index=1), "guid-2", home)
    decisions, kept = decide([sketch_article(first), sketch_article(second)], [])
    assert decisions == {}
    assert [e.links for e in kept] == [("guid-1",), ("guid-2",)]


def test_without_a_guid_the_link_is_the_item():
    first = with_links(article(STORY, index=0), None, "https://f.example/a")
    updated = with_links(article(OTHER, index=1), None, "https://f.example/a")
    decisions, kept = decide([sketch_article(first), sketch_article(updated)], [])
    assert decisions[article_key(updated)].kind == "link"
    assert [e.links for e in kept] == [("https://f.example/a",)]


def test_the_index_learns_the_links_of_copies_of_lake_articles():
    held = sketch_article(article(STORY))
    lake = [IndexEntry(held.id, held.bands, held.sketch)]
    copy = with_links(article(STORY, uri="/f/rss", index=3), "guid-9", None)
    decisions, kept = decide([sketch_article(copy)], lake)
    assert decisions[article_key(copy)].kind == "exact"
    assert [(e.id, e.links) for e in kept] == [(held.id, ("guid-9",))]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(
            st.text(st.sampled_from("aZé’“—ß1 '.-"), min_size=0, max_size=24), max_size=40
        ).map(" ".join),
        max_size=6,
    )
)
def test_the_compiled_kernel_computes_the_reference_signatures(texts):
    expected = [minhash.signature(tokens(text)) for text in texts]
    computed = minhash.signatures([fold(text) for text in texts])
    assert computed.shape == (len(texts), minhash.NUM_PERM)
    assert all((row == want).all() for row, want in zip(computed, expected, strict=True))


def test_a_batch_of_articles_sketches_as_each_alone():
    articles = [article(STORY, index=0), article(OTHER, index=1), article(["Two words"], index=2)]
    batch = SketchBatch.of_articles(articles)
    alone = SketchBatch.of([sketch_article(a) for a in articles])
    assert (batch.entries.bands == alone.entries.bands).all()
    assert (batch.entries.sketches == alone.entries.sketches).all()
    assert (batch.entries.ids == alone.entries.ids).all() and batch.uris == alone.uris


def test_without_a_writable_cache_the_kernel_is_compiled_per_process(monkeypatch):
    import numba

    compile_ = numba.njit

    def njit(*args, cache=False, **kwargs):
        if cache:  # what numba raises when no folder is writable
            raise RuntimeError("cannot cache function 'f': no locator available for file 'x'")
        return compile_(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", njit)
    kernel = jit.compiled(minhash._mix_one.py_func)
    assert kernel(np.uint64(7)) == minhash._mix(np.array([7], dtype=np.uint64))[0]
