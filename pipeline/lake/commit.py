"""The commit protocol: a run's changes become visible all at once, at one commit point.

Guarantees: until its manifest is written, nothing a run writes is outside its staging folder
``<lake>/_staging/<run_id>/`` (data files, parts, reports, the index and catalog files it
adds, the feed state it learned), so readers see none of it. Writing
``<lake>/_runs/<run_id>.json`` with ``status: succeeded`` is the commit: it lists every file
the run made, and, for a compaction or an upgrade, every file those replace. After it, the
run *finishes*: each staged file is renamed into its partition, the files it replaces are
deleted, the feed state is saved, the staging folder is removed. Each
finishing step can be done again with the same result, so a writer that dies at any point
leaves a lake the next writer repairs, under the writer lease, before it does anything else
(:func:`recover`): a committed run is finished, an uncommitted one removed. Recovery never
touches a live run, because it runs only under the lease that live run would hold.

Crash points: the crash tests set ``FEEDLAKE_CRASH_AT`` to one of :data:`CRASH_POINTS`, and
the process ends there at once (``os._exit``: no cleanup runs, as with SIGKILL).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import logging
import os
import uuid
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.lake.confine import check_manifest, check_run_name, damaged
from pipeline.lake.description import COMMIT_PROTOCOL, write_description
from pipeline.lake.documents import read_document, write_json
from pipeline.lake.feed_state import save_feed_state
from pipeline.lake.fileops import is_local, publish, remove_files, remove_folder, sync_lake
from pipeline.lake.files import count_records
from pipeline.lake.history import INDEX_FOLDER
from pipeline.lake.lease import WriterLease
from pipeline.lake.paths import staged_file
from pipeline.lake.storage import delete_exactly

__all__ = [
    "COMMIT_PROTOCOL",
    "CRASH_POINTS",
    "RUNNING_MARKER",
    "CommitFailed",
    "DamagedRun",
    "Recovered",
    "abandon_run",
    "check_staged",
    "commit_run",
    "finish_run",
    "manifest_path",
    "open_run",
    "operation_id",
    "operation_manifest",
    "recover",
    "staged_path",
    "staged_runs",
    "staging_folder",
    "stamped_id",
]

RUNNING_MARKER = "RUNNING"
STAGING = "_staging"
CRASH_POINTS = (
    "opened",  # the run's marker is written
    "staged",  # the pipeline has written every file into staging
    "verified",  # the manifest is built and checked, not yet written
    "synced",  # every staged file is durable, the manifest not yet written
    "committed",  # the manifest is written: the commit point
    "published_one",  # one staged file is renamed into place, the others not
    "published",  # every file is in place, not yet synced
    "published_synced",  # every file is in place and durable, the feed state not saved
    "state_saved",  # the feed state is saved, the staging folder still there
    "cleaning",  # the staging folder's files are deleted, the folder not
)
CRASH_EXIT = 86
_LOG = logging.getLogger("feedlake")


def reached(point: str) -> None:
    """A crash point: the process ends here when ``FEEDLAKE_CRASH_AT`` names it."""
    if os.environ.get("FEEDLAKE_CRASH_AT") == point:
        os._exit(CRASH_EXIT)


def stamped_id(started: dt.datetime, kind: str = "") -> str:
    """A run id (or a compaction's, an upgrade's: ``kind``) that sorts in start order: the
    UTC start time to the millisecond, then a random suffix."""
    stamp = f"{started:%Y%m%dT%H%M%S}{started.microsecond // 1000:03d}Z"
    return "-".join(part for part in (stamp, kind, uuid.uuid4().hex[:8]) if part)


def operation_id(kind: str) -> str:
    """The id of a lake operation that is not a run (a compaction, an index merge, an
    upgrade): stamped like a run id, so that manifests sort in the order they were written."""
    return stamped_id(dt.datetime.now(dt.timezone.utc), kind)


def staging_folder(lake: str, run_id: str) -> str:
    """The run's private folder inside the lake; readers never look below ``_staging``."""
    return FileSystems.join(lake, STAGING, run_id)


def manifest_path(lake: str, run_id: str) -> str:
    return FileSystems.join(lake, "_runs", f"{run_id}.json")


def staged_path(lake: str, run_id: str, path: str, protocol: int = COMMIT_PROTOCOL) -> str:
    """Where the run stages the file it publishes at ``path`` (a path below ``lake``), under
    the commit protocol ``protocol`` (a run that crashed under an earlier one is finished
    where it staged its files)."""
    relative = path[len(lake) :].lstrip("/")
    if protocol >= 3:
        return staged_file(staging_folder(lake, run_id), relative)
    return FileSystems.join(staging_folder(lake, run_id), "files", *relative.split("/"))


