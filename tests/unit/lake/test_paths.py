"""Partition paths are made only from controlled values, never from header text."""

from __future__ import annotations

import datetime as dt
import io
import os

import fastavro
import fastavro.write
import pytest

import schemas
from pipeline.core.records import Dedup, Region, Source, Topic, evolve, to_avro
from pipeline.lake import fileops
from pipeline.lake.files import (
    BLOCK_BYTES,
    ContainerFile,
    EncodedBlock,
    LakeOutput,
    StagedFile,
    avro_writer,
    encoder_for,
)
from pipeline.lake.paths import file_name, kind_of, parse_partition_keys, partition_of
from pipeline.lake.staging import ArticleEncoder
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


def test_lake_output_refuses_what_would_write_a_bad_lake():
    LakeOutput("lake", "lake/_staging/r", "r", "deflate", 9)
    for codec, level, run_id, message in [
        ("zstd", 1, "r", "codec"),
        ("deflate", 0, "r", "deflate level"),
        ("deflate", 10, "r", "deflate level"),
        ("deflate", 1, "a/b", "run_id"),
    ]:
        with pytest.raises(ValueError, match=message):
            LakeOutput("lake", "lake/_staging/r", run_id, codec, level)


def test_the_deflate_level_trades_size_for_speed_and_reads_back_the_same():
    records = [make_article(title=f"Story {n}") for n in range(200)]
    written = {}
    for level in (1, 9):
        buffer = io.BytesIO()
        writer = avro_writer(buffer, "Article", "deflate", level)
        for record in records:
            writer.write(to_avro(record))
        writer.flush()
        written[level] = buffer.getvalue()
    assert len(written[9]) < len(written[1])
    read = [list(fastavro.reader(io.BytesIO(data))) for data in written.values()]
    assert read[0] == read[1]


@pytest.mark.parametrize(
    ("codec", "level"), [("deflate", 1), ("deflate", 6), ("snappy", 1), ("null", 1)]
)
def test_a_container_file_is_byte_for_byte_what_fastavro_writes(codec, level):
    blocks = [
        b"".join(encoder_for("Article")(make_article(title=f"Story {n}")) for n in range(k, k + 30))
        for k in (0, 30, 60)
    ]
    sync = bytes(range(16))
    template = avro_writer(io.BytesIO(), "Article", codec, level)
    expected = io.BytesIO()
    writer = fastavro.write.Writer(
        expected,
        template.schema,
        codec=codec,
        compression_level=template.compression_level,
        metadata={k: v for k, v in template.metadata.items() if not k.startswith("avro.")},
        sync_marker=sync,
    )
    writer.block_writer = template.block_writer  # ISA-L's deflate at level 1, as the lake's
    ours = io.BytesIO()
    container = ContainerFile(ours, "Article", codec, level, sync)
    for block in blocks:
        writer.write_block(EncodedBlock(io.BytesIO(block), 30))
        container.write_block(block, 30)
    writer.flush()
    assert ours.getvalue() == expected.getvalue()
    ours.seek(0)
    assert [r["title"] for r in fastavro.reader(ours)] == [f"Story {n}" for n in range(90)]


def test_article_files_are_written_in_blocks_of_64_kb_like_avro_java():
    buffer = io.BytesIO()
    writer = avro_writer(buffer, "Article")
    for n in range(400):
        writer.write(to_avro(make_article(title=f"Story {n}")))
    writer.flush()
    buffer.seek(0)
    blocks = list(fastavro.block_reader(buffer))
    assert sum(block.num_records for block in blocks) == 400 and len(blocks) >= 2
    for block in blocks[:-1]:  # each holds one block's worth of encoded records
        assert len(block.bytes_.getvalue()) >= BLOCK_BYTES


@pytest.mark.parametrize(
    "dedup",
    [Dedup(), Dedup(copies=3), Dedup(duplicate_of="ab" * 16, kind="near", similarity=0.8125)],
)
def test_an_article_encoded_in_pieces_is_its_avro_encoding_with_any_dedup(dedup):
    encoder = ArticleEncoder()
    article = make_article(topics=(POLITICS,), location=Region(country="CN", region="asia"))
    head, tail = encoder.pieces(article)  # staged before deduplication decides
    whole = io.BytesIO()
    fastavro.schemaless_writer(
        whole, schemas.load("Article"), to_avro(evolve(article, dedup=dedup))
    )
    assert head + encoder.dedup(dedup) + tail == whole.getvalue()
    assert encoder.dedup(None) == encoder.undecided == encoder.dedup(Dedup())


def test_a_file_of_encoded_articles_reads_like_one_written_record_by_record(tmp_path):
    encoder = ArticleEncoder()
    articles = [make_article(title=f"Story {n}") for n in range(400)]
    output = LakeOutput(str(tmp_path / "lake"), str(tmp_path / "staging"), "run")
    staged = StagedFile(output, "articles/dt=2025-08-29")
    for article in articles:
        head, tail = encoder.pieces(article)
        staged.write_encoded(head, encoder.undecided, tail)
    staged.close()
    with open(staged.staged, "rb") as fh:
        blocks = list(fastavro.block_reader(fh))
        fh.seek(0)
        assert list(fastavro.reader(fh)) == [to_avro(article) for article in articles]
    assert sum(block.num_records for block in blocks) == 400 and len(blocks) >= 2
    assert all(len(block.bytes_.getvalue()) >= BLOCK_BYTES for block in blocks[:-1])


def test_a_folder_another_worker_made_first_is_not_an_error(tmp_path, monkeypatch):
    """Two workers stage into the same new folder: the other one's mkdir lands first."""
    folder = tmp_path / "lake" / "_staging" / "run" / "files"
    real_mkdir = os.mkdir
    raced = []

    def mkdir(path, *args, **kwargs):
        if os.fspath(path) == str(folder) and not raced:
            raced.append(path)
            real_mkdir(path, *args, **kwargs)  # the other worker, a moment earlier
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(fileops.os, "mkdir", mkdir)
    fileops.make_folder(str(folder))
    assert raced and folder.is_dir()


def test_a_folder_that_cannot_be_made_is_an_error(tmp_path):
    blocker = tmp_path / "parts"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(OSError, match="parts"):
        fileops.make_folder(str(blocker / "dt=2025-08-29"))
