"""Names in the lake's storage taken exactly: deleting by name, and the GCS writes that hold
only while an object is as a writer last saw it.

Guarantees: :func:`delete_exactly` deletes the names it is given and nothing else: ``*``,
``?`` and ``[`` are characters of a name, never a pattern (Beam's ``FileSystems.delete``
matches patterns, and on GCS looks each name up first), and a name already gone is no
error. It costs one request per batch of names where the store takes batches: S3 deletes up
to 1,000 keys a request (DeleteObjects), GCS up to 100 (a batch request), local disk one
unlink a name. On another Beam filesystem it refuses a name that would be read as a pattern.
:func:`files_below` lists the files below a folder whose own path is taken literally (a lake
at ``lake[1]`` or ``lake*`` is that folder, never a pattern); only the part of a pattern
below the folder is one (Beam's syntax: ``*`` within a name, ``**`` across folders).

:func:`create_generation` creates a GCS object only where none is (``ifGenerationMatch=0``),
and :func:`replace_generation` replaces one only while it is at the generation its writer
last wrote (``ifGenerationMatch=<generation>``): of writers racing for either, exactly one
succeeds, whatever their clocks. Both talk to GCS through google-cloud-storage, the library
Beam's GCS filesystem is built on, with the same options and credentials as Beam's
filesystems (``STORAGE_EMULATOR_HOST`` for an emulator). One client a store is kept, for
the options Beam's filesystems were given last.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from apache_beam.io.filesystem import FileMetadata, FileSystem
from apache_beam.io.filesystems import FileSystems

__all__ = [
    "GCS_BATCH",
    "S3_BATCH",
    "create_generation",
    "delete_exactly",
    "files_below",
    "gcs_client",
    "replace_generation",
    "s3_client",
    "share_s3_service_data",
]

S3_BATCH = 1000  # keys one DeleteObjects request takes
GCS_BATCH = 100  # calls one GCS batch request takes
_PATTERN = frozenset("*?[")


# The client of each store, for the Beam options it was made with (a watcher sets new ones
# at every poll): making a boto3 client reads botocore's service files again, and each new
# GCS client fetches the bucket's metadata.
_CLIENTS: dict[str, tuple[Any, Any]] = {}


@functools.cache
def _no_options() -> Any:
    from apache_beam.options.pipeline_options import PipelineOptions

    return PipelineOptions([])


def _options() -> Any:
    return FileSystems._pipeline_options or _no_options()


def _client(store: str, make: Any) -> Any:
    options = _options()
    if store not in _CLIENTS or _CLIENTS[store][0] is not options:
        _CLIENTS[store] = (options, make(options))
    return _CLIENTS[store][1]


def s3_client() -> Any:
    """A boto3 S3 client with the options Beam's S3 filesystem was given (endpoint, region,
    credentials), so that feedlake's own requests go where Beam's do."""
    from apache_beam.io.aws.clients.s3 import boto3_client

    return _client("s3", lambda options: boto3_client.Client(options=options).client)


def gcs_client() -> Any:
    """A google-cloud-storage client as Beam's GCS filesystem makes it: the same project and
    credentials (Application Default Credentials), the emulator's address when
    ``STORAGE_EMULATOR_HOST`` is set."""
    from apache_beam.io.gcp.gcsio import create_storage_client

    return _client("gs", create_storage_client)


def share_s3_service_data() -> None:
    """Let the boto3 clients of this process read botocore's service descriptions once.

    Beam's S3 filesystem makes a new boto3 session and client for every operation (a file's
    existence, a listing, an open, a rename), and each new session parses botocore's JSON
    service descriptions again: about 0.16 s of CPU a client, 123 clients and most of the CPU
    of a run of the sample drop into an S3 lake. After this, sessions with the same data path
    share one loader (0.02 s a client); what it loads is read-only data, the same for all."""
    import botocore.loaders
    import botocore.session

    if not getattr(botocore.session.create_loader, "shared", False):
        shared = functools.cache(botocore.loaders.create_loader)
        shared.shared = True  # type: ignore[attr-defined]
        botocore.session.create_loader = shared


def files_below(folder: str, pattern: str = "**", limit: int | None = None) -> list[FileMetadata]:
    """The files below ``folder`` whose path relative to it matches ``pattern``, in name
    order (at most ``limit``, the first listed); ``folder`` is a path, never a pattern. It
    lists what Beam's ``match`` of the same pattern lists: the folder's files below the
    pattern's first pattern character."""
    root = folder.rstrip("/") + "/"
    literal = re.match(r"[^[*?]*", pattern).group(0)  # type: ignore[union-attr]
    filesystem = FileSystems.get_filesystem(root)
    if filesystem.has_dirs():
        literal = literal.rsplit("/", 1)[0] + "/" if "/" in literal else ""
    wanted = re.compile(FileSystem.translate_pattern(pattern))
    found = []
    for metadata in filesystem._list(root + literal):  # Beam's listing, of a literal prefix
        if wanted.match(metadata.path[len(root) :]):
            found.append(metadata)
            if limit is not None and len(found) >= limit:
                break
    return sorted(found, key=lambda metadata: metadata.path)


