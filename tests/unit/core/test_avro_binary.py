"""The compiled encoders write exactly what fastavro writes for the same record."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import types
import typing

import avro.datafile
import avro.io
import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas
from pipeline.core.avro_binary import (
    ISAL_LEVEL,
    count_container_records,
    long_bytes,
    record_encoder,
    write_deflate_block,
)
from pipeline.core.records import Article, IndexEntry, Reject, to_avro
from pipeline.lake.files import avro_writer, encoder_for
from tests.conftest import make_article

_LONGS = st.integers(-(2**63), 2**63 - 1)
_ZONES = st.builds(
    dt.timezone, st.timedeltas(min_value=-dt.timedelta(hours=23), max_value=dt.timedelta(hours=23))
)
_SCALARS = {
    str: st.text(max_size=40),
    bytes: st.binary(max_size=40),
    int: _LONGS,
    float: st.floats(),
    bool: st.booleans(),
    dt.date: st.dates(),
    dt.datetime: st.datetimes(
        min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=_ZONES
    ),
}


def _strategy(hint) -> st.SearchStrategy:
    """Values of one annotated field: unions with None, tuples, nested records, scalars."""
    if isinstance(hint, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return st.none() | _strategy(inner)
    if typing.get_origin(hint) is tuple:
        return st.lists(_strategy(typing.get_args(hint)[0]), max_size=4).map(tuple)
    if dataclasses.is_dataclass(hint):
        return records(hint)
    return _SCALARS[hint]


def records(cls) -> st.SearchStrategy:
    """Instances of a record dataclass with every field drawn, defaults included."""
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: _strategy(hints[f.name]) for f in dataclasses.fields(cls)})


def fastavro_bytes(name: str, record) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schemas.load(name), to_avro(record))
    return buffer.getvalue()


ENCODERS = {name: encoder_for(name) for name in ("Article", "Reject", "IndexEntry")}


@settings(max_examples=300, deadline=None)
@given(records(Article))
def test_articles_encode_as_fastavro_encodes_them(article):
    assert ENCODERS["Article"](article) == fastavro_bytes("Article", article)


@settings(max_examples=100, deadline=None)
@given(st.one_of(records(Reject), records(IndexEntry)))
def test_rejects_and_index_entries_encode_as_fastavro_encodes_them(record):
    name = type(record).__name__
    assert ENCODERS[name](record) == fastavro_bytes(name, record)


def test_long_strings_large_numbers_and_old_dates_encode_like_fastavro():
    article = make_article(
        title="é" * 9000,  # 18,000 bytes: a length past the table of small varints
        body=("x" * 70_000, ""),
        published_date=dt.date(1969, 12, 31),
        word_count=-1,
    )
    article = dataclasses.replace(
        article,
        lineage=dataclasses.replace(article.lineage, byte_offset=2**40, byte_length=2**63 - 1),
    )
    assert ENCODERS["Article"](article) == fastavro_bytes("Article", article)


def test_varints_are_avro_zigzag():
    assert [long_bytes(n) for n in (0, -1, 1, -64, 64, 8191, 8192)] == [
        b"\x00",
        b"\x01",
        b"\x02",
        b"\x7f",
        b"\x80\x01",
        b"\xfe\x7f",
        b"\x80\x80\x01",
    ]
    assert long_bytes(-(2**63)) == b"\xff" * 9 + b"\x01"


def test_a_subset_of_fields_is_their_encodings_back_to_back():
    schema = schemas.expanded("IndexEntry")
    entry = IndexEntry("a" * 32, b"\x01\x02", b"\x03", ("guid",))
    head = record_encoder(schema, ["id", "bands"])
    tail = record_encoder(schema, ["sketch", "links"])
    assert head(entry) + tail(entry) == ENCODERS["IndexEntry"](entry)


def test_naive_timestamps_are_refused_not_guessed():
    article = make_article()
    naive = dataclasses.replace(
        article.lineage, ingest_time=article.lineage.ingest_time.replace(tzinfo=None)
    )
    with pytest.raises(TypeError):
        ENCODERS["Article"](dataclasses.replace(article, lineage=naive))


@pytest.mark.parametrize(
    "field_type, message",
    [
        ({"type": "map", "values": "string"}, "unsupported Avro type"),
        (["string", "int"], "only \\['null', X\\] unions"),
        ({"type": "int", "logicalType": "time-millis"}, "unsupported logical type"),
    ],
)
def test_schemas_it_cannot_compile_are_refused_when_compiling(field_type, message):
    schema = {"type": "record", "name": "X", "fields": [{"name": "x", "type": field_type}]}
    with pytest.raises(ValueError, match=message):
        record_encoder(schema)


def test_unknown_fields_are_refused():
    schema = schemas.expanded("IndexEntry")
    with pytest.raises(ValueError, match="no field"):
        record_encoder(schema, ["id", "bandz"])


def test_level_1_files_are_deflated_by_isal_and_read_back_in_fastavro_and_apache_avro():
    articles = [
        make_article(title=f"Story {n}", body=(f"Paragraph {n}. " * 40,)) for n in range(600)
    ]
    buffer = io.BytesIO()
    writer = avro_writer(buffer, "Article", "deflate", ISAL_LEVEL)
    assert writer.block_writer is write_deflate_block
    for article in articles:
        writer.write(to_avro(article))
    writer.flush()
    expected = [to_avro(article) for article in articles]
    assert list(fastavro.reader(io.BytesIO(buffer.getvalue()))) == expected
    reader = avro.datafile.DataFileReader(io.BytesIO(buffer.getvalue()), avro.io.DatumReader())
    assert [record["title"] for record in reader] == [article.title for article in articles]
    buffer.seek(0)
    assert len(list(fastavro.block_reader(buffer))) >= 2


def test_other_levels_keep_zlib():
    assert (
        avro_writer(io.BytesIO(), "Article", "deflate", 6).block_writer is not write_deflate_block
    )


def _container(codec: str, count: int) -> bytes:
    buffer = io.BytesIO()
    writer = avro_writer(buffer, "Article", codec)
    for n in range(count):
        writer.write(to_avro(make_article(title=f"Story {n}", body=(f"Paragraph {n}. " * 40,))))
    writer.flush()
    return buffer.getvalue()


@pytest.mark.parametrize("codec", ["deflate", "snappy", "null"])
@pytest.mark.parametrize("count", [0, 1, 700])
def test_records_are_counted_from_the_framing_as_fastavro_counts_them(codec, count):
    data = _container(codec, count)
    blocks = list(fastavro.block_reader(io.BytesIO(data)))
    assert count_container_records(io.BytesIO(data)) == count == sum(b.num_records for b in blocks)
    assert count < 700 or len(blocks) > 2


def test_a_cut_or_damaged_container_is_refused():
    data = _container("deflate", 700)
    for cut in (2, 40, len(data) // 2, len(data) - 1):
        with pytest.raises((EOFError, ValueError)):
            count_container_records(io.BytesIO(data[:cut]))
    with pytest.raises(ValueError, match="magic"):
        count_container_records(io.BytesIO(b"PAR1" + data[4:]))
    damaged = bytearray(data)
    damaged[-1] ^= 0xFF  # the last block's sync marker
    with pytest.raises(ValueError, match="sync marker"):
        count_container_records(io.BytesIO(bytes(damaged)))
    # no metadata, then a block of 2 records claiming 2**60 bytes: a short file, not a crash
    huge = b"Obj\x01" + long_bytes(0) + b"s" * 16 + long_bytes(2) + long_bytes(2**60) + b"xx"
    with pytest.raises(EOFError, match="block 0"):
        count_container_records(io.BytesIO(huge))
