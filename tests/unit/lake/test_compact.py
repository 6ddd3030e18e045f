"""Compaction on folders of real Avro files written here: packing to a target size, a date
range, files of every codec and of an older schema merged into one, blocks copied without
decoding in bounded memory, a merged file that does not add up or a file that is not Avro
refused before anything is committed, progress lines, and the watcher's schedule."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import tracemalloc
from collections import Counter
from pathlib import Path

import fastavro
import pytest

import schemas
from pipeline.core.records import Reject, to_avro
from pipeline.lake import compact as compaction
from pipeline.lake.compact import (
    CompactionFailed,
    CompactionSchedule,
    Merge,
    Plan,
    Progress,
    SourceFile,
    compact_lake,
    in_range,
    pack,
    plan_compaction,
)
from pipeline.lake.files import avro_writer
from pipeline.lake.lease import WriterLease
from tests.conftest import make_article
from tests.support.schemas import old_schema

LINEAGE = make_article().lineage
FOLDER = "rejects/dt=2025-08-01"


def reject(n: int, raw: bytes = b"<item/>") -> dict:
    return to_avro(Reject("parse", "no_body", f"reject {n}", raw, LINEAGE))


def write(lake: Path, name: str, records: list[dict], codec: str = "deflate", **kw) -> Path:
    """A data file of ``FOLDER`` as a run writes it (or with ``schema``, an older writer)."""
    path = lake / FOLDER / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        if "schema" in kw:
            fastavro.writer(fh, kw["schema"], records, codec=codec)
        else:
            writer = avro_writer(fh, "Reject", codec)
            for record in records:
                writer.write(record)
            writer.flush()
    return path


def read(path: Path) -> list[dict]:
    with path.open("rb") as fh:
        return list(fastavro.reader(fh, reader_schema=schemas.load("Reject")))


def folder_records(lake: Path) -> Counter:
    return Counter(
        json.dumps(r, sort_keys=True, default=str)
        for path in (lake / FOLDER).glob("*.avro")
        for r in read(path)
    )


def compacted(lake: Path, **options):
    with WriterLease(str(lake), "compact") as lease:
        lease.acquire()
        return compact_lake(str(lake), lease, **options)


def source(name: str, payload: int) -> SourceFile:
    return SourceFile(f"/lake/{FOLDER}/{name}", payload + 100, payload, "deflate")


def test_files_are_packed_in_name_order_up_to_the_target():
    files = [source(n, size) for n, size in zip("fedcba", (40, 30, 50, 20, 60, 10), strict=True)]
    groups = pack(files, target=100)
    assert [[s.path[-1] for s in group] for group in groups] == [["a", "b", "c"], ["d", "e"]]
    assert all(sum(s.payload for s in group) <= 100 for group in groups)


def test_files_at_the_target_and_lone_files_are_left_alone():
    assert pack([source("a", 100), source("b", 10)], target=100) == []
    assert pack([source("a", 90), source("b", 20)], target=100) == []


def test_a_date_range_takes_the_dt_folders_in_it_and_no_folder_without_dt():
    day = dt.date(2025, 8, 1)
    assert in_range("articles/region=asia/dt=2025-08-01", day, day)
    assert not in_range("articles/dt=2025-08-02/region=asia", None, day)
    assert in_range("articles/dt=2025-08-02/region=asia", day, None)
    assert in_range("articles/region=asia", None, None)
    assert not in_range("articles/region=asia", day, None)


def test_files_of_every_codec_become_one_file_with_every_record(tmp_path):
    lake = tmp_path / "lake"
    for n, codec in enumerate(("deflate", "snappy", "null")):
        write(lake, f"run{n}-00000-of-00001.avro", [reject(n * 10 + k) for k in range(5)], codec)
    before = folder_records(lake)
    done = compacted(lake)
    (merged,) = (lake / FOLDER).glob("*.avro")
    assert merged.name == f"{done.manifest['run_id']}-00000-of-00001.avro"
    assert folder_records(lake) == before and sum(before.values()) == 15
    with merged.open("rb") as fh:
        header = fastavro.reader(fh)
        assert header.codec == "deflate"  # the lake's default, the files having none in common
        assert header.metadata["feedlake.schema_version"] == str(schemas.version("Reject"))


def test_a_file_of_an_older_schema_is_merged_through_schema_evolution(tmp_path):
    lake = tmp_path / "lake"
    old = [{k: v for k, v in reject(1).items() if k not in ("guid", "item_url")}]
    old_file = write(lake, "a-00000-of-00001.avro", old, schema=old_schema("v3", "Reject"))
    write(lake, "b-00000-of-00001.avro", [reject(2)])
    expected = [*read(old_file), reject(2)]
    compacted(lake)
    (merged,) = (lake / FOLDER).glob("*.avro")
    assert read(merged) == expected
    assert read(merged)[0]["guid"] is None  # the current schema's default


def test_blocks_are_copied_without_decoding_in_memory_bounded_by_a_block(tmp_path, monkeypatch):
    """Eight files of 2.5 MB each (records of 50 KB) merge into one holding at most about two
    blocks (64 KB of records each) in memory at a time, and no record is decoded."""
    lake = tmp_path / "lake"
    raw = os.urandom(50_000)
    for n in range(8):
        write(lake, f"run{n}-00000-of-00001.avro", [reject(n, raw)] * 50, "null")
    folder_bytes = sum(p.stat().st_size for p in (lake / FOLDER).glob("*.avro"))

    def no_decoding(*_args, **_kwargs):
        raise AssertionError("a record was decoded")

    monkeypatch.setattr(fastavro, "reader", no_decoding)
    tracemalloc.start()
    try:
        done = compacted(lake)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert done.manifest["counts"]["records"] == 400 and folder_bytes > 20_000_000
    assert peak < 1_000_000, f"peak {peak:,} bytes"


def test_a_merged_file_that_does_not_add_up_commits_nothing(tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    for n in range(3):
        write(lake, f"run{n}-00000-of-00001.avro", [reject(n)])
    before = sorted(os.listdir(lake / FOLDER))
    real = compaction.merge_into
    calls = []

    def losing_a_file(staged, path):  # a bug that forgets the last file
        calls.append(path)
        if len(calls) < 3:
            real(staged, path)

    monkeypatch.setattr(compaction, "merge_into", losing_a_file)
    with pytest.raises(CompactionFailed, match=r"holds 2 records \(2 written\) where its 3 "):
        compacted(lake)
    assert sorted(os.listdir(lake / FOLDER)) == before
    assert not (lake / "_staging").exists() and not (lake / "_runs").exists()


def test_a_file_that_is_not_avro_stops_the_compaction_and_is_named(tmp_path):
    lake = tmp_path / "lake"
    write(lake, "run0-00000-of-00001.avro", [reject(0)])
    (lake / FOLDER / "run1-00000-of-00001.avro").write_bytes(b"not avro at all")
    named = re.escape("run1-00000-of-00001.avro does not read as an Avro container file")
    with pytest.raises(CompactionFailed, match=named):
        compacted(lake)
    assert len(os.listdir(lake / FOLDER)) == 2 and not (lake / "_runs").exists()


def test_a_file_of_another_record_type_stops_the_compaction_and_is_named(tmp_path):
    lake = tmp_path / "lake"
    write(lake, "run0-00000-of-00001.avro", [reject(0)])
    stray = lake / FOLDER / "run1-00000-of-00001.avro"
    with stray.open("wb") as fh:
        writer = avro_writer(fh, "Article")
        writer.write(to_avro(make_article()))
        writer.flush()
    with pytest.raises(CompactionFailed, match=re.escape(f"{stray} does not read as an Avro")):
        compacted(lake)
    assert len(os.listdir(lake / FOLDER)) == 2 and not (lake / "_runs").exists()
    assert not (lake / "_staging").exists()


def test_merged_files_are_at_most_the_target_size_and_a_second_pass_keeps_them(tmp_path):
    lake = tmp_path / "lake"
    raw = os.urandom(20_000)
    for n in range(10):
        write(lake, f"run{n}-00000-of-00001.avro", [reject(n, raw)], "null")
    before = folder_records(lake)
    (merge,) = plan_compaction(str(lake), None, None, target=1 << 40).merges
    header = max(source.size - source.payload for source in merge.sources)
    target_mb = 0.065  # three files' blocks
    done = compacted(lake, target_mb=target_mb)
    assert done.summary()["files_after"] == 3  # 3 + 3 + 3 files, the tenth left alone
    assert len(os.listdir(lake / FOLDER)) == 4 and folder_records(lake) == before
    assert all(o["bytes"] <= target_mb * 1e6 + header for o in done.manifest["outputs"])
    assert compacted(lake, target_mb=target_mb).manifest is None


def test_progress_is_said_every_interval_in_folders_and_mb(caplog):
    merges = tuple(
        Merge(f"rejects/dt=2025-08-0{n}", (source("a", 2_000_000), source("b", 2_000_000)))
        for n in range(1, 4)
    )
    clock = iter([0.0, 4.0, 11.0, 30.0]).__next__
    progress = Progress(Plan(merges, 5), every=10.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="feedlake"):
        for merge in merges:
            progress(merge)
    assert [r.getMessage() for r in caplog.records] == [
        "compacting: 2 of 3 folders, 8.0 of 12.0 MB",
        "compacting: 3 of 3 folders, 12.0 of 12.0 MB",
    ]


def test_a_watcher_compacts_once_the_interval_has_passed_since_its_last_try(tmp_path):
    lake = tmp_path / "lake"
    now = [dt.datetime(2026, 1, 2, 12, tzinfo=dt.timezone.utc).timestamp()]
    schedule = CompactionSchedule(24, clock=lambda: now[0])
    assert not schedule.due(str(lake))  # no manifest says when: from now on
    now[0] += 24 * 3600
    assert schedule.due(str(lake))
    schedule.done()  # tried, whatever it found
    now[0] += 23 * 3600
    assert not schedule.due(str(lake))
    now[0] += 3600
    assert schedule.due(str(lake))
    assert not CompactionSchedule(0).due(str(lake))


def test_a_watcher_counts_from_the_lakes_last_compaction_else_its_first_run(tmp_path):
    lake = tmp_path / "lake"
    (lake / "_runs").mkdir(parents=True)
    runs = ("airflow-20250101T000000", "20260101T000000000Z-aaaa", "20260103T000000000Z-bbbb")
    for name in runs:
        (lake / "_runs" / f"{name}.json").write_text("{}")
    first_run = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    assert not CompactionSchedule(1, clock=lambda: first_run + 3599).due(str(lake))
    assert CompactionSchedule(1, clock=lambda: first_run + 3600).due(str(lake))
    for name in ("20260101T120000000Z-compaction-cccc", "20260102T060000500Z-compaction-dddd"):
        (lake / "_runs" / f"{name}.json").write_text("{}")
    last = dt.datetime(2026, 1, 2, 6, 0, 0, 500_000, tzinfo=dt.timezone.utc).timestamp()
    assert not CompactionSchedule(1, clock=lambda: last + 3599).due(str(lake))
    assert CompactionSchedule(1, clock=lambda: last + 3600).due(str(lake))
