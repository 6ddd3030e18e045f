"""Compaction: a partition folder's many small files merged into few large ones, as one commit.

Guarantees: every record of a merged file is in exactly one of the files that replace it
(merged block by block, :mod:`pipeline.lake.merge`); before the commit, the records of each
new file, counted from its Avro framing, equal those of the files it replaces, else nothing
is committed. The new files are staged and committed like a run's
(:mod:`pipeline.lake.commit`: a manifest of kind ``compaction`` listing the files written as
``outputs`` and the files merged as ``replaced``), so a crash at any step leaves, once the
next writer has recovered, either the old files or the new, never both and never neither.
Memory holds a block of a file at a time, never a folder.

What is merged: in each folder of ``articles/``, ``duplicates/`` and ``rejects/`` (those of
a ``dt=`` between ``since`` and ``until`` when given), the files smaller than the target
size, in name order (the order runs wrote them), packed into as few files of at most the
target size as the greedy order allows; a folder with one such file is left alone, so with
the default target a compacted folder holds one file and a second compaction does nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.lake import tiers
from pipeline.lake.commit import (
    CommitFailed,
    abandon_run,
    commit_run,
    open_run,
    operation_id,
    operation_manifest,
    reached,
    staging_folder,
)
from pipeline.lake.files import CODECS, LakeOutput, StagedFile
from pipeline.lake.history import tiered_files
from pipeline.lake.lease import WriterLease
from pipeline.lake.merge import (
    CompactionFailed,
    SourceFile,
    count_records,
    merge_into,
    read_source,
)
from pipeline.lake.meta import layout_of
from pipeline.lake.paths import PARTITION_KEYS, file_name
from pipeline.lake.storage import files_below

__all__ = [
    "DATA_KINDS",
    "DEFAULT_TARGET_MB",
    "Compacted",
    "CompactionFailed",
    "CompactionSchedule",
    "Merge",
    "Plan",
    "SourceFile",
    "compact_lake",
    "in_range",
    "last_compaction",
    "pack",
    "plan_compaction",
]

DATA_KINDS = ("articles", "duplicates", "rejects")
# Query engines read files of 128 MB to 1 GB best (Spark splits at 128 MB, DuckDB reads a
# file per thread); a lake's partition folder of a day rarely holds more than this.
DEFAULT_TARGET_MB = 256
PROGRESS_SECONDS = 10.0
_KIND = "compaction"  # the manifest's kind, and the middle of its id
_MB = 1_000_000
_LOG = logging.getLogger("feedlake")


@dataclasses.dataclass(frozen=True)
class Merge:
    """Files of one folder that become one file; ``destination`` is the folder below the
    lake (``articles/dt=2025-08-01/region=asia/topic=politics``)."""

    destination: str
    sources: tuple[SourceFile, ...]

    @property
    def size(self) -> int:
        return sum(source.size for source in self.sources)


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a compaction merges, folder by folder: data files, then index and catalog files
    (each such folder into one file, :func:`~pipeline.lake.tiers.merge_tiers`)."""

    merges: tuple[Merge, ...]
    folders_seen: int  # data folders in the range, merged or not
    index_merges: tuple[tiers.Merge, ...] = ()

    @property
    def folders(self) -> list[str]:
        return sorted({merge.destination for merge in self.merges})

    @property
    def files(self) -> int:
        return sum(len(merge.sources) for merge in self.merges)

    @property
    def size(self) -> int:
        return sum(merge.size for merge in self.merges)

    def summary(self) -> dict[str, Any]:
        """What the plan merges: folders (of those in the range), files and bytes, and the
        files they become."""
        return {
            "folders": len(self.folders),
            "folders_seen": self.folders_seen,
            "files_before": self.files,
            "files_after": len(self.merges),
            "bytes_before": self.size,
            "index_files_before": sum(len(merge.paths) for merge in self.index_merges),
            "index_files_after": len(self.index_merges),
        }


def in_range(destination: str, since: dt.date | None, until: dt.date | None) -> bool:
    """Whether a folder's ``dt=`` lies between ``since`` and ``until`` (both included); every
    folder with neither, none without a ``dt=`` with either."""
    if since is None and until is None:
        return True
    days = [part[3:] for part in destination.split("/") if part.startswith("dt=")]
    try:
        day = dt.date.fromisoformat(days[0])
    except (IndexError, ValueError):  # no dt=, or not a date feedlake wrote
        return False
    return (since is None or since <= day) and (until is None or day <= until)


def pack(sources: list[SourceFile], target: int) -> list[list[SourceFile]]:
    """Files of one folder, in name order, packed greedily into groups whose blocks add up to
    at most ``target`` bytes; files that big already, and groups of one, are left out."""
    groups: list[list[SourceFile]] = [[]]
    held = 0
    for source in sorted(sources, key=lambda source: source.path):
        if source.payload >= target:
            continue
        if held + source.payload > target:
            groups.append([])
            held = 0
        groups[-1].append(source)
        held += source.payload
    return [group for group in groups if len(group) > 1]


