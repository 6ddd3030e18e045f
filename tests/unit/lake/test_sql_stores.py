"""What DuckDB is told to reach a lake on S3: the options Beam's S3 filesystem was given."""

from __future__ import annotations

import pytest
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.lake import sql_stores


@pytest.fixture
def beam_options():
    def given(*flags: str) -> None:
        FileSystems.set_options(PipelineOptions(list(flags)))

    yield given
    FileSystems.set_options(PipelineOptions([]))


def test_an_s3_compatible_endpoint_is_read_path_style_with_beams_keys(beam_options):
    beam_options(
        "--s3_endpoint_url=http://127.0.0.1:9000",
        "--s3_region_name=eu-west-1",
        "--s3_access_key_id=key",
        "--s3_secret_access_key=secret",
    )
    assert sql_stores._s3_secret() == {
        "TYPE": "s3",
        "PROVIDER": "config",
        "KEY_ID": "key",
        "SECRET": "secret",
        "REGION": "eu-west-1",
        "ENDPOINT": "127.0.0.1:9000",
        "URL_STYLE": "path",
        "USE_SSL": "false",
    }


def test_without_keys_s3_takes_boto3s_chain(beam_options, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    beam_options()
    secret = sql_stores._s3_secret()
    assert (secret["KEY_ID"], secret["SECRET"], secret["SESSION_TOKEN"]) == (
        "from-env",
        "env-secret",
        "env-token",
    )
    assert secret["REGION"] == "ap-south-1" and "ENDPOINT" not in secret


def test_a_lake_on_another_filesystem_is_refused_with_what_to_do():
    import duckdb

    with pytest.raises(ValueError, match="copy the lake"):
        sql_stores.read_from_store(duckdb.connect(), "hdfs://cluster/lake")
