"""The commit protocol: a run's changes become visible all at once, at one commit point.

Guarantees: until it commits, nothing a run writes is outside its staging folder
``<lake>/_staging/<run_id>@<lease generation>/`` (data files, parts, reports, the index and
catalog files it adds, the feed state it learned), so readers see none of it. The commit is
the exclusive creation of the run's decision, ``<lake>/_commits/<run_id>@<generation>.json``,
holding its manifest (:mod:`pipeline.lake.fencing`): a writer that lost the lease and whose
run the next writer abandoned cannot commit it. The manifest, which lists every file the run
made and, for a compaction or an upgrade, every file those replace, is then written to
``<lake>/_runs/<run_id>.json`` with ``status: succeeded``, where readers find it. After it,
the run *finishes*: each staged file is renamed into its partition, the files it replaces are
deleted, the feed state is saved, the staging folder is removed. Each
finishing step can be done again with the same result, so a writer that dies at any point
leaves a lake the next writer repairs, under the writer lease, before it does anything else
(:func:`recover`): a committed run is finished, an uncommitted one abandoned and removed.
Recovery runs only under the lease, so the only live run it can meet is one whose writer lost
the lease (paused past its expiry), and that run is abandoned before anything of it goes.

Crash points: the crash tests set ``FEEDLAKE_CRASH_AT`` to one of :data:`CRASH_POINTS`, and
the process ends there at once (``os._exit``: no cleanup runs, as with SIGKILL). The fencing
tests set ``FEEDLAKE_PAUSE_AT`` to one, and the process stops itself there (SIGSTOP) until
it is sent SIGCONT. Both are for tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import logging
import os
import re
import signal
import uuid
from collections.abc import Iterator
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.lake import fencing
from pipeline.lake.confine import check_manifest, check_run_name, damaged, real_folder
from pipeline.lake.description import COMMIT_PROTOCOL, write_description
from pipeline.lake.documents import read_document, write_json
from pipeline.lake.feed_state import save_feed_state
from pipeline.lake.fileops import (
    is_local,
    local_files,
    make_top_folder,
    publish,
    remove_files,
    remove_folder,
    sync_lake,
)
from pipeline.lake.files import counted
from pipeline.lake.history import INDEX_FOLDER
from pipeline.lake.lease import LeaseLost, WriterLease
from pipeline.lake.names import parse_staging_name, staging_name
from pipeline.lake.paths import staged_file, staged_name
from pipeline.lake.storage import delete_exactly, files_below

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
    "make_staging",
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
    "synced",  # every staged file is durable, the lease not yet checked
    "checked",  # the lease is checked, the run not yet decided
    "committed",  # the run's decision is made: the commit point
    "recorded",  # the manifest is written in _runs/
    "published_one",  # one staged file is renamed into place, the others not
    "published",  # every file is in place, not yet synced
    "published_synced",  # every file is in place and durable, the feed state not saved
    "state_saved",  # the feed state is saved, the staging folder still there
    "cleaning",  # the staging folder's files are deleted, the folder not
)
CRASH_EXIT = 86
_DATA_KINDS = ("articles", "duplicates", "rejects")
_LOG = logging.getLogger("feedlake")


def reached(point: str) -> None:
    """A crash point: the process ends here when ``FEEDLAKE_CRASH_AT`` names it, and stops
    itself here when ``FEEDLAKE_PAUSE_AT`` does."""
    if os.environ.get("FEEDLAKE_CRASH_AT") == point:
        os._exit(CRASH_EXIT)
    if os.environ.get("FEEDLAKE_PAUSE_AT") == point:
        os.kill(os.getpid(), signal.SIGSTOP)


def stamped_id(started: dt.datetime, kind: str = "") -> str:
    """A run id (or a compaction's, an upgrade's: ``kind``) that sorts in start order: the
    UTC start time to the millisecond, then a random suffix."""
    stamp = f"{started:%Y%m%dT%H%M%S}{started.microsecond // 1000:03d}Z"
    return "-".join(part for part in (stamp, kind, uuid.uuid4().hex[:8]) if part)


def operation_id(kind: str) -> str:
    """The id of a lake operation that is not a run (a compaction, an index merge, an
    upgrade): stamped like a run id, so that manifests sort in the order they were written."""
    return stamped_id(dt.datetime.now(dt.timezone.utc), kind)


def staging_folder(lake: str, run_id: str, generation: int | None) -> str:
    """The private folder inside the lake of the run made under lease ``generation`` (None: a
    run of commit protocol 3 or earlier, staged in ``_staging/<run_id>``); readers never look
    below ``_staging``."""
    name = run_id if generation is None else staging_name(run_id, generation)
    return FileSystems.join(lake, STAGING, name)


def make_staging(lake: str, run_id: str, generation: int | None) -> str:
    """The staging folder of a run (:func:`staging_folder`), with ``_staging`` made and marked
    as the top of a hierarchy, so that each run's folder, and the thousands of files and
    folders it stages, land in a block group away from what earlier runs removed
    (:func:`~pipeline.lake.fileops.make_top_folder`)."""
    make_top_folder(FileSystems.join(lake, STAGING))
    return staging_folder(lake, run_id, generation)


def manifest_path(lake: str, run_id: str) -> str:
    return FileSystems.join(lake, "_runs", f"{run_id}.json")


def staged_path(lake: str, staging: str, path: str, protocol: int = COMMIT_PROTOCOL) -> str:
    """Where the run whose staging folder is ``staging`` stages the file it publishes at
    ``path`` (a path below ``lake``), under the commit protocol ``protocol`` (a run that
    crashed under an earlier one is finished where it staged its files)."""
    relative = path[len(lake) :].lstrip("/")
    if protocol in (3, 4):  # flat, in one folder
        return f"{staging}/files/{staged_name(relative)}"
    return staged_file(staging, relative)  # in a tree like the lake's (protocols 2 and 5)


def _staging_of(lake: str, manifest: dict[str, Any]) -> str:
    """The staging folder of the run of ``manifest``, under the protocol it was made by."""
    protocol = manifest.get("commit_protocol", 1)
    generation = manifest.get("lease_generation") if protocol >= 4 else None
    return staging_folder(lake, manifest["run_id"], generation)


def open_run(lake: str, run_id: str, started: str, lease: WriterLease) -> None:
    """Open the run: its marker says it has not committed, under which protocol and lease."""
    marker = FileSystems.join(make_staging(lake, run_id, lease.generation), RUNNING_MARKER)
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
    """Commit a verified run (made under ``lease``), then finish it.

    Raises:
        LeaseLost: another writer took the lease over, or abandoned the run; nothing is
            committed.
        CommitFailed: the run's decision could not be written; nothing is committed.
        OSError: writing the manifest or finishing failed after the commit; the next
            writer's :func:`recover` finishes the run.
    """
    assert lease.generation is not None
    manifest["lease_generation"] = lease.generation
    reached("verified")
    _remove_unlisted(lake, manifest, lease.generation)
    _lake_folders(lake, manifest)  # no link where the run publishes: refused before the commit
    sync_lake(lake)  # what the manifest lists is on the disk before the commit is
    reached("synced")
    lease.check()  # a writer that lost its lease does not try to commit
    reached("checked")
    staged = staging_name(manifest["run_id"], lease.generation)
    try:
        fencing.commit(lake, staged, manifest)  # and cannot, once the next writer abandoned it
    except fencing.Abandoned as abandoned:
        raise LeaseLost(f"lake {lake}: lost the writer lease: {abandoned}") from None
    except OSError as error:
        raise CommitFailed(f"its decision could not be written: {error}") from error
    reached("committed")
    write_json(manifest_path(lake, manifest["run_id"]), manifest)
    reached("recorded")
    finish_run(lake, manifest)


def _remove_unlisted(lake: str, manifest: dict[str, Any], generation: int) -> None:
    """Remove any file staged among the run's files that its manifest does not list (none,
    unless a worker wrote a file and the run did not report it): a folder published whole
    carries every file below it into the lake, and the lake holds only what manifests list."""
    if not is_local(lake):
        return  # object stores publish file by file: what is not listed stays in staging
    staging = staging_folder(lake, manifest["run_id"], generation)
    listed = {staged_path(lake, staging, output["path"]) for output in manifest["outputs"]}
    for path in local_files(f"{staging}/files"):
        if path not in listed:
            _LOG.warning("%s was staged but is not in the run's manifest: removed", path)
            os.unlink(path)


def finish_run(lake: str, manifest: dict[str, Any], check: bool = False) -> None:
    """Make a committed run's changes visible and remove its staging; safe to repeat.

    Raises:
        DamagedRun: with ``check``, a file the run publishes is not whole (missing, not
            Avro, or not the records the manifest states); the run stays staged, so that
            every writer says so until someone restores the files or removes the run.
    """
    run_id = manifest["run_id"]
    protocol = manifest.get("commit_protocol", 1)
    staging = _staging_of(lake, manifest)
    # What a compaction (an index merge, an upgrade) replaces goes folder by folder, right
    # after that folder's new files are in: a reader listing a folder meanwhile sees both for
    # the time of one folder's renames and deletes, never neither.
    replaced: dict[str, list[str]] = {}
    for path in manifest.get("replaced", []):
        replaced.setdefault(path.rsplit("/", 1)[0], []).append(path)
    outputs = sorted(manifest.get("outputs", []), key=lambda output: output["path"])
    made = _lake_folders(lake, manifest)  # the folders made or found so far: each made once
    moved: set[str] = set()  # the folders renamed into the lake whole, with their files
    whole_folders = protocol >= 5 and is_local(lake)
    for n, output in enumerate(outputs):
        path = output["path"]
        if not whole_folders or not _publish_folder(lake, staging, path, made, moved):
            publish(staged_path(lake, staging, path, protocol), path, made)
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
    _remove_staging(lake, staging)
    if protocol >= 4:
        fencing.forget_commit(lake, staging_name(run_id, manifest["lease_generation"]))


def _publish_folder(lake: str, staging: str, path: str, made: set[str], moved: set[str]) -> bool:
    """Publish the file at ``path`` (below ``lake``) by renaming the highest folder above it
    that the lake does not have yet, with everything staged below it (a new day's partition
    folders and files: one rename); whether it is published (False: every folder above it is
    in the lake, the file goes on its own). Each folder is looked at once: ``made`` holds the
    folders found in the lake, ``moved`` those renamed whole."""
    for folder in _folders_above(lake, path):
        if folder in moved:
            return True
        if folder in made:
            continue
        if real_folder(folder, lake):  # a folder another writer made meanwhile
            made.add(folder)
            continue
        staged = staged_file(staging, folder[len(lake) :].lstrip("/"))
        try:
            os.rename(staged, folder)
        except FileNotFoundError:
            message = f"{staged} is missing and {folder} was never published"
            raise FileNotFoundError(message) from None
        moved.add(folder)
        return True
    return False


def _folders_above(lake: str, path: str) -> Iterator[str]:
    """The folders between ``lake`` and the file at ``path`` below it, from the root down."""
    folder = lake.rstrip("/")
    for name in path[len(folder) :].strip("/").split("/")[:-1]:
        folder = f"{folder}/{name}"
        yield folder


def _lake_folders(lake: str, manifest: dict[str, Any]) -> set[str]:
    """The folders of the local ``lake`` that are there above the files ``manifest`` publishes
    or replaces (none on object stores), each looked at once, from the root down.

    Raises:
        OutsideLake: one of them is a symbolic link, which would carry the run's renames and
            deletes to where it points.
    """
    found: set[str] = set()
    if not is_local(lake):
        return found
    paths = [output["path"] for output in manifest.get("outputs", [])]
    missing: set[str] = set()
    for path in [*paths, *manifest.get("replaced", [])]:
        for folder in _folders_above(lake, path):
            if folder in found:
                continue
            if folder in missing or not real_folder(folder, lake):
                missing.add(folder)
                break  # nothing is below a folder that is not there
            found.add(folder)
    return found


def _delete_existing(paths: list[str]) -> None:
    delete_exactly(paths)  # by name, a batch a request; those already gone are fine


def abandon_run(lake: str, run_id: str, generation: int) -> None:
    """Remove everything an uncommitted run made under lease ``generation`` staged; a run
    whose commit went through although its writer heard no answer is left to the next
    writer's :func:`recover`, which finishes it."""
    decided = fencing.decision_of(lake, staging_name(run_id, generation))
    if decided is None or decided["decision"] != fencing.COMMITTED:
        _remove_staging(lake, staging_folder(lake, run_id, generation))


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
    for run_id, generation in [check_staged(lake, name) for name in staged_runs(lake)]:
        if generation is not None:
            done.append(_recover_decided(lake, run_id, generation))
            continue
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
        _remove_staging(lake, staging_folder(lake, run_id, None))
        done.append(Recovered(run_id, "undone", removed))
    return done


