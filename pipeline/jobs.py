"""One batch run from the driver, under the lake's writer lease: repair what an earlier writer
left, check the run id, skip what the lake already holds, run the pipeline, verify, commit.
``feedlake run`` does this once; ``feedlake watch`` once per batch.

Guarantees: nothing is written to the lake before the lease is held (and nothing at all when
the run id is taken by another request); a run id that a committed run has is never used
again, except by a retry of the same request, which changes nothing and reports the earlier
run; a run that fails commits nothing (its manifest says why); a run that read nothing new
and met no failed feed writes no manifest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from connectors.drops import file_metadata, file_sha256
from pipeline.factory import JobConfig, build_pipeline
from pipeline.lake.commit import (
    CommitFailed,
    DamagedRun,
    abandon_run,
    commit_run,
    manifest_path,
    open_run,
    reached,
    recover,
    staging_folder,
    stamped_id,
)
from pipeline.lake.confine import DamagedLakeFile, OutsideLake
from pipeline.lake.documents import read_document, write_json
from pipeline.lake.feed_state import save_feed_state
from pipeline.lake.files import LakeOutput
from pipeline.lake.history import CATALOG_FOLDER, INDEX_FOLDER
from pipeline.lake.index import stage_catalog
from pipeline.lake.lease import LeaseLost, WriterLease
from pipeline.lake.manifest import already_ingested, brought_nothing, build_manifest, ingested_drops
from pipeline.lake.meta import upgrade
from pipeline.lake.staging import remove_parts
from pipeline.lake.tiers import merge_tiers

__all__ = [
    "Job",
    "JobFailed",
    "Outcome",
    "RunIdTaken",
    "check_run_id",
    "execute",
    "new_run_id",
    "repair",
    "request_digest",
    "run_batch",
    "skip_ingested",
    "writing",
]

_LOG = logging.getLogger("feedlake")


class JobFailed(RuntimeError):
    """The run did not commit; the message says why and where to look."""


class RunIdTaken(ValueError):
    """The run id belongs to a committed run of another request."""


@dataclasses.dataclass(frozen=True)
class Job:
    """A prepared run: its config, Beam options and how many drop files it reads."""

    config: JobConfig
    options: PipelineOptions
    drop_count: int
    started: dt.datetime

    @property
    def runner(self) -> str:
        return self.options.view_as(StandardOptions).runner or "DirectRunner"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a batch ended: ``succeeded`` (committed), ``nothing_new`` (no manifest), or
    ``already_committed`` (a retry of a committed run: ``manifest`` is the earlier run's)."""

    status: str
    manifest: dict[str, Any] | None
    skipped: dict[str, str]


def new_run_id(started: dt.datetime) -> str:
    """The start time in UTC (to the millisecond) and a random suffix: sortable and unique."""
    return stamped_id(started)


def request_digest(request: dict[str, Any]) -> str:
    """The SHA-256 of a request, the same for the same request whatever its key order."""
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode("utf-8")).hexdigest()


def check_run_id(config: JobConfig) -> dict[str, Any] | None:
    """The committed run that already has this run id, if it ran the same request.

    Raises:
        RunIdTaken: a committed run has this id and ran another request.
    """
    path = manifest_path(config.lake, config.run.run_id)
    if not FileSystems.exists(path):
        return None
    earlier = read_document(path, "a run manifest")
    if earlier.get("status") != "succeeded":
        return None  # a failed run committed nothing: its id may be used again
    if request_digest(earlier.get("request") or {}) == request_digest(config.request):
        return earlier
    raise RunIdTaken(
        f"run id {config.run.run_id!r} is taken: a run committed with it at "
        f"{earlier.get('finished', '?')} read other inputs or options ({path}); run ids are "
        "unique for ever: give another --run-id, or none for a generated one"
    )


