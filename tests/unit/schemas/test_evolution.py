"""Schemas evolve only in ways old readers and old files survive.

Files written with every earlier Article schema version (snapshots in tests/fixtures/schemas/)
read with the current one, with fastavro and with Apache avro; current files read with the
previous version. New fields always have defaults.
"""

from __future__ import annotations

import io
import json

import avro.datafile
import avro.io
import avro.schema
import fastavro
import fastavro.schema
import pytest

import schemas
from pipeline.core.records import Dateline, Region, Reject, Source, Topic, to_avro
from tests.conftest import make_article
from tests.support.schemas import FIXTURES, old_schema

VERSIONS = sorted(p.name for p in FIXTURES.iterdir())  # v1 to v4: every earlier version
ARTICLE = make_article(
    dateline=Dateline("KABUL", "Aug. 29", "Xinhua"),
    source=Source(
        channel="C",
        translated=True,
        guid="g-1",
        categories=("Asia",),
        milosi_channel="Russia",
        origin_url="https://www.moex.com/n73390",
    ),
    location=Region(country="AF", subregion="Southern Asia", region="asia", method="dateline"),
    topics=(Topic("medtop:11000000", "politics", 1, "politics", 12.5),),
)


def as_version(record: dict, version: str) -> dict:
    """The current record as a writer of ``version`` would have made it."""
    old = json.loads(json.dumps(record, default=str))
    old["published_date"] = record["published_date"]
    old["lineage"]["ingest_time"] = record["lineage"]["ingest_time"]
    del old["source"]["milosi_channel"], old["source"]["origin_url"], old["topics_from"]
    if version == "v4":
        return old
    del old["source"]["guid"], old["source"]["categories"]
    if version == "v1":
        del old["location"], old["topics"], old["dedup"]
    else:
        old["region"] = old.pop("location")
    if version == "v2":
        del old["dedup"]
    return old


def write(schema: dict, record: dict) -> bytes:
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema, [record], codec="deflate")
    return buffer.getvalue()


@pytest.mark.parametrize("version", VERSIONS)
def test_old_files_read_with_the_current_schema_in_fastavro(version):
    data = write(old_schema(version), as_version(to_avro(ARTICLE), version))
    (back,) = fastavro.reader(io.BytesIO(data), reader_schema=schemas.load("Article"))
    assert back["title"] == ARTICLE.title and back["body"] == list(ARTICLE.body)
    expected_region = "unknown" if version == "v1" else "asia"  # via the alias 'region'
    assert back["location"]["region"] == expected_region
    assert back["dedup"]["copies"] == 0
    assert back["source"]["categories"] == ([] if version != "v4" else ["Asia"])
    assert (back["source"]["milosi_channel"], back["source"]["origin_url"]) == (None, None)
    assert back["topics_from"] == "terms"  # every earlier version's topics came from terms


@pytest.mark.parametrize("version", VERSIONS)
def test_old_files_read_with_the_current_schema_in_apache_avro(version):
    data = write(old_schema(version), as_version(to_avro(ARTICLE), version))
    reader_schema = avro.schema.parse(json.dumps(schemas.load("Article")))
    reader = avro.datafile.DataFileReader(
        io.BytesIO(data), avro.io.DatumReader(None, reader_schema)
    )
    (back,) = list(reader)
    assert back["title"] == ARTICLE.title
    assert back["dedup"] == {"copies": 0, "duplicate_of": None, "kind": None, "similarity": None}
    assert back["source"]["guid"] == ("g-1" if version == "v4" else None)
    assert back["source"]["origin_url"] is None and back["topics_from"] == "terms"


def test_current_files_read_with_the_previous_schema():
    previous = VERSIONS[-1]
    data = write(schemas.load("Article"), to_avro(ARTICLE))
    (back,) = fastavro.reader(io.BytesIO(data), reader_schema=old_schema(previous))
    assert back["title"] == ARTICLE.title and back["source"]["guid"] == "g-1"
    assert "origin_url" not in back["source"] and "topics_from" not in back


def test_current_index_entries_read_with_version_1():
    entry = {"id": "x", "bands": b"\0" * 80, "sketch": b"\1" * 140, "links": ["g"]}
    data = write(schemas.load("IndexEntry"), entry)
    (back,) = fastavro.reader(io.BytesIO(data), reader_schema=old_schema("v3", "IndexEntry"))
    assert back == {"id": "x", "bands": b"\0" * 80, "sketch": b"\1" * 140}


def test_version_1_rejects_read_with_the_current_schema_and_current_ones_with_version_1():
    reject = Reject("parse", "no_body", "m", b"<item/>", ARTICLE.lineage, "g-1", "https://f/a")
    old = to_avro(reject)
    del old["guid"], old["item_url"]
    data = write(old_schema("v3", "Reject"), old)
    (back,) = fastavro.reader(io.BytesIO(data), reader_schema=schemas.load("Reject"))
    assert (back["raw"], back["guid"], back["item_url"]) == (b"<item/>", None, None)
    data = write(schemas.load("Reject"), to_avro(reject))
    (back,) = fastavro.reader(io.BytesIO(data), reader_schema=old_schema("v3", "Reject"))
    assert back["raw"] == b"<item/>" and "guid" not in back


@pytest.mark.parametrize("name", ["Article", "Reject", "IndexEntry"])
def test_every_added_field_has_a_default(name):
    previous = {f["name"] for f in schemas.raw(name)["fields"]}
    for version in VERSIONS:
        path = FIXTURES / version / f"feedlake.{name}.avsc"
        if path.exists():
            previous &= {f["name"] for f in json.loads(path.read_text())["fields"]}
    for field in schemas.raw(name)["fields"]:
        if field["name"] not in previous and not set(field.get("aliases", ())) & previous:
            assert "default" in field, f"{name}.{field['name']} was added without a default"