def open_run(lake: str, run_id: str, started: str, lease: WriterLease) -> None:
    """Open the run: its marker says it has not committed, under which protocol and lease."""
    marker = FileSystems.join(staging_folder(lake, run_id), RUNNING_MARKER)
    write_json(
        marker,
        {
            "run_id": run_id,
            "started": started,
            "commit_protocol": COMMIT_PROTOCOL,
            "lease_generation": lease.generation,
        },
    )
    reached("opened")


class CommitFailed(OSError):
    """The manifest could not be written: the run is not committed."""


class DamagedRun(RuntimeError):
    """A committed run's files are not what its manifest says (the disk lost them)."""


def operation_manifest(
    lake: str,
    run_id: str,
    kind: str,
    started: dt.datetime,
    outputs: list[dict[str, Any]],
    replaced: list[str],
    **details: Any,
) -> dict[str, Any]:
    """The manifest of a lake operation that rewrites files rather than reading inputs (a
    compaction, an index merge, an upgrade): what it wrote, and what those replace."""
    finished = dt.datetime.now(dt.timezone.utc)
    return {
        "run_id": run_id,
        "kind": kind,
        "status": "succeeded",
        "problems": [],
        "commit_protocol": COMMIT_PROTOCOL,
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "seconds": round((finished - started).total_seconds(), 3),
        "lake": lake,
        **details,
        "outputs": outputs,
        "replaced": sorted(replaced),
    }


def commit_run(lake: str, manifest: dict[str, Any], lease: WriterLease) -> None:
    """Commit a verified run, then finish it.

    Raises:
        LeaseLost: another writer took the lease over; nothing is committed.
        CommitFailed: the manifest could not be written; nothing is committed.
        OSError: finishing failed after the commit; the next writer's :func:`recover`
            finishes the run.
    """
    reached("verified")
    sync_lake(lake)  # what the manifest lists is on the disk before the manifest is
    reached("synced")
    lease.check()  # a writer that lost its lease must not commit
    path = manifest_path(lake, manifest["run_id"])
    try:
        write_json(path, manifest)
    except OSError as error:
        raise CommitFailed(f"its manifest {path} could not be written: {error}") from error
    reached("committed")
    finish_run(lake, manifest)


def finish_run(lake: str, manifest: dict[str, Any], check: bool = False) -> None:
    """Make a committed run's changes visible and remove its staging; safe to repeat.

    Raises:
        DamagedRun: with ``check``, a file the run publishes is not whole (missing, not
            Avro, or not the records the manifest states); the run stays staged, so that
            every writer says so until someone restores the files or removes the run.
    """
    run_id = manifest["run_id"]
    protocol = manifest.get("commit_protocol", 1)
    # What a compaction (an index merge, an upgrade) replaces goes folder by folder, right
    # after that folder's new files are in: a reader listing a folder meanwhile sees both for
    # the time of one folder's renames and deletes, never neither.
    replaced: dict[str, list[str]] = {}
    for path in manifest.get("replaced", []):
        replaced.setdefault(path.rsplit("/", 1)[0], []).append(path)
    outputs = sorted(manifest.get("outputs", []), key=lambda output: output["path"])
    made: set[str] = set()  # the folders made or found so far: each is made once
    for n, output in enumerate(outputs):
        publish(staged_path(lake, run_id, output["path"], protocol), output["path"], made)
        if n == 0:
            reached("published_one")
        folder = output["path"].rsplit("/", 1)[0]
        if n + 1 == len(outputs) or outputs[n + 1]["path"].rsplit("/", 1)[0] != folder:
            _delete_existing(replaced.pop(folder, []))
    _delete_existing([path for paths in replaced.values() for path in paths])
    reached("published")
    sync_lake(lake)  # every file's new name is on the disk before staging goes
    reached("published_synced")
    if check and (damaged := damaged_outputs(manifest)):
        path = manifest_path(lake, run_id)
        raise DamagedRun(
            f"run {run_id} of the lake {lake} committed ({path}) but {len(damaged)} of its "
            f"files are not whole: {'; '.join(damaged)}. The disk lost what was written to "
            "it; restore those files from a backup, or remove them and the run's manifest "
            "and ingest its inputs again with --reprocess"
        )
    feeds = [entry for entry in manifest.get("inputs", []) if entry.get("type") == "feed"]
    if feeds:
        save_feed_state(lake, feeds)
    reached("state_saved")
    layout = manifest.get("partition_by") or (manifest.get("request") or {}).get("partition_by")
    if layout:
        write_description(lake, tuple(layout))
    _remove_staging(lake, run_id)


