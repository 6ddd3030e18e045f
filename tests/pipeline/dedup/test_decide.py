"""DecideDuplicates and PublishArticles under TestPipeline: decisions, staged parts, files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import apache_beam as beam
import fastavro
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.core.records import IndexBatch, IndexEntry
from pipeline.dedup.decide import DecideDuplicates
from pipeline.dedup.sketch import sketch_article
from pipeline.lake.files import LakeOutput
from pipeline.lake.publish import PublishArticles
from pipeline.lake.staging import Parts, StagedArticle
from tests.support.lake import staged_as_published
from tests.support.stories import OTHER, STORY, article, reworded


@dataclasses.dataclass(frozen=True)
class FixedHistory:
    """A lake's history that holds ``batch`` whatever the run asks."""

    batch: IndexBatch

    def for_run(self, run: IndexBatch, days) -> IndexBatch:
        return self.batch


def records(lake: Path, kind: str) -> dict[int, dict]:
    found = {}
    for path in lake.glob(f"{kind}/**/*.avro"):
        with path.open("rb") as fh:
            found.update((r["lineage"]["segment_index"], r) for r in fastavro.reader(fh))
    return found


def story_and_copies() -> list:
    return [
        article(reworded(STORY, 3), index=2),  # near copy
        article(OTHER, index=3),
        article(STORY, index=1, title="UPDATE: Title"),  # exact copy
        article(STORY, index=0),  # the original
        article(OTHER, index=4, day=30),  # exact copy, a day later
    ]


@pytest.mark.parametrize(
    "buffered, partition_by",
    [
        (2, ("dt", "region", "topic")),
        (2000, ("dt", "region", "topic")),  # a group is a day: it writes its duplicates itself
        (2, ("region", "topic")),  # a group spans days: duplicates are staged again per day
    ],
)
def test_duplicates_leave_for_their_own_files_and_kept_articles_count_them(
    tmp_path, buffered, partition_by
):
    # What the run stages for publishing at its commit, as the lake will hold it.
    arriving = story_and_copies()
    with TestPipeline() as p:
        articles = p | beam.Create(arriving, reshuffle=False)
        decided = articles | DecideDuplicates()  # a new lake: no history
        published = articles | PublishArticles(
            decided["decisions"],
            LakeOutput(str(tmp_path / "lake"), str(tmp_path / "staging"), "run"),
            partition_by,
            buffered=buffered,  # 2: every few records spill as a part; 2000: one part per group
        )
        assert_that(
            decided["index"] | "Ids" >> beam.FlatMap(lambda batch: [e.id for e in batch]),
            equal_to([arriving[3].id, arriving[1].id]),
            label="index",
        )
        assert_that(
            published["outcomes"] | beam.CombinePerKey(sum),  # counts come per group
            equal_to(
                [
                    (("/d/milosi-2025-08-29.txt", "articles"), 2),
                    (("/d/milosi-2025-08-29.txt", "duplicates:exact"), 2),
                    (("/d/milosi-2025-08-29.txt", "duplicates:near"), 1),
                ]
            ),
            label="outcomes",
        )
    lake = staged_as_published(tmp_path / "staging")
    kept, duplicates = records(lake, "articles"), records(lake, "duplicates")
    assert {i: r["dedup"]["copies"] for i, r in kept.items()} == {0: 2, 3: 1}
    assert {i: (r["dedup"]["kind"], r["dedup"]["duplicate_of"]) for i, r in duplicates.items()} == {
        1: ("exact", arriving[3].id),
        2: ("near", arriving[3].id),
        4: ("exact", arriving[1].id),
    }
    assert sorted(p.parent.name for p in lake.glob("duplicates/*/*.avro")) == [
        "dt=2025-08-29",
        "dt=2025-08-30",  # a duplicate's day is its own published date
    ]
    assert len(list(lake.glob("**/*.avro"))) == 3  # one file per partition, whatever the spills


def test_the_lake_index_makes_a_rerun_all_duplicates(tmp_path):
    original = article(STORY, index=0)
    sketch = sketch_article(original)
    with TestPipeline() as p:
        held = IndexBatch.of([IndexEntry(sketch.id, sketch.bands, sketch.sketch)])
        articles = p | beam.Create([original], reshuffle=False)
        decided = articles | DecideDuplicates(FixedHistory(held))
        output = LakeOutput(str(tmp_path / "lake"), str(tmp_path / "s"), "run")
        articles | PublishArticles(decided["decisions"], output)
        assert_that(decided["index"] | beam.Map(len), equal_to([0]), label="index")
    lake = staged_as_published(tmp_path / "s")  # what the run will publish at its commit
    assert records(lake, "articles") == {}
    (duplicate,) = records(lake, "duplicates").values()
    assert (duplicate["dedup"]["kind"], duplicate["dedup"]["duplicate_of"]) == ("exact", sketch.id)


def test_parts_hold_at_most_their_limit_and_spill_the_largest_group_first(tmp_path):
    parts = Parts(str(tmp_path), limit=4)
    spilled, held = [], []
    for n, destination in enumerate(["a/dt=1/x", "a/dt=1/y", "a/dt=2/x", "a/dt=1/x", "a/dt=3"]):
        staged = StagedArticle(destination, f"u#{n}", "u", "2025-08-29", b"", b"")
        spilled += [group for group, _ in parts.add(staged)]
        held.append(parts.held)
    assert max(held) < 4 and spilled == ["a/dt=1"]  # three of dt=1 went as one part
    assert [group for group, _ in parts.flush()] == ["a/dt=2", "a/dt=3"]
    assert parts.held == 0