def plan_compaction(lake: str, since: dt.date | None, until: dt.date | None, target: int) -> Plan:
    """The merges that compact the lake's data folders in the date range to ``target`` bytes
    a file. Reads the listing and the headers of the files of folders with more than one."""
    folders: dict[str, list[tuple[str, int]]] = {}
    for kind in DATA_KINDS:
        for metadata in files_below(FileSystems.join(lake, kind), "**/*.avro"):
            folder = metadata.path[len(lake) :].strip("/").rsplit("/", 1)[0]
            if in_range(folder, since, until):
                folders.setdefault(folder, []).append((metadata.path, metadata.size_in_bytes))
    merges = []
    for folder, files in sorted(folders.items()):
        if len(files) > 1:
            sources = [read_source(path, size) for path, size in files]
            merges += [Merge(folder, tuple(group)) for group in pack(sources, target)]
    index_merges = []
    for folder in tiers.tiered_folders(lake):
        if in_range(folder, since, until):
            paths = tiered_files(FileSystems.join(lake, *folder.split("/")))
            index_merges += tiers.plan_merges(folder, paths, full=True)
    return Plan(tuple(merges), len(folders), tuple(index_merges))


def _codec(merge: Merge) -> str:
    """The codec of the merged file: its files' when they share one, else the default."""
    codecs = {source.codec for source in merge.sources}
    return codecs.pop() if len(codecs) == 1 and codecs <= set(CODECS) else CODECS[0]


def stage_merges(
    output: LakeOutput, merges: tuple[Merge, ...], progress: Callable[[Merge], None]
) -> list[dict[str, Any]]:
    """Stage each merge as a file named for the operation (``<id>-<n>-of-<k>.avro``, ``k``
    the merges of its folder), check its records against its sources', and return the
    manifest's output entries.

    Raises:
        CompactionFailed: a file cannot be read, or a merged file's count is wrong.
    """
    by_folder: dict[str, list[Merge]] = {}
    for merge in merges:
        by_folder.setdefault(merge.destination, []).append(merge)
    outputs = []
    for folder, folder_merges in by_folder.items():
        for shard, merge in enumerate(folder_merges):
            name = file_name(output.run_id, shard, len(folder_merges))
            staged = StagedFile(output, folder, name, _codec(merge))
            expected = sum(count_records(source.path) for source in merge.sources)
            for source in merge.sources:
                merge_into(staged, source.path)
            published = staged.close()
            counted = count_records(staged.staged)
            if not expected == staged.count == counted:
                raise CompactionFailed(
                    f"{folder}: the merged file {staged.staged} holds {counted} records "
                    f"({staged.count} written) where its {len(merge.sources)} files hold "
                    f"{expected}; nothing was committed, the lake is unchanged"
                )
            size = FileSystems.get_filesystem(staged.staged).size(staged.staged)
            outputs.append({**dataclasses.asdict(published), "records": counted, "bytes": size})
            progress(merge)
    return outputs


class Progress:
    """A line every ``every`` seconds while a compaction runs: folders and MB done."""

    def __init__(self, plan: Plan, every: float = PROGRESS_SECONDS, clock=time.monotonic):
        self.plan, self.every, self.clock = plan, every, clock
        self.last = clock()
        self.folders: set[str] = set()
        self.bytes = 0

    def __call__(self, merge: Merge) -> None:
        self.folders.add(merge.destination)
        self.bytes += merge.size
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            _LOG.info(
                "compacting: %d of %d folders, %.1f of %.1f MB",
                len(self.folders),
                len(self.plan.folders),
                self.bytes / _MB,
                self.plan.size / _MB,
            )


@dataclasses.dataclass(frozen=True)
class Compacted:
    """What a compaction did: its plan, the manifests of its data files' merge and of its
    index and catalog files' (each None when there was nothing to merge), its seconds, and
    how long the data files' swap took (the commit: new files renamed into place, then the old
    ones deleted)."""

    plan: Plan
    manifest: dict[str, Any] | None
    index_manifest: dict[str, Any] | None
    seconds: float
    swap_seconds: float

    def summary(self) -> dict[str, Any]:
        """The plan's summary with the bytes written, the run id and the seconds."""
        counts = (self.manifest or {}).get("counts", {})
        return {
            **self.plan.summary(),
            "run_id": (self.manifest or {}).get("run_id"),
            "index_run_id": (self.index_manifest or {}).get("run_id"),
            "bytes_after": counts.get("bytes_after", 0),
            "seconds": round(self.seconds, 3),
            "swap_seconds": round(self.swap_seconds, 3),
        }