def _recover_decided(lake: str, run_id: str, generation: int) -> Recovered:
    """Finish a run of protocol 4 its writer committed; abandon one it did not (so that its
    writer, if it still runs, can no longer commit it) and remove what it staged."""
    decided = fencing.abandon(lake, staging_name(run_id, generation))
    manifest = decided.get("manifest") if decided is not None else None
    if decided is None or decided["decision"] != fencing.COMMITTED or manifest is None:
        _remove_staging(lake, staging_folder(lake, run_id, generation))
        committed = decided is not None and decided["decision"] == fencing.COMMITTED
        return Recovered(run_id, "finished" if committed else "undone", 0)
    path = manifest_path(lake, run_id)
    manifest = check_manifest(lake, manifest, path)  # as written there by its writer, or now
    write_json(path, manifest)  # the same manifest, if its writer did
    finish_run(lake, manifest, check=True)
    return Recovered(run_id, "finished", len(manifest.get("outputs", [])))


def damaged_outputs(manifest: dict[str, Any]) -> list[str]:
    """The files of a committed run that are missing, unreadable, or hold another number of
    records than its manifest states, each with what is wrong."""
    damaged = []
    for output in manifest.get("outputs", []):
        path, expected = output["path"], output.get("records")
        found, problem = counted(path)
        if problem is not None:
            damaged.append(f"{path} {problem}")
        elif expected is not None and found != expected:
            damaged.append(f"{path} holds {found} records, the manifest says {expected}")
    return damaged


