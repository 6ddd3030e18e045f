"""Small JSON documents in the lake (manifests, run markers, feed state, the writer lease),
written atomically.

A document is written to a hidden ``.<name>.partial`` beside its place, then renamed into it,
so a reader sees the old document or the new one, never half of one. On local disk it is also
durable when :func:`write_json` returns: the partial's content is synced before the rename and
the folder after it, so a power cut leaves the old document or the new one, never an empty
one (a manifest, a run's marker, the lease, the feed state and ``_lake.json`` are a few
documents a run, a few milliseconds of syncing).
:func:`create_json_exclusive` creates a document only where none is: on local disk by a hard
link (atomic, refused when the name exists), on S3 by a conditional PUT (``If-None-Match:
*``), on GCS by an upload under a generation precondition (``ifGenerationMatch=0``,
:mod:`pipeline.lake.storage`); other object stores have no conditional write through Beam's
filesystems, so there it writes, waits and reads back (see docs/operating.md, "The writer
lease").
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.lake.confine import damaged
from pipeline.lake.fileops import is_local, make_folder, open_new, sync_file, sync_folder
from pipeline.lake.storage import create_generation, replace_generation, s3_client

__all__ = [
    "create_json_exclusive",
    "create_json_generation",
    "read_document",
    "read_json",
    "replace_json_generation",
    "write_json",
]

# Object stores without a conditional write: how long a writer waits before it reads back
# whether its document is the one that stayed (S3 and GCS are read-after-write consistent;
# this covers two PUTs in flight at once).
SETTLE_SECONDS = 2.0


def read_json(path: str) -> Any:
    """The document at ``path`` (any Beam filesystem)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        return json.loads(fh.read().decode("utf-8"))


def read_document(path: str, what: str) -> dict[str, Any]:
    """The JSON object at ``path``, one of the lake's documents (``what`` names its kind for
    the message).

    Raises:
        DamagedLakeFile: it is not a JSON object (cut short, garbled, another document).
    """
    try:
        document = read_json(path)
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise damaged(path, f"is not {what} (not JSON: {error})") from None
    if not isinstance(document, dict):
        raise damaged(path, f"is not {what} (JSON, but not an object)")
    return document


def write_json(path: str, document: Any) -> None:
    """Write ``document`` to ``path`` atomically and durably, creating its folder where
    folders exist."""
    folder, name = path.rsplit("/", 1)
    partial = FileSystems.join(folder, f".{name}.partial")
    with open_new(partial) as fh:
        fh.write(_encoded(document))
        sync_file(fh, partial)
    if is_local(path):
        os.replace(partial, path)
        sync_folder(folder)
    else:
        FileSystems.rename([partial], [path])


def _encoded(document: Any) -> bytes:
    return json.dumps(document, indent=2, sort_keys=True).encode("utf-8")


def create_json_exclusive(path: str, document: Any) -> bool:
    """Create ``path`` holding ``document`` unless something is there; whether it did.

    Two writers calling this at once for the same path: exactly one gets True (on local disk,
    S3 and GCS; on other stores, see the module docstring).
    """
    folder, name = path.rsplit("/", 1)
    data = _encoded(document)
    if "://" not in path:
        make_folder(folder)
        partial = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.partial")
        with open(partial, "wb") as fh:
            fh.write(data)
            sync_file(fh, partial)
        try:
            os.link(partial, path)  # atomic, and refused when the name exists
        except FileExistsError:
            return False
        finally:
            os.unlink(partial)
        sync_folder(folder)
        return True
    if path.startswith("s3://"):
        return _create_s3_exclusive(path, data)
    if path.startswith("gs://"):
        return create_json_generation(path, document) is not None
    if FileSystems.exists(path):
        return False
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        fh.write(data)
    time.sleep(SETTLE_SECONDS)
    return read_json(path) == json.loads(data)


def create_json_generation(path: str, document: Any) -> int | None:
    """Create the GCS document ``path`` unless one is there: its generation, else None."""
    return create_generation(path, _encoded(document))


def replace_json_generation(path: str, document: Any, generation: int) -> int | None:
    """Replace the GCS document ``path`` if it is still at ``generation``: the new
    generation, or None when someone else changed or deleted it since."""
    return replace_generation(path, _encoded(document), generation)


def _create_s3_exclusive(path: str, data: bytes) -> bool:
    from botocore.exceptions import ClientError

    bucket, _, key = path.removeprefix("s3://").partition("/")
    # The options Beam's S3 filesystem was given (endpoint, region, credentials): the same
    # client settings, so the lease lives where the lake does.
    try:
        s3_client().put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
            return False
        raise
    return True