def _split(path: str) -> tuple[str, str]:
    bucket, _, name = path.split("://", 1)[1].partition("/")
    return bucket, name


def _batches(paths: Sequence[str], size: int) -> Iterable[tuple[str, Sequence[str]]]:
    """The names of ``paths`` bucket by bucket, at most ``size`` at a time: (bucket, names)."""
    by_bucket: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        bucket, name = _split(path)
        by_bucket[bucket].append(name)
    for bucket, names in by_bucket.items():
        for start in range(0, len(names), size):
            yield bucket, names[start : start + size]


def delete_exactly(paths: Iterable[str]) -> None:
    """Delete exactly these files (not folders); names already gone are fine.

    Raises:
        OSError: a name could not be deleted (each such name and why).
        ValueError: a name on a filesystem other than local disk, S3 and GCS holds a
            character Beam would read as a pattern.
    """
    by_store: dict[str, list[str]] = defaultdict(list)
    for path in dict.fromkeys(paths):  # each name once, in order
        by_store[path.split("://", 1)[0] if "://" in path else ""].append(path)
    for scheme, names in by_store.items():
        if scheme == "":
            _delete_local(names)
        elif scheme == "s3":
            _delete_s3(names)
        elif scheme == "gs":
            _delete_gcs(names)
        else:
            if patterns := [name for name in names if _PATTERN & set(name)]:
                raise ValueError(
                    f"cannot delete {patterns[0]} by its exact name on {scheme}://: Beam "
                    "would read it as a pattern; rename it, or delete it with the store's tools"
                )
            FileSystems.delete(names)


def _delete_local(paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):  # gone already: what was asked
            os.unlink(path)


def _failed(failures: dict[str, str]) -> OSError:
    shown = "; ".join(f"{path}: {why}" for path, why in list(failures.items())[:5])
    more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
    return OSError(f"could not delete {len(failures)} file(s): {shown}{more}")


def _delete_s3(paths: list[str]) -> None:
    client = s3_client()
    failures = {}
    for bucket, names in _batches(paths, S3_BATCH):
        objects = [{"Key": name} for name in names]
        answer = client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
        for error in answer.get("Errors", []):
            failures[f"s3://{bucket}/{error['Key']}"] = f"{error['Code']} {error['Message']}"
    if failures:
        raise _failed(failures)


def _delete_gcs(paths: list[str]) -> None:
    with _gcs_errors(f"deleting {paths[0]} and {len(paths) - 1} more"):
        client = gcs_client()
        failures = {}
        for bucket_name, names in _batches(paths, GCS_BATCH):
            bucket = client.bucket(bucket_name)
            batch = client.batch(raise_exception=False)
            with batch:
                for name in names:
                    bucket.delete_blob(name)
            # The client keeps each call's answer in order (Beam's GcsIO reads them so too).
            for name, answer in zip(names, batch._responses, strict=True):
                if answer.status_code >= 400 and answer.status_code != 404:
                    failures[f"gs://{bucket_name}/{name}"] = f"HTTP {answer.status_code}"
    if failures:
        raise _failed(failures)


@contextlib.contextmanager
def _gcs_errors(what: str) -> Iterator[None]:
    """The client's failures (HTTP, transport, credentials) as OSError, as Beam's own
    filesystems raise them, naming what was being done."""
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError
    from requests.exceptions import RequestException

    try:
        yield
    except (GoogleAPIError, GoogleAuthError, RequestException) as error:
        raise OSError(f"{what}: {type(error).__name__}: {error}") from error


def create_generation(path: str, data: bytes) -> int | None:
    """Create the GCS object ``path`` holding ``data`` unless one is there: its generation,
    or None when another writer's object is there (created first, if two raced)."""
    return _upload_if(path, data, 0)


def replace_generation(path: str, data: bytes, generation: int) -> int | None:
    """Replace the GCS object ``path`` with ``data`` if it is still at ``generation``: its
    new generation, or None when it was changed or deleted since."""
    return _upload_if(path, data, generation)


def _upload_if(path: str, data: bytes, generation: int) -> int | None:
    from google.api_core.exceptions import PreconditionFailed

    bucket, name = _split(path)
    with _gcs_errors(f"writing {path}"):
        blob = gcs_client().bucket(bucket).blob(name)
        try:
            blob.upload_from_string(
                data, content_type="application/json", if_generation_match=generation
            )
        except PreconditionFailed:
            return None
        return int(blob.generation)