def check_staged(lake: str, name: str) -> tuple[str, int | None]:
    """The run id and lease generation of ``name``, an entry of ``_staging``, when it is a
    run's staging folder: ``<run id>@<generation>``, or ``<run id>`` (generation None) for a
    run of commit protocol 3 or earlier.

    Raises:
        DamagedLakeFile: it is no name feedlake makes, or (local disk) not a folder.
        OutsideLake: (local disk) it is a symbolic link.
    """
    folder = FileSystems.join(lake, STAGING, name)
    run_id, generation = parse_staging_name(name) or (check_run_name(name, folder), None)
    if is_local(folder) and not real_folder(folder, lake):
        raise damaged(folder, "is a file where a run's staging folder belongs")
    return run_id, generation


def staged_runs(lake: str) -> list[str]:
    """The name of every folder in ``_staging`` holding files, or (local disk) any folder;
    unchecked: :func:`recover` checks each is a run id before it acts on it."""
    root = FileSystems.join(lake, STAGING)
    runs = {
        metadata.path[len(root) :].lstrip("/").split("/", 1)[0] for metadata in files_below(root)
    }
    if "://" not in lake and os.path.isdir(root):
        runs.update(os.listdir(root))
    return sorted(run for run in runs if run)


def _undo_protocol_1(lake: str, run_id: str) -> int:
    """Remove the files a run of the first protocol published before it was killed (it
    renamed them into place before committing). A run of today's protocol published none."""
    marker = FileSystems.join(staging_folder(lake, run_id, None), RUNNING_MARKER)
    if not FileSystems.exists(marker):
        return 0
    if read_document(marker, "a run's marker").get("commit_protocol", 1) != 1:
        return 0
    name = re.compile(re.escape(run_id) + r"-\d{5}-of-\d{5}\.avro")  # the run's, by name
    found = [files_below(FileSystems.join(lake, kind), "**/*.avro") for kind in _DATA_KINDS]
    found.append(files_below(FileSystems.join(lake, INDEX_FOLDER), "*.avro"))
    published = [
        metadata.path
        for listed in found
        for metadata in listed
        if name.fullmatch(metadata.path.rsplit("/", 1)[-1])
    ]
    delete_exactly(published)
    return len(published)


def _remove_staging(lake: str, folder: str) -> None:
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
