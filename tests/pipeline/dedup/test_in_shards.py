"""DecideDuplicatesInShards against DecideDuplicates on the multi-process DirectRunner: the
same articles and lake give the same decisions and the same new index entries."""

from __future__ import annotations

import collections
import dataclasses

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.core.records import IndexBatch
from pipeline.dedup.decide import DecideDuplicates, Decisions
from pipeline.dedup.in_shards import DecideDuplicatesInShards
from pipeline.lake.history import LakeHistory
from tests.support.dedup_corpus import build

MULTI_PROCESS = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]


def differences(got: Decisions, want: Decisions) -> list[str]:
    keys = sorted(set(got.decisions) | set(want.decisions))
    return [f"{k}: {got.get(k)} != {want.get(k)}" for k in keys if got.get(k) != want.get(k)]


def rows(batch: IndexBatch) -> list[tuple]:
    """The entries in order, each whole: id, band keys, sketch, feed links, day."""
    days = batch.days.tolist()
    return [(*dataclasses.astuple(entry), day) for entry, day in zip(batch, days, strict=True)]


def outline(decisions: Decisions) -> dict:
    """What the single decision found, to show the corpus exercises every rung."""
    kinds = collections.Counter(d.kind or "keeper" for d in decisions.decisions.values())
    return dict(sorted(kinds.items()))


@pytest.mark.parametrize(
    ("shards", "lake", "kept", "found"),
    [
        (2, True, 34, {"exact": 42, "keeper": 24, "link": 2, "near": 26}),
        (5, True, 34, {"exact": 42, "keeper": 24, "link": 2, "near": 26}),
        (3, False, 43, {"exact": 29, "keeper": 31, "link": 1, "near": 29}),  # no history
    ],
)
def test_the_decision_in_shards_is_the_single_decision(tmp_path, shards, lake, kept, found):
    articles = build(tmp_path)
    history = LakeHistory(str(tmp_path), 30) if lake else None
    options = PipelineOptions(MULTI_PROCESS)
    with TestPipeline(options=options) as p:
        arriving = p | beam.Create(articles)  # reshuffled: bundles and workers mix them
        single = arriving | "Single" >> DecideDuplicates(history, batch=16)
        sharded = arriving | "Sharded" >> DecideDuplicatesInShards(history, shards=shards, batch=7)
        want = beam.pvalue.AsSingleton(single["decisions"])
        assert_that(
            sharded["decisions"] | "Compare decisions" >> beam.Map(differences, want),
            equal_to([[]]),
            label="decisions",
        )
        assert_that(
            sharded["index"]
            | "Compare index"
            >> beam.Map(
                lambda got, want: rows(got) == rows(want) and len(got),
                beam.pvalue.AsSingleton(single["index"]),
            ),
            equal_to([kept]),
            label="index",
        )
        assert_that(
            single["decisions"] | "Outline" >> beam.Map(outline),
            equal_to([found]),
            label="single",
        )


@pytest.mark.parametrize(("shards", "threshold"), [(1, 0.7), (2, 0), (2, 1.5)])
def test_the_transform_refuses_one_shard_and_thresholds_outside_zero_to_one(shards, threshold):
    with pytest.raises(ValueError, match="DecideDuplicatesInShards"):
        DecideDuplicatesInShards(None, threshold, shards)
