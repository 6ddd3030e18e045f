"""The record types and the .avsc files describe the same shape, and round-trip through Avro."""

from __future__ import annotations

import dataclasses
import io
import typing

import fastavro
import pytest

import schemas
from pipeline.records import Article, Dateline, Lineage, Reject, Source, to_avro
from tests.conftest import make_article

TYPES = {
    "Article": Article,
    "Reject": Reject,
    "Lineage": Lineage,
    "Source": Source,
    "Dateline": Dateline,
}


@pytest.mark.parametrize("name", sorted(TYPES))
def test_dataclass_fields_match_the_schema(name):
    schema_fields = [f["name"] for f in schemas.raw(name)["fields"]]
    assert [f.name for f in dataclasses.fields(TYPES[name])] == schema_fields


@pytest.mark.parametrize("name", sorted(TYPES))
def test_every_field_is_documented(name):
    for field in schemas.raw(name)["fields"]:
        assert field.get("doc"), f"{name}.{field['name']} has no doc"


def test_top_level_schemas_carry_a_version():
    assert schemas.version("Article") >= 1
    assert schemas.version("Reject") >= 1


def test_article_round_trips_through_avro():
    article = make_article(dateline=Dateline("WINDHOEK", "Aug. 29", "Xinhua"))
    buffer = io.BytesIO()
    fastavro.writer(buffer, schemas.load("Article"), [to_avro(article)], codec="deflate")
    buffer.seek(0)
    (back,) = list(fastavro.reader(buffer))
    assert back["title"] == article.title
    assert back["dateline"] == {"city": "WINDHOEK", "date_text": "Aug. 29", "agency": "Xinhua"}
    assert back["published_date"] == article.published_date
    assert back["lineage"]["ingest_time"] == article.lineage.ingest_time
    assert back["body"] == list(article.body)


def test_records_are_typed():
    hints = typing.get_type_hints(Article)
    assert hints["published_date"].__name__ == "date"