def _delete_existing(paths: list[str]) -> None:
    delete_exactly(paths)  # by name, a batch a request; those already gone are fine


def abandon_run(lake: str, run_id: str) -> None:
    """Remove everything an uncommitted run staged."""
    _remove_staging(lake, run_id)


@dataclasses.dataclass(frozen=True)
class Recovered:
    """What recovery did with a run it found in staging."""

    run_id: str
    action: str  # "finished" (committed: made visible) or "undone" (never committed)
    files: int  # files made visible, or files removed


def recover(lake: str) -> list[Recovered]:
    """Finish committed runs and undo uncommitted ones left in ``_staging``; call it only
    under the writer lease, before the run opens.

    Raises:
        DamagedLakeFile: a staged run's manifest or marker cannot be read, a folder in
            ``_staging`` is no run id feedlake makes, or a manifest names a path outside the
            lake (:mod:`pipeline.lake.confine`); nothing was changed for that run.
    """
    done = []
    for run_id in [check_staged(lake, name) for name in staged_runs(lake)]:
        path = manifest_path(lake, run_id)
        manifest = (
            check_manifest(lake, read_document(path, "a run manifest"), path)
            if FileSystems.exists(path)
            else None
        )
        if manifest is not None and manifest.get("status") == "succeeded":
            finish_run(lake, manifest, check=True)
            done.append(Recovered(run_id, "finished", len(manifest.get("outputs", []))))
            continue
        removed = _undo_protocol_1(lake, run_id)
        _remove_staging(lake, run_id)
        done.append(Recovered(run_id, "undone", removed))
    return done


def damaged_outputs(manifest: dict[str, Any]) -> list[str]:
    """The files of a committed run that are missing, unreadable, or hold another number of
    records than its manifest states, each with what is wrong."""
    damaged = []
    for output in manifest.get("outputs", []):
        path, expected = output["path"], output.get("records")
        try:
            found = count_records(path)
        except FileNotFoundError:
            damaged.append(f"{path} is missing")
            continue
        except (OSError, ValueError, EOFError) as error:
            damaged.append(f"{path} does not read back as Avro ({error})")
            continue
        if expected is not None and found != expected:
            damaged.append(f"{path} holds {found} records, the manifest says {expected}")
    return damaged


def check_staged(lake: str, name: str) -> str:
    """``name``, an entry of ``_staging``, when it is a run's staging folder.

    Raises:
        DamagedLakeFile: it is no run id feedlake makes, or (local disk) not a folder.
    """
    folder = staging_folder(lake, name)
    check_run_name(name, folder)
    if is_local(folder) and not os.path.isdir(folder):
        raise damaged(folder, "is a file where a run's staging folder belongs")
    return name


def staged_runs(lake: str) -> list[str]:
    """The name of every folder in ``_staging`` holding files, or (local disk) any folder;
    unchecked: :func:`recover` checks each is a run id before it acts on it."""
    root = FileSystems.join(lake, STAGING)
    runs = {
        metadata.path[len(root) :].lstrip("/").split("/", 1)[0]
        for metadata in FileSystems.match([root + "/**"])[0].metadata_list
    }
    if "://" not in lake and os.path.isdir(root):
        runs.update(os.listdir(root))
    return sorted(run for run in runs if run)


def _undo_protocol_1(lake: str, run_id: str) -> int:
    """Remove the files a run of the first protocol published before it was killed (it
    renamed them into place before committing). A run of today's protocol published none."""
    marker = FileSystems.join(staging_folder(lake, run_id), RUNNING_MARKER)
    if not FileSystems.exists(marker):
        return 0
    if read_document(marker, "a run's marker").get("commit_protocol", 1) != 1:
        return 0
    name = f"{run_id}-*.avro"
    patterns = [
        FileSystems.join(lake, kind, "**", name) for kind in ("articles", "duplicates", "rejects")
    ] + [FileSystems.join(lake, INDEX_FOLDER, name)]
    published = [m.path for p in patterns for m in FileSystems.match([p])[0].metadata_list]
    delete_exactly(published)
    return len(published)


def _remove_staging(lake: str, run_id: str) -> None:
    folder = staging_folder(lake, run_id)
    remove_files(folder)
    reached("cleaning")
    remove_folder(folder)  # the folders left (local disk)
    parent = FileSystems.join(lake, STAGING)
    if is_local(lake):
        try:
            os.rmdir(parent)  # leave no empty _staging behind once no run is staging
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                raise  # not another run staging, nor gone already: a real failure
