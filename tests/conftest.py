"""Shared fixtures: the real drop, a run context, and builders for records."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import pytest
from hypothesis import settings

from pipeline.core.records import Article, Lineage, RunContext, Segment, Source

# `make test` (and so CI) draws the same examples every run: a property that fails does so on
# every machine, not now and then. HYPOTHESIS_PROFILE=explore draws new ones each run.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DROP = ROOT / "samples" / "drops" / "milosi-2025-08-29.txt"
# The dateline cities of the real drop's ten articles, in order.
SAMPLE_CITIES = (
    "BEIJING URUMQI Vladivostok Moscow KABUL WINDHOEK HANOI BEIJING BISHKEK TIANJIN".split()
)
# The lake folders readers see; a run's ``_staging`` folder is private to it.
PUBLISHED = ("articles", "duplicates", "rejects", "_index")
RUN = RunContext("test-run", dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.timezone.utc), "0.0.test")


def published_files(lake: Path) -> list[Path]:
    """Every Avro file a reader of ``lake`` can see."""
    return [path for folder in PUBLISHED for path in sorted(lake.glob(f"{folder}/**/*.avro"))]


@pytest.fixture(scope="session")
def sample_bytes() -> bytes:
    return SAMPLE_DROP.read_bytes()


@pytest.fixture(scope="session")
def run() -> RunContext:
    return RUN


def make_segment(raw: bytes, **overrides) -> Segment:
    """A segment of ``raw`` as the splitter would make it, with fields overridable."""
    fields = dict(
        source_uri="/drops/milosi-2025-08-29.txt",
        source_sha256="0" * 64,
        index=0,
        offset=0,
        raw=raw,
        reference_date=dt.date(2025, 8, 29),
        year_from="drop_name",
        ended_by="footer",
    )
    fields.update(overrides)
    return Segment(**fields)


def make_article(**overrides) -> Article:
    """A valid article; override any field."""
    fields = dict(
        id="a" * 32,
        title="Namibia launches national campaign to rebuild schools",
        rubric=None,
        body=("WINDHOEK, Aug. 29 (Xinhua) — The Namibian government has launched a campaign.",),
        language="en",
        published_date=dt.date(2025, 8, 29),
        published_from="dateline",
        year_from="drop_name",
        dateline=None,
        source=Source(channel="People's Republic of China in Russian", translated=True),
        word_count=12,
        lineage=Lineage(
            source_uri="/drops/milosi-2025-08-29.txt",
            source_sha256="0" * 64,
            segment_index=0,
            byte_offset=0,
            byte_length=100,
            encoding="utf-8",
            ingest_time=RUN.ingest_time,
            run_id=RUN.run_id,
            pipeline_version=RUN.pipeline_version,
        ),
    )
    fields.update(overrides)
    return Article(**fields)


def replace(record, **changes):
    return dataclasses.replace(record, **changes)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """moto's S3 server for the session (its endpoint), with AWS credentials in the
    environment for boto3."""
    from tests.support.stores import S3_ENV, s3_server

    with pytest.MonkeyPatch.context() as patch:
        for name, value in S3_ENV.items():
            patch.setenv(name, value)
        yield from s3_server(tmp_path_factory.mktemp("s3"))


@pytest.fixture(scope="session")
def gcs(tmp_path_factory):
    """A GCS emulator for the session, with the environment a user exports for one (set
    here for this process and the feedlake processes the tests start)."""
    from tests.support.stores import gcs_emulator

    with pytest.MonkeyPatch.context() as patch:
        for emulator in gcs_emulator(tmp_path_factory.mktemp("gcs")):
            for name, value in emulator.env().items():
                patch.setenv(name, value)
            yield emulator


@pytest.fixture(params=["s3", "gs"])
def store(request):
    """A new bucket on S3 (moto) or GCS (the emulator), one session's server each."""
    from tests.support.stores import Store

    if request.param == "s3":
        return Store.s3(request.getfixturevalue("s3_endpoint"))
    return Store.gcs(request.getfixturevalue("gcs"))
