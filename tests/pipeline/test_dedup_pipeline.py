"""DeduplicateArticles under TestPipeline: kept articles, duplicates and index entries apart."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.dedup import DeduplicateArticles, sketch_article
from pipeline.records import IndexEntry
from tests.unit.test_dedup import OTHER, STORY, article, reworded


def test_duplicates_leave_by_their_own_output():
    original = article(STORY, index=0)
    exact = article(STORY, index=1, title="UPDATE: Title")
    near = article(reworded(STORY, 3), index=2)
    distinct = article(OTHER, index=3)
    with TestPipeline() as p:
        index = p | "No index" >> beam.Create([], reshuffle=False)
        result = (
            p | beam.Create([near, distinct, exact, original], reshuffle=False)
        ) | DeduplicateArticles(index)
        assert_that(
            result["articles"]
            | "Kept" >> beam.Map(lambda a: (a.lineage.segment_index, a.dedup.copies)),
            equal_to([(0, 2), (3, 0)]),
            label="kept",
        )
        assert_that(
            result["duplicates"]
            | "Dups"
            >> beam.Map(lambda a: (a.lineage.segment_index, a.dedup.kind, a.dedup.duplicate_of)),
            equal_to([(1, "exact", original.id), (2, "near", original.id)]),
            label="duplicates",
        )
        assert_that(
            result["index"] | "Ids" >> beam.Map(lambda e: e.id),
            equal_to([original.id, distinct.id]),
            label="index",
        )


def test_the_lake_index_makes_a_rerun_all_duplicates():
    original = article(STORY, index=0)
    sketch = sketch_article(original)
    with TestPipeline() as p:
        index = p | "Index" >> beam.Create(
            [[IndexEntry(sketch.id, sketch.bands, sketch.sketch)]], reshuffle=False
        )
        result = (p | beam.Create([original], reshuffle=False)) | DeduplicateArticles(index)
        assert_that(result["articles"], equal_to([]), label="kept")
        assert_that(
            result["duplicates"] | beam.Map(lambda a: (a.dedup.kind, a.dedup.duplicate_of)),
            equal_to([("exact", original.id)]),
            label="duplicates",
        )
        assert_that(result["index"], equal_to([]), label="index")