def compact_lake(
    lake: str,
    lease: WriterLease,
    since: dt.date | None = None,
    until: dt.date | None = None,
    target_mb: float = DEFAULT_TARGET_MB,
) -> Compacted:
    """Compact the lake's data folders (in the date range) as one commit, then its index and
    catalog folders (those of a ``dt=`` in the range; all without a range) as another; call
    it under the lease, after recovery.

    Raises:
        CompactionFailed: a file cannot be read or a merged file does not add up; nothing
            was committed.
        LeaseLost: another writer took the lease over; nothing was committed.
        OSError: writing failed (nothing committed), or finishing after the commit did (the
            next writer finishes it).
    """
    clock = time.monotonic()
    plan = plan_compaction(lake, since, until, int(target_mb * _MB))
    manifest, swap = None, 0.0
    if plan.merges:
        request = {"since": since and since.isoformat(), "until": until and until.isoformat()}
        manifest, swap = _compact_data(lake, lease, plan, {**request, "target_mb": target_mb})
    index_manifest = None
    if plan.index_merges:
        folders = [merge.folder for merge in plan.index_merges]
        index_manifest = tiers.merge_tiers(lake, lease, full=True, folders=folders)
    return Compacted(plan, manifest, index_manifest, time.monotonic() - clock, swap)


def _compact_data(
    lake: str, lease: WriterLease, plan: Plan, request: dict[str, Any]
) -> tuple[dict[str, Any], float]:
    """Stage, verify and commit the plan's data merges: the committed manifest, and the
    seconds of the commit (the swap)."""
    started = dt.datetime.now(dt.timezone.utc)
    run_id = operation_id(_KIND)
    _LOG.info(
        "compaction %s: %d files (%.1f MB) in %d folders",
        run_id,
        plan.files,
        plan.size / _MB,
        len(plan.folders),
    )
    output = LakeOutput(lake, staging_folder(lake, run_id, lease.generation), run_id)
    open_run(lake, run_id, started.isoformat(), lease)
    try:
        outputs = stage_merges(output, plan.merges, Progress(plan))
    except (CompactionFailed, OSError):
        abandon_run(lake, run_id, lease.generation)
        raise
    reached("staged")
    replaced = [source.path for merge in plan.merges for source in merge.sources]
    counts = {
        "folders": len(plan.folders),
        "files_before": plan.files,
        "files_after": len(outputs),
        "bytes_before": plan.size,
        "bytes_after": sum(output["bytes"] for output in outputs),
        "records": sum(output["records"] for output in outputs),
    }
    manifest = operation_manifest(
        lake,
        run_id,
        _KIND,
        started,
        outputs,
        replaced,
        partition_by=list(layout_of(lake) or PARTITION_KEYS),
        request=request,
        counts=counts,
    )
    swap = time.monotonic()
    try:
        commit_run(lake, manifest, lease)
    except CommitFailed:
        abandon_run(lake, run_id, lease.generation)
        raise
    return manifest, time.monotonic() - swap


def last_compaction(lake: str) -> dt.datetime | None:
    """When the lake's newest compaction started; for a lake never compacted, when its first
    run did (a lake is as compact as it can be then); None when no manifest's name says (run
    ids given with --run-id carry no time). From the names in ``_runs/`` alone."""
    stamps = {}
    for metadata in files_below(FileSystems.join(lake, "_runs"), "*.json"):
        name = metadata.path.rsplit("/", 1)[-1].removesuffix(".json")
        try:
            stamp = dt.datetime.strptime(name.split("-", 1)[0], "%Y%m%dT%H%M%S%fZ")
        except ValueError:
            continue
        stamps[name] = stamp.replace(tzinfo=dt.timezone.utc)
    compactions = [stamps[name] for name in stamps if f"-{_KIND}-" in name]
    if compactions:
        return max(compactions)
    return min(stamps.values(), default=None)


class CompactionSchedule:
    """When a watcher compacts: after a batch, once ``every_hours`` have passed since the
    lake's last compaction (:func:`last_compaction`: its newest compaction, else its first
    run), or since this watcher last tried (a compaction may find nothing to merge and write
    no manifest). ``every_hours`` 0 is never."""

    def __init__(self, every_hours: float, clock: Callable[[], float] = time.time) -> None:
        if every_hours < 0:
            raise ValueError("CompactionSchedule: every_hours must be 0 or more")
        self.every = every_hours * 3600
        self.clock = clock
        self.last: float | None = None

    def due(self, lake: str) -> bool:
        if not self.every:
            return False
        if self.last is None:
            newest = last_compaction(lake)
            self.last = newest.timestamp() if newest else self.clock()
        return self.clock() - self.last >= self.every

    def done(self) -> None:
        """A compaction was tried now (whatever it found)."""
        self.last = self.clock()