def skip_ingested(job: Job, quiet: bool = False) -> tuple[Job, dict[str, str]]:
    """The job without the drops a committed run already read, and those drops' run ids.

    ``quiet`` logs the skips at DEBUG (a watcher would repeat them every poll).
    """
    drops = list(job.config.drops)
    if not drops:
        return job, {}
    digest = functools.partial(file_sha256, max_bytes=job.config.max_drop_bytes)
    skipped = already_ingested(drops, ingested_drops(job.config.lake), file_metadata(drops), digest)
    log = _LOG.debug if quiet else _LOG.info
    for path, earlier in skipped.items():
        log("skip %s: already ingested by run %s (--reprocess to read it again)", path, earlier)
    remaining = tuple(path for path in drops if path not in skipped)
    config = dataclasses.replace(job.config, drops=remaining, skipped=skipped)
    return dataclasses.replace(job, config=config, drop_count=len(remaining)), skipped


def repair(lake: str, command: str, wait: float = 0.0) -> None:
    """Under the lease, finish or undo what earlier writers left (:func:`recover`), and bring
    a lake of an earlier format up to date (:func:`~pipeline.lake.meta.upgrade`)."""
    with writing(lake, command, wait):
        pass


@contextlib.contextmanager
def writing(
    lake: str, command: str, wait: float = 0.0, run_id: str | None = None
) -> Iterator[WriterLease]:
    """The lake's writer lease, taken (waiting up to ``wait`` seconds), held while the lake is
    repaired and brought up to date (as :func:`repair`) and while the caller writes; released
    at the end.

    Raises:
        LeaseError: another writer holds the lake, or its lease file cannot be read.
        JobFailed: the lake cannot be written.
    """
    with WriterLease(lake, command, run_id) as lease:
        _acquire(lease, wait)
        _recover_logged(lake)
        upgrade(lake, lease)
        yield lease


def _acquire(lease: WriterLease, wait: float) -> None:
    try:
        lease.acquire(wait)
    except OSError as error:  # the first write a run makes: a lake it cannot write stops here
        raise JobFailed(
            f"cannot write to the lake {lease.lake}: {error.strerror or error} "
            f"({getattr(error, 'filename', None) or lease.lake}); check that it is writable "
            "(permissions, a read-only mount, the bucket's policy); nothing was changed"
        ) from error


def _recover_logged(lake: str) -> None:
    try:
        repaired_runs = recover(lake)
    except DamagedRun as damaged:
        raise JobFailed(str(damaged)) from damaged
    for repaired in repaired_runs:
        if repaired.action == "finished":
            _LOG.warning(
                "run %s had committed but not finished (killed?): published its %d files",
                repaired.run_id,
                repaired.files,
            )
        else:
            _LOG.warning(
                "run %s never committed (killed?): removed what it staged%s",
                repaired.run_id,
                f" and its {repaired.files} published files" if repaired.files else "",
            )


def run_batch(
    job: Job,
    command: str = "run",
    wait: float = 0.0,
    reprocess: bool = False,
    quiet_skips: bool = False,
) -> Outcome:
    """Take the lease (waiting up to ``wait`` seconds), repair, then run ``job``.

    Raises:
        RunIdTaken: the run id belongs to a committed run of another request.
        LeaseError: another writer holds the lake (:class:`~pipeline.lake.lease.LeaseHeld`)
            or its lease file cannot be read.
        JobFailed: the run failed; nothing of it was committed.
    """
    config = job.config
    check_run_id(config)  # refused before anything is written
    with writing(config.lake, command, wait, config.run.run_id) as lease:
        if (earlier := check_run_id(config)) is not None:
            return Outcome("already_committed", earlier, {})
        skipped: dict[str, str] = {}
        if not reprocess:
            job, skipped = skip_ingested(job, quiet_skips)
            if not job.config.drops and not job.config.feeds:
                return Outcome("nothing_new", None, skipped)
        manifest = execute(job, lease)
        if brought_nothing(manifest):
            return Outcome("nothing_new", manifest, skipped)
        _merge_tiers(config.lake, lease, manifest)
        return Outcome("succeeded", manifest, skipped)


def _merge_tiers(lake: str, lease: WriterLease, manifest: dict[str, Any]) -> None:
    """Merge the index and catalog folders the run added to, where a tier is full."""
    folders = sorted(
        {
            output["path"][len(lake) :].strip("/").rsplit("/", 1)[0]
            for output in manifest["outputs"]
            if output["kind"] in (INDEX_FOLDER, CATALOG_FOLDER)
        }
    )
    try:
        merge_tiers(lake, lease, folders=folders)
    except (OSError, LeaseLost) as error:  # the run stands; the next one merges
        _LOG.warning("lake %s: index files not merged (%s); the next run tries again", lake, error)


