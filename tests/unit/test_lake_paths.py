"""Partition paths are made only from controlled values, never from header text."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.lake import file_name, kind_of, parse_partition_keys, partition_of
from pipeline.records import Region, Source, Topic
from tests.conftest import make_article

POLITICS = Topic("medtop:11000000", "politics", 1, "politics", 9.0)


def test_hostile_header_text_never_reaches_the_path():
    article = make_article(
        title="../../etc/passwd",
        source=Source(declared_region="../../../tmp/x", channel="a/b", origin="/"),
        location=Region(region="../../x"),
        topics=(Topic("medtop:x", "x", 1, "../../etc", 1.0),),
    )
    assert partition_of(article) == "dt=2025-08-29/region=unknown/topic=unknown"
    assert kind_of(article) == "articles"


def test_partitions_follow_the_chosen_keys_in_order():
    article = make_article(
        published_date=dt.date(2024, 12, 31), location=Region(region="asia"), topics=(POLITICS,)
    )
    assert partition_of(article) == "dt=2024-12-31/region=asia/topic=politics"
    assert partition_of(article, ("topic", "dt")) == "topic=politics/dt=2024-12-31"
    assert partition_of(make_article(), ("dt",)) == "dt=2025-08-29"
    assert partition_of(make_article(), ("topic",)) == "topic=unclassified"


def test_partition_keys_parse_and_refuse_unknowns():
    assert parse_partition_keys("dt, region") == ("dt", "region")
    for bad in ("", "dt,dt", "country"):
        with pytest.raises(ValueError, match="partition keys"):
            parse_partition_keys(bad)


def test_file_names_are_deterministic():
    assert file_name("r1", 0, 1) == file_name("r1", 0, 1) == "r1-00000-of-00001.avro"
