"""The record types and the .avsc files describe the same shape, and round-trip through Avro."""

from __future__ import annotations

import dataclasses
import io
import typing

import fastavro
import fastavro.schema
import pytest

import schemas
from pipeline.core.records import Article, Dateline, Lineage, Region, Reject, Source, Topic, to_avro
from tests.conftest import ROOT, make_article

TYPES = {
    "Article": Article,
    "Reject": Reject,
    "Lineage": Lineage,
    "Source": Source,
    "Dateline": Dateline,
    "Region": Region,
    "Topic": Topic,
}
V1 = ROOT / "tests" / "fixtures" / "schemas" / "v1"


@pytest.mark.parametrize("name", sorted(TYPES))
def test_dataclass_fields_match_the_schema(name):
    schema_fields = [f["name"] for f in schemas.raw(name)["fields"]]
    assert [f.name for f in dataclasses.fields(TYPES[name])] == schema_fields


@pytest.mark.parametrize("name", sorted(TYPES))
def test_every_field_is_documented(name):
    for field in schemas.raw(name)["fields"]:
        assert field.get("doc"), f"{name}.{field['name']} has no doc"


def test_top_level_field_docs_fit_a_hive_metastore_comment():
    # A Hive external table over the articles stores each column's doc as its comment, in a
    # VARCHAR(256) of the metastore: a longer doc fails CREATE TABLE.
    for field in schemas.raw("Article")["fields"]:
        assert len(field["doc"]) <= 256, f"Article.{field['name']}: {len(field['doc'])}"


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


def test_version_1_files_read_with_the_current_schema_and_get_defaults():
    old = fastavro.schema.load_schema(str(V1 / "feedlake.Article.avsc"))
    record = to_avro(make_article())
    del record["location"], record["topics"], record["dedup"]
    del record["source"]["guid"], record["source"]["categories"]
    buffer = io.BytesIO()
    fastavro.writer(buffer, old, [record])
    buffer.seek(0)
    (back,) = list(fastavro.reader(buffer, reader_schema=schemas.load("Article")))
    assert back["location"]["region"] == "unknown" and back["location"]["method"] == "none"
    assert back["topics"] == []
    assert back["title"] == record["title"]


def test_current_files_read_with_the_version_1_schema():
    old = fastavro.schema.load_schema(str(V1 / "feedlake.Article.avsc"))
    buffer = io.BytesIO()
    fastavro.writer(buffer, schemas.load("Article"), [to_avro(make_article())])
    buffer.seek(0)
    (back,) = list(fastavro.reader(buffer, reader_schema=old))
    assert "location" not in back and back["title"] == make_article().title


def test_readme_data_dictionary_is_current():
    from tools.data_dictionary import main as data_dictionary

    assert data_dictionary(["--check"]) == 0, "run: python -m tools.data_dictionary --write"