def _lost(lease: WriterLease, run_id: str, lost: LeaseLost) -> JobFailed:
    """The failure of a run whose writer lost the lease, once what it staged is removed."""
    assert lease.generation is not None
    abandon_run(lease.lake, run_id, lease.generation)
    return JobFailed(f"run {run_id} did not commit: {lost}")


def _check_still_held(lease: WriterLease, run_id: str) -> None:
    try:
        lease.check()
    except LeaseLost as lost:
        raise _lost(lease, run_id, lost) from lost


def execute(job: Job, lease: WriterLease) -> dict[str, Any]:
    """Run the pipeline into the run's staging folder, verify its output and commit it.

    Raises:
        JobFailed: the pipeline failed, its output does not add up, or the lease was lost.
    """
    config = dataclasses.replace(job.config, lease_generation=lease.generation)
    run_id, generation = config.run.run_id, lease.generation
    _LOG.info(
        "run %s: %d drop(s), %d feed(s) into %s on %s",
        run_id,
        job.drop_count,
        len(config.feeds),
        config.lake,
        job.runner,
    )
    pipeline = beam.Pipeline(options=job.options)
    build_pipeline(pipeline, config)
    open_run(config.lake, run_id, job.started.isoformat(), lease)
    try:
        state = pipeline.run().wait_until_finish()
    except Exception as error:  # the runner's failure, whatever its type, ends the run
        abandon_run(config.lake, run_id, generation)
        if isinstance(error, DamagedLakeFile):  # a file of the lake: said in one line, as is
            raise
        raise JobFailed(
            f"run {run_id} failed in the pipeline: {type(error).__name__}: {error}; "
            "nothing was committed; rerun with --verbose for Beam's log"
        ) from error
    if state not in (None, "DONE"):
        abandon_run(config.lake, run_id, generation)
        raise JobFailed(f"run {run_id} ended in state {state}; nothing was committed")
    reached("staged")
    staging = staging_folder(config.lake, run_id, generation)
    remove_parts(staging)
    manifest = build_manifest(
        config.lake,
        run_id,
        generation,
        config.request,
        job.started,
        job.runner,
        expected_drops=job.drop_count,
        expected_feeds=len(config.feeds),
        skipped=config.skipped,
    )
    if manifest["problems"]:
        _check_still_held(lease, run_id)  # a writer taken over lost its staging: no record
        write_json(manifest_path(config.lake, run_id), manifest)  # the record of why
        abandon_run(config.lake, run_id, generation)
        raise JobFailed(
            f"run {run_id} failed: {'; '.join(manifest['problems'])}; nothing was committed; "
            f"manifest: {manifest_path(config.lake, run_id)}"
        )
    if brought_nothing(manifest):
        # Every item the feeds served is in the lake already: their validators move on, and
        # no manifest records a run that changed nothing.
        save_feed_state(config.lake, [i for i in manifest["inputs"] if i["type"] == "feed"])
        abandon_run(config.lake, run_id, generation)
        return manifest
    catalog = stage_catalog(LakeOutput(config.lake, staging, run_id), manifest)
    if catalog is not None:
        manifest["outputs"].append(catalog)
        manifest["counts"]["files"] += 1
    try:
        commit_run(config.lake, manifest, lease)
    except LeaseLost as lost:
        raise _lost(lease, run_id, lost) from lost
    except CommitFailed as failed:
        abandon_run(config.lake, run_id, generation)
        raise JobFailed(f"run {run_id} did not commit: {failed}; nothing was committed") from failed
    except OutsideLake:  # a link where the run publishes: its staging goes, unless committed
        abandon_run(config.lake, run_id, generation)
        raise
    except OSError as error:  # after the commit point: the next writer finishes the run
        raise JobFailed(
            f"run {run_id} committed, but making its files visible failed: {error}; the next "
            "feedlake run on this lake finishes it"
        ) from error
    return manifest
