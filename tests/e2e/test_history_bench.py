"""The history benchmark's lakes are in the format feedlake wrote before 0.2 (format 1: an
index file per run, drops known only from the manifests), and today's code reads them: it
migrates them once and then catches copies of their stories.

A tiny history (4 days of 2 runs of 40 kept articles, with their article files) is built
once; a real ``feedlake run`` of a drop carrying copies of its planted stories then runs on
a hard-linked copy of it, as the benchmark does.
"""

from __future__ import annotations

import datetime as dt
import json

import fastavro
import pytest

from benchmarks.history import count_articles, merged_lakes, time_run, write_drop
from benchmarks.history_lake import LAST_DAY, Shape, cached, planted
from pipeline.lake.files import count_records
from pipeline.lake.history import read_index_file
from pipeline.lake.manifest import ingested_drops

pytestmark = [pytest.mark.e2e, pytest.mark.long]

TINY = Shape("tiny", runs_per_day=2, kept=40, drops=2, days=4)
SEED = 3


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("work")


@pytest.fixture(scope="module")
def history(work):
    return cached(TINY, work, seed=SEED, articles=True)


@pytest.fixture(scope="module")
def ran(history, work):
    drop, copies = write_drop(work / "drop", TINY.days, SEED, articles=60)
    return time_run(drop, history, work / "runs" / "tiny-0", copies, keep=True), copies


def _manifests(history) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((history.lake / "_runs").glob("*.json"))]


def _shape_of(document):
    """The keys at every level, and the type of every value (counters as one kind)."""
    if isinstance(document, dict):
        if document and all(isinstance(v, int) for v in document.values()):
            return "counter"
        return {key: _shape_of(value) for key, value in document.items()}
    if isinstance(document, list):
        return [_shape_of(document[0])] if document else []
    return type(document).__name__


def test_runs_are_spread_over_the_days_that_end_on_the_last_day(history):
    started = [TINY.started(run) for run in range(TINY.runs)]
    assert started[0] == dt.datetime(2025, 8, 26, 0, 5, tzinfo=dt.timezone.utc)
    assert started[-1] == dt.datetime(2025, 8, 29, 12, 5, tzinfo=dt.timezone.utc)
    names = sorted(path.name for path in (history.lake / "_index").iterdir())
    assert [name[:16] for name in names] == [f"{t:%Y%m%dT%H%M%SZ}" for t in started]
    assert all(name.endswith("-00000-of-00001.avro") for name in names)


def test_the_index_holds_every_kept_article_once_with_feed_links_on_some(history):
    entries = [
        e for path in (history.lake / "_index").iterdir() for e in read_index_file(str(path))
    ]
    assert len(entries) == len({e.id for e in entries}) == TINY.runs * TINY.kept
    assert {len(e.bands) for e in entries} == {80} and {len(e.sketch) for e in entries} == {140}
    linked = sum(bool(e.links) for e in entries)
    assert 0 < linked < len(entries) // 5
    assert set(history.planted) <= {e.id for e in entries}


def test_every_file_a_manifest_names_holds_the_records_it_says(history):
    manifests = _manifests(history)
    assert len(manifests) == TINY.runs and {m["status"] for m in manifests} == {"succeeded"}
    for manifest in manifests:
        for output in manifest["outputs"]:
            assert count_records(output["path"]) == output["records"]
        counts = manifest["counts"]
        assert counts["segments"] == counts["articles"] + counts["duplicates"]


def test_the_driver_takes_every_history_drop_as_ingested(history):
    ingested = ingested_drops(str(history.lake))
    assert len(ingested) == TINY.runs * TINY.drops
    assert {entry["run_id"] for entry in ingested.values()} == {
        m["run_id"] for m in _manifests(history)
    }


def test_a_run_on_the_history_catches_copies_of_its_newest_and_oldest_stories(ran):
    timed, copies = ran
    assert {c.group for c in copies} == {"recent", "oldest"}
    assert timed.caught == {copy.position: (copy.kind, copy.of) for copy in copies}
    oldest = {p.id for p in planted(TINY.days, SEED) if p.group == "oldest"}
    assert {p.day for p in planted(TINY.days, SEED) if p.group == "oldest"} == {
        LAST_DAY - dt.timedelta(days=TINY.days - 1)
    }
    assert oldest <= {of for _kind, of in timed.caught.values()}


# What a manifest holds since format 2 (and commit protocol 4), which format 1's did not.
FORMAT_2_KEYS = ("commit_protocol", "request", "lease_generation")


def test_history_manifests_are_shaped_like_the_one_the_run_wrote(ran, history):
    timed, _copies = ran
    assert timed.manifest["status"] == "succeeded"
    today = {k: v for k, v in timed.manifest.items() if k not in FORMAT_2_KEYS}
    assert {json.dumps(_shape_of(m), sort_keys=True) for m in _manifests(history)} == {
        json.dumps(_shape_of(today), sort_keys=True)
    }


def test_history_files_carry_the_schema_and_metadata_of_the_run_written_ones(ran, history):
    timed, _copies = ran
    for kind in ("articles", "duplicates"):
        ours = next((history.lake / kind).rglob("*.avro"))
        (theirs,) = [o["path"] for o in timed.manifest["outputs"] if o["kind"] == kind][:1]
        headers = []
        for path in (ours, theirs):
            with open(path, "rb") as fh:
                reader = fastavro.reader(fh)
                headers.append(
                    (reader.writer_schema, reader.codec, reader.metadata["feedlake.schema_version"])
                )
        assert headers[0] == headers[1]
    with next((history.lake / "_index").glob("*.avro")).open("rb") as fh:  # format 1's index
        assert fastavro.reader(fh).writer_schema["name"] == "feedlake.IndexEntry"


def test_duckdb_counts_every_article_as_written_and_merged(history, work):
    lakes = {"batches": history.lake, **merged_lakes(history, work / "merged")}
    counts = {label: count_articles(lake, repeat=1)[0] for label, lake in lakes.items()}
    assert set(counts.values()) == {TINY.runs * TINY.kept}
    merged = work / "merged" / "per-partition" / "articles"
    partitions = {p.parent.relative_to(merged) for p in merged.rglob("*.avro")}
    written = {
        p.parent.relative_to(history.lake / "articles")
        for p in (history.lake / "articles").rglob("*.avro")
    }
    assert partitions == written


def test_a_cached_history_is_found_not_rebuilt(history, work):
    summary = history.lake.parent / "history.json"
    before = summary.stat().st_mtime_ns
    assert cached(TINY, work, seed=SEED, articles=True) == history
    assert summary.stat().st_mtime_ns == before
