"""The lake's index of format 2, named after its promises: an exact copy is found however old
its original, a feed item however long ago the lake saw it, a near copy within the window of
published days and not outside it; a run holds only the entries its articles may copy."""

from __future__ import annotations

import datetime as dt
import io

import fastavro
import pytest

import schemas
from pipeline.dedup.decide import decide_batches
from pipeline.lake.history import KnownItems, LakeHistory, history_for, read_blocks
from tests.support.index import distinct, kept, run_of, story, write_index
from tests.support.stories import OTHER, STORY, article, reworded


def test_an_exact_copy_a_year_later_is_caught(tmp_path):
    original = story(STORY, 0, dt.date(2024, 8, 29))
    write_index(tmp_path, kept(original), "L0-last-year")
    later = run_of(story(STORY, 5, dt.date(2025, 8, 29)))
    held = history_for(str(tmp_path), later.entries, later.day, window=30)
    (decision,) = decide_batches(later, held)[0].values()
    assert (decision.kind, decision.duplicate_of, decision.similarity) == (
        "exact",
        original.id,
        1.0,
    )


def test_a_near_copy_inside_the_window_is_caught_outside_it_is_kept(tmp_path):
    original = article(STORY, index=0, day=1)
    write_index(tmp_path, kept(original))
    copy = run_of(article(reworded(STORY, 3), index=7, day=20))
    inside = history_for(str(tmp_path), copy.entries, copy.day, window=30)
    (decision,) = decide_batches(copy, inside)[0].values()
    assert decision.kind == "near" and decision.duplicate_of == original.id
    outside = history_for(str(tmp_path), copy.entries, copy.day, window=10)
    assert len(outside) == 0 and decide_batches(copy, outside)[0] == {}


def test_only_entries_that_share_a_band_key_are_held(tmp_path):
    unrelated = [article(distinct(n), index=n, day=5) for n in range(1, 40)]
    write_index(tmp_path, kept(*unrelated, article(STORY, index=0, day=5)))
    copy = run_of(article(reworded(STORY, 2), index=9, day=5))
    held = history_for(str(tmp_path), copy.entries, copy.day, window=3)
    assert [entry.id for entry in held] == [article(STORY, index=0).id]


def test_a_feed_item_the_lake_saw_a_year_ago_is_known_by_its_guid(tmp_path):
    item = story(STORY, 0, dt.date(2024, 8, 29), "urn:story:1", "https://x.example/")
    write_index(tmp_path, kept(item))
    known = KnownItems(str(tmp_path))
    assert "urn:story:1" in known and len(known) == 1
    assert "https://x.example/" not in known  # the link is not the item when it has a guid
    assert "urn:story:2" not in known


def test_a_republished_feed_item_is_a_link_duplicate_however_old(tmp_path):
    item = story(STORY, 0, dt.date(2024, 8, 1), "urn:story:1")
    write_index(tmp_path, kept(item))
    rewritten = run_of(story(OTHER, 3, dt.date(2025, 8, 1), "urn:story:1"))
    held = history_for(str(tmp_path), rewritten.entries, rewritten.day, window=30)
    (decision,) = decide_batches(rewritten, held)[0].values()
    assert (decision.kind, decision.duplicate_of) == ("link", item.id)


def test_index_files_are_sorted_and_hold_each_day_apart(tmp_path):
    stories = [article(distinct(n), index=n, day=1 + n % 3) for n in range(9)]
    write_index(tmp_path, kept(*stories))
    (ids,) = read_blocks(str(tmp_path / "_index" / "ids" / "L0-run.avro"))
    assert list(ids.keys) == sorted(ids.keys) and len(ids.keys) == 9
    days = sorted(p.parent.name for p in (tmp_path / "_index" / "near").glob("*/*.avro"))
    assert days == ["dt=2025-08-01", "dt=2025-08-02", "dt=2025-08-03"]


def test_the_files_read_apart_are_those_history_for_reads_in_its_order(tmp_path):
    write_index(tmp_path, kept(story(STORY, 0, dt.date(2025, 8, 1), "urn:1")), "L0-b")
    write_index(tmp_path, kept(article(OTHER, index=1, day=20)), "L0-a")
    history = LakeHistory(str(tmp_path), 5)
    listed = [(kind, path.split("_index/", 1)[1]) for kind, path in history.files([739480])]
    assert listed == [  # 739480 is 2025-08-17: the near file of Aug. 1 is out of the window
        ("ids", "ids/L0-a.avro"),
        ("ids", "ids/L0-b.avro"),
        ("links", "links/L0-b.avro"),
        ("near", "near/dt=2025-08-20/L0-a.avro"),
    ]
    assert history.files([]) == [(kind, p) for kind, p in history.files([739480]) if kind != "near"]


def test_a_negative_window_is_refused():
    with pytest.raises(ValueError, match="window"):
        LakeHistory("lake", -1)


def test_a_damaged_block_is_refused_naming_its_file(tmp_path):
    write_index(tmp_path, kept(article(STORY, index=0)))
    path = tmp_path / "_index" / "ids" / "L0-run.avro"
    (block,) = fastavro.reader(io.BytesIO(path.read_bytes()))
    block["count"] += 1
    buffer = io.BytesIO()
    fastavro.writer(buffer, schemas.load("IndexBlock"), [block])
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="keys holds 1 values for 2 entries"):
        list(read_blocks(str(path)))
