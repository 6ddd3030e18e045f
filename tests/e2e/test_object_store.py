"""The lake on S3: a real S3-compatible server (moto's) on 127.0.0.1, through Beam's filesystems."""

from __future__ import annotations

import io
import json

import boto3
import fastavro
import pytest

from pipeline.cli import main
from tests.conftest import SAMPLE_DROP

pytestmark = pytest.mark.e2e
BUCKET = "feedlake-lake"


@pytest.fixture(scope="module")
def s3(monkeypatch_module):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch_module.setenv(name, value)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield endpoint, client
    server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def s3_flags(endpoint: str) -> list[str]:
    """Beam's options for the loopback S3 server."""
    return [
        f"--s3_endpoint_url={endpoint}",
        "--s3_region_name=us-east-1",
        "--s3_access_key_id=testing",
        "--s3_secret_access_key=testing",
    ]


def keys(client, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def test_a_lake_on_s3_is_written_read_back_and_rerun(s3, capsys):
    endpoint, client = s3
    flags = s3_flags(endpoint)
    lake = f"s3://{BUCKET}/lake"
    assert main(["run", "--drops", str(SAMPLE_DROP), "--lake", lake, "--quiet", *flags]) == 0
    stored = keys(client, "lake/")
    articles = [k for k in stored if k.startswith("lake/articles/") and k.endswith(".avro")]
    assert len(articles) == 7 and any("region=asia/topic=politics" in k for k in articles)
    assert not [k for k in stored if k.startswith("lake/_staging/")]
    records = []
    for key in articles:
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        records += list(fastavro.reader(io.BytesIO(body)))
    assert len(records) == 10
    (manifest_key,) = [k for k in stored if k.startswith("lake/_runs/")]
    manifest = json.loads(client.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read())
    assert manifest["status"] == "succeeded" and manifest["counts"]["articles"] == 10
    assert all(o["path"].startswith("s3://") for o in manifest["outputs"])

    assert main(["run", "--drops", str(SAMPLE_DROP), "--lake", lake, *flags]) == 0
    assert "nothing new: 1 drop(s) already ingested" in capsys.readouterr().out
    argv = ["run", "--drops", str(SAMPLE_DROP), "--lake", lake, "--reprocess", "--json", *flags]
    assert main(argv) == 0
    rerun = json.loads(capsys.readouterr().out)
    assert (rerun["counts"]["articles"], rerun["counts"]["duplicates"]) == (0, 10)


def test_on_s3_the_lease_is_a_conditional_put_and_a_second_writer_is_refused(s3, capsys):
    from concurrent.futures import ThreadPoolExecutor

    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.lake.documents import create_json_exclusive
    from pipeline.lake.lease import WriterLease

    endpoint, client = s3
    flags = s3_flags(endpoint)
    FileSystems.set_options(PipelineOptions(flags))
    path = f"s3://{BUCKET}/race/doc.json"
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda n: create_json_exclusive(path, {"writer": n}), range(8)))
    assert sorted(won) == [False] * 7 + [True]  # S3's If-None-Match: exactly one writer wins

    lake = f"s3://{BUCKET}/leased"
    with WriterLease(lake, "run", "holder") as lease:
        lease.acquire()
        argv = ["run", "--drops", str(SAMPLE_DROP), "--lake", lake, "--quiet", *flags]
        assert main(argv) == 3
    assert "is being written by feedlake run (run holder" in capsys.readouterr().err
    assert keys(client, "leased/") == ["leased/_lease/lease-000000000001.json"]
