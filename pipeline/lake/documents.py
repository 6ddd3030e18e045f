"""Small JSON documents in the lake (manifests, run markers, feed state, the writer lease),
written atomically.

A document is written to a hidden ``.<name>.partial`` beside its place, then renamed into it,
so a reader sees the old document or the new one, never half of one.
:func:`create_json_exclusive` creates a document only where none is: on local disk by a hard
link (atomic, refused when the name exists), on S3 by a conditional PUT (``If-None-Match:
*``); other object stores have no conditional write through Beam's filesystems, so there it
writes, waits and reads back (see docs/operating.md, "The writer lease").
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

__all__ = ["create_json_exclusive", "make_folder", "read_json", "write_json"]

# Object stores without a conditional write: how long a writer waits before it reads back
# whether its document is the one that stayed (S3 and GCS are read-after-write consistent;
# this covers two PUTs in flight at once).
SETTLE_SECONDS = 2.0


def make_folder(folder: str) -> None:
    """Create ``folder`` unless it exists; another worker creating it at the same time is fine."""
    if FileSystems.exists(folder):
        return
    try:
        FileSystems.mkdirs(folder)
    except OSError:  # Beam's local mkdirs raises a plain IOError; other file systems BeamIOError
        if not FileSystems.exists(folder):  # not a race with another worker: a real failure
            raise


def read_json(path: str) -> Any:
    """The document at ``path`` (any Beam filesystem)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        return json.loads(fh.read().decode("utf-8"))


def write_json(path: str, document: Any) -> None:
    """Write ``document`` to ``path`` atomically, creating its folder where folders exist."""
    folder, name = path.rsplit("/", 1)
    make_folder(folder)
    partial = FileSystems.join(folder, f".{name}.partial")
    with FileSystems.create(partial, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        fh.write(_encoded(document))
    FileSystems.rename([partial], [path])


def _encoded(document: Any) -> bytes:
    return json.dumps(document, indent=2, sort_keys=True).encode("utf-8")


def create_json_exclusive(path: str, document: Any) -> bool:
    """Create ``path`` holding ``document`` unless something is there; whether it did.

    Two writers calling this at once for the same path: exactly one gets True (on local disk
    and S3; on other stores, see the module docstring).
    """
    folder, name = path.rsplit("/", 1)
    data = _encoded(document)
    if "://" not in path:
        make_folder(folder)
        partial = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.partial")
        with open(partial, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(partial, path)  # atomic, and refused when the name exists
        except FileExistsError:
            return False
        finally:
            os.unlink(partial)
        return True
    if path.startswith("s3://"):
        return _create_s3_exclusive(path, data)
    if FileSystems.exists(path):
        return False
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        fh.write(data)
    time.sleep(SETTLE_SECONDS)
    return read_json(path) == json.loads(data)


def _create_s3_exclusive(path: str, data: bytes) -> bool:
    from apache_beam.io.aws.clients.s3 import boto3_client
    from botocore.exceptions import ClientError

    bucket, _, key = path.removeprefix("s3://").partition("/")
    # The options Beam's S3 filesystem was given (endpoint, region, credentials): the same
    # client settings, so the lease lives where the lake does.
    client = boto3_client.Client(options=FileSystems._pipeline_options or {}).client
    try:
        client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
            return False
        raise
    return True
