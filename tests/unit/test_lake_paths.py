"""Partition paths are made only from controlled values, never from header text."""

from __future__ import annotations

import datetime as dt

from pipeline.lake import file_name, kind_of, partition_of
from pipeline.records import Source
from tests.conftest import make_article


def test_hostile_header_text_never_reaches_the_path():
    article = make_article(
        title="../../etc/passwd",
        source=Source(declared_region="../../../tmp/x", channel="a/b", origin="/"),
    )
    assert partition_of(article) == "dt=2025-08-29"
    assert kind_of(article) == "articles"


def test_partition_is_the_published_date_and_file_names_are_deterministic():
    article = make_article(published_date=dt.date(2024, 12, 31))
    assert partition_of(article) == "dt=2024-12-31"
    assert file_name("r1", 0, 1) == file_name("r1", 0, 1) == "r1-00000-of-00001.avro"
