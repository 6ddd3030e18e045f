"""DuckDB reading a lake on an object store (``s3://``, ``gs://``) where Beam's filesystems
reach it.

Guarantees: DuckDB reads S3 and GCS through its ``httpfs`` extension, loaded from the
``duckdb-extension-httpfs`` wheel (built for this exact DuckDB version; nothing is downloaded),
with one secret made from what Beam's filesystems were given, so that ``feedlake inspect``
reads the lake where ``feedlake run`` wrote it:

- S3: the endpoint, region and keys of ``--s3_endpoint_url``, ``--s3_region_name``,
  ``--s3_access_key_id``, ``--s3_secret_access_key`` and ``--s3_session_token``; without keys,
  boto3's own chain (environment, ``~/.aws``, the instance's role), as Beam's S3 filesystem
  finds them. A custom endpoint (MinIO, moto, ...) is read path-style.
- GCS: an OAuth2 access token of the credentials Beam's GCS filesystem uses (Application
  Default Credentials: ``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth
  application-default login``, the metadata server); with ``STORAGE_EMULATOR_HOST`` set, the
  emulator at that address, path-style.

Any other filesystem is refused with what to do, before a query runs.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

import duckdb

__all__ = ["STORES", "read_from_store"]

STORES = ("s3", "gs")


def _extension_path(name: str) -> str:
    module = __import__(f"duckdb_extension_{name}")
    return os.path.join(
        os.path.dirname(module.__file__),
        "extensions",
        f"v{duckdb.__version__}",
        f"{name}.duckdb_extension",
    )


def _options() -> Any:
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    return FileSystems._pipeline_options or PipelineOptions([])


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _endpoint(url: str) -> tuple[str, bool]:
    """``host[:port]`` of an endpoint URL, and whether it is HTTPS."""
    parts = urllib.parse.urlsplit(url if "://" in url else f"https://{url}")
    return parts.netloc, parts.scheme == "https"


def _s3_secret() -> dict[str, str]:
    import boto3
    from apache_beam.options.pipeline_options import S3Options

    options = _options().view_as(S3Options)
    secret = {"TYPE": "s3", "PROVIDER": "config"}
    key, password = options.s3_access_key_id, options.s3_secret_access_key
    token = options.s3_session_token
    session = boto3.session.Session()
    if not (key and password):
        found = session.get_credentials()
        if found is not None:
            frozen = found.get_frozen_credentials()
            key, password, token = frozen.access_key, frozen.secret_key, frozen.token
    if key and password:
        secret.update(KEY_ID=key, SECRET=password)
    if token:
        secret["SESSION_TOKEN"] = token
    secret["REGION"] = options.s3_region_name or session.region_name or "us-east-1"
    if options.s3_endpoint_url:
        host, https = _endpoint(options.s3_endpoint_url)
        secret.update(ENDPOINT=host, URL_STYLE="path", USE_SSL=str(https).lower())
    elif options.s3_disable_ssl:
        secret["USE_SSL"] = "false"
    return secret


def _gcs_secret() -> dict[str, str]:
    import google.auth.transport.requests

    from pipeline.lake.storage import gcs_client

    secret = {"TYPE": "gcs"}
    credentials = gcs_client()._credentials  # the ones Beam's GCS filesystem was given
    if credentials is not None and hasattr(credentials, "refresh"):
        if not credentials.valid:
            credentials.refresh(google.auth.transport.requests.Request())
        if credentials.token:
            secret["BEARER_TOKEN"] = credentials.token
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if emulator:
        host, https = _endpoint(emulator)
        secret.update(ENDPOINT=host, URL_STYLE="path", USE_SSL=str(https).lower())
    if "BEARER_TOKEN" not in secret:  # an emulator takes any key; DuckDB wants one
        secret.update(KEY_ID="anonymous", SECRET="anonymous")
    return secret


def read_from_store(con: duckdb.DuckDBPyConnection, lake: str) -> None:
    """Let ``con`` read ``lake``'s store: httpfs loaded from its wheel, and the store's secret.

    Raises:
        ValueError: the lake is on a filesystem DuckDB is not given a way to read.
        RuntimeError: the httpfs extension for this DuckDB version is not installed.
    """
    scheme = lake.split("://", 1)[0]
    if scheme not in STORES:
        raise ValueError(
            f"inspect reads lakes on local disk, s3:// and gs://, not {scheme}://; copy the "
            "lake's files to one of those, or read them with your own DuckDB"
        )
    path = _extension_path("httpfs")
    if not os.path.exists(path):
        raise RuntimeError(
            f"the DuckDB httpfs extension for duckdb {duckdb.__version__} is not installed "
            f"({path} is missing); install duckdb-extension-httpfs=={duckdb.__version__}"
        )
    con.load_extension(path)
    secret = _s3_secret() if scheme == "s3" else _gcs_secret()
    settings = ", ".join(
        f"{name} {value if name in ('TYPE', 'PROVIDER', 'USE_SSL') else _quoted(value)}"
        for name, value in secret.items()
    )
    con.execute(f"CREATE OR REPLACE SECRET feedlake_{scheme} ({settings})")
