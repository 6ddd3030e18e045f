"""SplitDrops and ParseArticles under TestPipeline: articles and rejects asserted apart."""

from __future__ import annotations

import datetime as dt

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from connectors.inputs import Drop
from pipeline.parse.articles import ParseArticles, parse_each
from pipeline.parse.split import SplitDrops
from tests.conftest import SAMPLE_CITIES

GARBAGE = b"\x00\xff\x10\x02" * 100


def make_drop(uri: str, data: bytes) -> Drop:
    return Drop(uri, data, "0" * 64, None, dt.date(2025, 8, 29), "drop_name")


def test_split_and_parse_route_articles_and_rejects(sample_bytes, run):
    drops = [make_drop("/d/milosi-2025-08-29.txt", sample_bytes), make_drop("/d/junk.bin", GARBAGE)]
    with TestPipeline() as p:
        split = p | beam.Create(drops, reshuffle=False) | SplitDrops()
        parsed = split["segments"] | ParseArticles(run)
        assert_that(
            parsed["articles"] | "Cities" >> beam.Map(lambda a: a.dateline.city),
            equal_to(SAMPLE_CITIES),
            label="articles",
        )
        assert_that(
            parsed["rejects"]
            | "Reasons" >> beam.Map(lambda r: (r.lineage.source_uri, r.stage, r.reason, r.raw)),
            equal_to([("/d/junk.bin", "parse", "binary_content", GARBAGE)]),
            label="rejects",
        )
        assert_that(
            split["summaries"] | "Counts" >> beam.Map(lambda s: (s.uri, s.segments, s.size)),
            equal_to(
                [
                    ("/d/milosi-2025-08-29.txt", 10, len(sample_bytes)),
                    ("/d/junk.bin", 1, len(GARBAGE)),
                ]
            ),
            label="summaries",
        )


def explode(segment, run):
    raise KeyError("boom")


def test_unexpected_parser_failure_becomes_a_reject(run):
    with TestPipeline() as p:
        segments = (
            p
            | beam.Create(
                [make_drop("/d/a.txt", b"Title\n\nSource: X\n\nBody.\n")], reshuffle=False
            )
            | SplitDrops()
        )["segments"]
        parsed = parse_each(segments, run, parse=explode)
        assert_that(parsed["articles"], equal_to([]), label="no articles")
        assert_that(
            parsed["rejects"]
            | beam.Map(lambda r: (r.stage, r.reason, r.raw, "KeyError" in r.message)),
            equal_to([("unexpected", "parser_error", b"Title\n\nSource: X\n\nBody.", True)]),
            label="rejects",
        )
