"""One batch run from the driver: prepare its config, skip what the lake already holds, run
the pipeline, verify and commit. ``feedlake run`` does this once; ``feedlake watch`` in a loop.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from connectors.drops import file_metadata, file_sha256
from pipeline.factory import JobConfig, build_pipeline
from pipeline.manifest import (
    RunFailed,
    already_ingested,
    finish_run,
    ingested_drops,
    manifest_path,
    mark_running,
    recover_incomplete_runs,
)

__all__ = ["Job", "JobFailed", "execute", "new_run_id", "recover", "skip_ingested"]

_LOG = logging.getLogger("feedlake")


class JobFailed(RuntimeError):
    """The run did not commit; the message says why and where to look."""


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


def new_run_id(started: dt.datetime) -> str:
    """The start time in UTC and a random suffix: sortable and unique."""
    return f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def recover(lake: str) -> None:
    """Undo runs killed before they committed, saying what was removed."""
    for old_run, removed in recover_incomplete_runs(lake).items():
        _LOG.warning(
            "run %s never committed (killed?): removed its %d published files", old_run, removed
        )


def skip_ingested(job: Job, quiet: bool = False) -> tuple[Job, dict[str, str]]:
    """The job without the drops a committed run already read, and those drops' run ids.

    ``quiet`` logs the skips at DEBUG (a watcher would repeat them every poll).
    """
    drops = list(job.config.drops)
    if not drops:
        return job, {}
    skipped = already_ingested(
        drops, ingested_drops(job.config.lake), file_metadata(drops), file_sha256
    )
    for path, earlier in skipped.items():
        _LOG.info(
            "skip %s: already ingested by run %s (--reprocess to read it again)", path, earlier
        )
    remaining = tuple(path for path in drops if path not in skipped)
    config = dataclasses.replace(job.config, drops=remaining, skipped=skipped)
    return dataclasses.replace(job, config=config, drop_count=len(remaining)), skipped


def execute(job: Job) -> dict[str, Any]:
    """Run the pipeline, verify its output and commit the manifest.

    Raises:
        JobFailed: the pipeline failed or its output does not add up.
    """
    config, run_id = job.config, job.config.run.run_id
    _LOG.info(
        "run %s: %d drop(s), %d feed(s) into %s on %s",
        run_id,
        job.drop_count,
        len(config.feeds),
        config.lake,
        job.runner,
    )
    mark_running(config, job.started)
    pipeline = beam.Pipeline(options=job.options)
    build_pipeline(pipeline, config)
    try:
        state = pipeline.run().wait_until_finish()
    except Exception as error:  # the runner's failure, whatever its type, ends the run
        raise JobFailed(
            f"run {run_id} failed in the pipeline: {type(error).__name__}: {error}; "
            "rerun with --verbose for Beam's log"
        ) from error
    if state not in (None, "DONE"):
        raise JobFailed(f"run {run_id} ended in state {state}")
    try:
        return finish_run(config, job.started, job.runner, job.drop_count)
    except RunFailed as failed:
        problems = "; ".join(failed.problems)
        raise JobFailed(
            f"run {run_id} failed: {problems}; manifest: {manifest_path(config.lake, run_id)}"
        ) from failed
