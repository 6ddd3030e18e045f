"""Object stores on loopback for the tests: moto's S3 server and a GCS emulator, one each per
session, started by the tests and stopped by pid; a bucket per test on either."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.gcs import PROJECT, GcsEmulator, free_port

__all__ = ["S3_ENV", "Store", "gcs_emulator", "s3_server"]

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def s3_server(workdir: Path) -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 in a process of its own (its endpoint URL), stopped by
    its pid when the generator is closed. Its own process: moto's request handling is Python
    that would otherwise hold this process's GIL while a run in it waits for the answer."""
    port = free_port()
    log = (workdir / "moto.log").open("ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"moto's server exited, see {log.name}")
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def gcs_emulator(workdir: Path) -> Iterator[GcsEmulator]:
    emulator = GcsEmulator(workdir)
    try:
        yield emulator
    finally:
        emulator.stop()


@dataclasses.dataclass
class Store:
    """One bucket of one store, with what ``feedlake`` needs to reach it: Beam's flags (S3)
    or the environment (GCS: set for the session, as a user exports it)."""

    scheme: str  # "s3" or "gs"
    bucket: str
    flags: list[str]
    client: Any  # boto3's S3 client, or google-cloud-storage's Client

    @classmethod
    def s3(cls, endpoint: str) -> Store:
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        bucket = f"feedlake-{uuid.uuid4().hex[:12]}"
        client.create_bucket(Bucket=bucket)
        flags = [
            f"--s3_endpoint_url={endpoint}",
            "--s3_region_name=us-east-1",
            "--s3_access_key_id=testing",
            "--s3_secret_access_key=testing",
        ]
        return cls("s3", bucket, flags, client)

    @classmethod
    def gcs(cls, emulator: GcsEmulator) -> Store:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        bucket = f"feedlake-{uuid.uuid4().hex[:12]}"
        emulator.create_bucket(bucket)
        client = storage.Client(project=PROJECT, credentials=AnonymousCredentials())
        return cls("gs", bucket, [], client)

    def uri(self, key: str = "") -> str:
        return f"{self.scheme}://{self.bucket}/{key}".rstrip("/")

    def keys(self, prefix: str = "") -> list[str]:
        if self.scheme == "s3":
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
        return sorted(blob.name for blob in self.client.list_blobs(self.bucket, prefix=prefix))

    def read(self, key: str) -> bytes:
        if self.scheme == "s3":
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return self.client.bucket(self.bucket).blob(key).download_as_bytes()

    def write(self, key: str, data: bytes) -> None:
        if self.scheme == "s3":
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        else:
            self.client.bucket(self.bucket).blob(key).upload_from_string(data)

    def upload(self, folder: Path, prefix: str) -> None:
        """Every file below ``folder`` to ``prefix/`` (its relative path kept)."""
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                self.write(f"{prefix}/{path.relative_to(folder).as_posix()}", path.read_bytes())

    def download(self, prefix: str, folder: Path) -> Path:
        """Every object below ``prefix/`` into ``folder`` (made anew), to read it as a local
        lake is read; ``folder``."""
        for key in self.keys(prefix + "/"):
            target = folder / key[len(prefix) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.read(key))
        folder.mkdir(parents=True, exist_ok=True)
        return folder
