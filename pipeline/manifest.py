"""The run manifest: what a run read, what it wrote, and proof that the counts add up.

Runs in the driver after the pipeline ends. It reads the reports the graph staged, checks
that every reported file exists and its Avro framing holds the reported number of records
(Beam's local rename can fail silently), and that segments = articles + rejects for every
drop. It then writes ``<lake>/_runs/<run_id>.json`` atomically and removes the staging folder.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from collections import Counter
from typing import Any

import apache_beam as beam
import fastavro
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

import schemas
from connectors.feeds import save_feed_state
from connectors.lake_index import INDEX_FOLDER
from connectors.lake_json import read_json, write_json
from pipeline import __version__
from pipeline.avro_binary import count_container_records
from pipeline.factory import FILES_REPORT, INPUTS_REPORT, JobConfig, staging_folder

RUNNING_MARKER = "RUNNING"

__all__ = [
    "RUNNING_MARKER",
    "RunFailed",
    "already_ingested",
    "count_records",
    "finish_run",
    "ingested_drops",
    "manifest_path",
    "mark_running",
    "recover_incomplete_runs",
]


class RunFailed(RuntimeError):
    """The run's output does not add up; the manifest lists the problems."""

    def __init__(self, problems: list[str], manifest: dict[str, Any]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.manifest = manifest


def manifest_path(lake: str, run_id: str) -> str:
    return FileSystems.join(lake, "_runs", f"{run_id}.json")


def count_records(path: str) -> int:
    """Records in an Avro container file, counted block by block from its framing."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        return count_container_records(fh)


def _read_report(staging: str, name: str) -> list[dict[str, Any]]:
    path = FileSystems.join(staging, name)
    if not FileSystems.exists(path):
        return []
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        return [json.loads(line) for line in fh.read().decode("utf-8").splitlines() if line]


def _check_outputs(files: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    outputs, problems = [], []
    for entry in sorted(files, key=lambda f: f["path"]):
        path = entry["path"]
        if not FileSystems.exists(path):
            problems.append(f"{path} was reported written but does not exist")
            continue
        try:
            records = count_records(path)
        except (OSError, ValueError, EOFError) as error:
            problems.append(f"{path} does not read back as Avro: {error}")
            continue
        outputs.append({**entry, "records": records})
    return outputs, problems


def _totals(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> dict[str, Any]:
    by_reason: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    for drop in inputs:
        by_reason.update(drop["rejects_by_reason"])
        by_kind.update(drop["duplicates_by_kind"])
    feeds = Counter(i["outcome"] for i in inputs if i["type"] == "feed")
    return {
        "drops": sum(i["type"] == "drop" for i in inputs),
        "feeds": sum(feeds.values()),
        "feeds_by_outcome": dict(sorted(feeds.items())),
        "bytes": sum(drop["size"] for drop in inputs),
        "segments": sum(drop["segments"] for drop in inputs),
        "articles": sum(drop["articles"] for drop in inputs),
        "duplicates": sum(by_kind.values()),
        "duplicates_by_kind": dict(sorted(by_kind.items())),
        "rejects": sum(by_reason.values()),
        "rejects_by_reason": dict(sorted(by_reason.items())),
        "files": len(outputs),
        "records_written": {
            kind: sum(o["records"] for o in outputs if o["kind"] == kind)
            for kind in ("articles", "duplicates", "rejects", INDEX_FOLDER)
        },
    }


def _balance_problems(inputs: list[dict[str, Any]], counts: dict[str, Any]) -> list[str]:
    problems = [
        f"{drop['uri']}: {drop['segments']} segments but {drop['articles']} articles + "
        f"{drop['duplicates']} duplicates + {drop['rejects']} rejects"
        for drop in inputs
        if drop["segments"] != drop["articles"] + drop["duplicates"] + drop["rejects"]
    ]
    for kind in ("articles", "duplicates", "rejects"):
        if counts["records_written"][kind] != counts[kind]:
            problems.append(
                f"{counts[kind]} {kind} counted but {counts['records_written'][kind]} "
                "found in the lake's files"
            )
    return problems


def finish_run(
    config: JobConfig, started: dt.datetime, runner: str, expected_drops: int
) -> dict[str, Any]:
    """Verify the run's output, write its manifest, clean its staging folder.

    Raises:
        RunFailed: something reported is missing, unreadable, or the counts do not add up.
            The manifest is written all the same, with ``status: failed`` and the problems.
    """
    staging = staging_folder(config.lake, config.run.run_id)
    inputs = sorted(_read_report(staging, INPUTS_REPORT), key=lambda d: (d["type"], d["uri"]))
    outputs, problems = _check_outputs(_read_report(staging, FILES_REPORT))
    counts = _totals(inputs, outputs)
    problems += _balance_problems(inputs, counts)
    if counts["drops"] != expected_drops:
        problems.append(f"{expected_drops} drops matched but {counts['drops']} were read")
    if counts["feeds"] != len(config.feeds):
        problems.append(f"{len(config.feeds)} feeds listed but {counts['feeds']} were reported")
    finished = dt.datetime.now(dt.timezone.utc)
    manifest = {
        "run_id": config.run.run_id,
        "status": "failed" if problems else "succeeded",
        "problems": problems,
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "seconds": round((finished - started).total_seconds(), 3),
        "lake": config.lake,
        "runner": runner,
        "versions": {
            "feedlake": __version__,
            "apache_beam": beam.__version__,
            "fastavro": fastavro.__version__,
            "python": platform.python_version(),
            "schemas": {
                name: schemas.version(name) for name in ("Article", "Reject", "IndexEntry")
            },
        },
        "inputs": inputs,
        "skipped": [
            {"uri": uri, "already_ingested_by": run_id} for uri, run_id in config.skipped.items()
        ],
        "outputs": outputs,
        "counts": counts,
    }
    if config.feeds:
        save_feed_state(config.lake, [i for i in inputs if i["type"] == "feed"])
    write_json(manifest_path(config.lake, config.run.run_id), manifest)
    _remove_staging(config.lake, staging)
    if problems:
        raise RunFailed(problems, manifest)
    return manifest


def recover_incomplete_runs(lake: str) -> dict[str, int]:
    """Undo runs that were killed before they committed, so the lake is as if they never ran.

    A run commits by writing its manifest; until then its staging folder exists. For each
    staging folder without a manifest, every file the run published (all carry its run id in
    their name) is deleted, then the folder. One writer per lake at a time: a concurrent run's
    staging folder would look incomplete.

    Returns:
        Run id to the number of published files removed.
    """
    markers = FileSystems.match([FileSystems.join(lake, "_staging", "*", RUNNING_MARKER)])
    recovered = {}
    for match in markers[0].metadata_list:
        run_id = match.path.rsplit("/", 2)[-2]
        if FileSystems.exists(manifest_path(lake, run_id)):
            continue
        published = [
            m.path
            for pattern in _published_patterns(lake, run_id)
            for m in FileSystems.match([pattern])[0].metadata_list
        ]
        if published:
            FileSystems.delete(published)
        _remove_staging(lake, staging_folder(lake, run_id))
        recovered[run_id] = len(published)
    return recovered


def mark_running(config: JobConfig, started: dt.datetime) -> None:
    """Open the run: a marker in its staging folder says it has not committed yet."""
    marker = FileSystems.join(staging_folder(config.lake, config.run.run_id), RUNNING_MARKER)
    write_json(marker, {"run_id": config.run.run_id, "started": started.isoformat()})


def _published_patterns(lake: str, run_id: str) -> list[str]:
    name = f"{run_id}-*.avro"
    return [
        FileSystems.join(lake, "articles", "**", name),
        FileSystems.join(lake, "duplicates", "**", name),
        FileSystems.join(lake, "rejects", "**", name),
        FileSystems.join(lake, INDEX_FOLDER, name),
    ]


def ingested_drops(lake: str) -> dict[str, dict[str, Any]]:
    """Every drop a committed run read, by SHA-256: ``{sha256: {uri, size, modified, run_id}}``."""
    found: dict[str, dict[str, Any]] = {}
    pattern = FileSystems.join(lake, "_runs", "*.json")
    for match in FileSystems.match([pattern])[0].metadata_list:
        manifest = read_json(match.path)
        if manifest.get("status") != "succeeded":
            continue
        for entry in manifest.get("inputs", []):
            if entry.get("type", "drop") == "drop" and entry.get("sha256"):
                found[entry["sha256"]] = {**entry, "run_id": manifest["run_id"]}
    return found


def already_ingested(
    paths: list[str],
    ingested: dict[str, dict[str, Any]],
    metadata: dict[str, tuple[int, str | None]],
    sha256_of,
) -> dict[str, str]:
    """The paths whose content a committed run already read, with that run's id.

    A path whose URI, size and modification time match a recorded input reuses the recorded
    SHA-256 (no read); any other path is hashed, so a renamed or copied drop is skipped too.
    """
    by_metadata = {(e["uri"], e["size"], e["modified"]): sha for sha, e in ingested.items()}
    skipped = {}
    for path in paths:
        size, modified = metadata.get(path, (None, None))
        sha = by_metadata.get((path, size, modified)) or sha256_of(path)
        if sha in ingested:
            skipped[path] = ingested[sha]["run_id"]
    return skipped


def _remove_staging(lake: str, staging: str) -> None:
    _delete_tree(staging)
    parent = FileSystems.join(lake, "_staging")
    if not FileSystems.match([parent + "/**"])[0].metadata_list:
        _delete_tree(parent)  # leave no empty folder behind once no run is staging


def _delete_tree(folder: str) -> None:
    """Delete every file below ``folder``, then the folder where folders exist (local disk)."""
    files = [m.path for m in FileSystems.match([folder + "/**"])[0].metadata_list]
    if files:
        FileSystems.delete(files)
    if FileSystems.exists(folder):
        FileSystems.delete([folder])
