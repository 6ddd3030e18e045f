"""The run manifest: what a run read, what it wrote, and proof that the counts add up.

Runs in the driver after the pipeline ends. It reads the reports the graph staged, checks
that every reported file is in the run's staging folder and its Avro framing holds the
reported number of records, and that segments = articles + duplicates + rejects for every
input. Writing the manifest is the run's commit (:mod:`pipeline.lake.commit`); it also tells
later runs which drops are already in the lake.
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
from pipeline.core.version import __version__
from pipeline.lake.commit import COMMIT_PROTOCOL, staged_path, staging_folder
from pipeline.lake.documents import read_document
from pipeline.lake.files import counted
from pipeline.lake.history import INDEX_FOLDER, catalog_entries, legacy_index_files, read_catalog
from pipeline.lake.storage import files_below

__all__ = [
    "FILES_REPORT",
    "INPUTS_REPORT",
    "already_ingested",
    "brought_nothing",
    "build_manifest",
    "ingested_drops",
    "software_versions",
]

# The two reports a run's graph stages for its manifest, one JSON object a line: each input's
# counts (a drop or a feed) and each file written.
INPUTS_REPORT = "inputs.jsonl"
FILES_REPORT = "files.jsonl"


def _read_report(staging: str, name: str) -> list[dict[str, Any]]:
    path = FileSystems.join(staging, name)
    if not FileSystems.exists(path):
        return []
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        return [json.loads(line) for line in fh.read().decode("utf-8").splitlines() if line]


def _check_outputs(
    lake: str, staging: str, files: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The staged files the run reported, each counted from its Avro framing."""
    outputs, problems = [], []
    for entry in sorted(files, key=lambda f: f["path"]):
        path = staged_path(lake, staging, entry["path"])
        records, problem = counted(path)
        if problem is None:
            outputs.append({**entry, "records": records})
        else:
            problems.append(f"{path} {problem}, though the run reported it written")
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


def build_manifest(
    lake: str,
    run_id: str,
    generation: int,
    request: dict[str, Any],
    started: dt.datetime,
    runner: str,
    expected_drops: int,
    expected_feeds: int,
    skipped: dict[str, str],
) -> dict[str, Any]:
    """The run's manifest from the reports it staged, verified: ``status`` is ``succeeded``,
    or ``failed`` with the ``problems`` (a file reported but missing or unreadable, counts
    that do not add up, inputs matched but not read). Writes nothing.

    Args:
        lake, run_id: the run's lake and id; its reports are in its staging folder.
        generation: the lease generation the run is made under (its staging folder's).
        request: what was asked for (kept, so that a retry is recognised).
        started, runner: when the run started and which runner ran it.
        expected_drops, expected_feeds: how many inputs the run was given.
        skipped: the drops skipped as already ingested, with the run that read each.
    """
    staging = staging_folder(lake, run_id, generation)
    inputs = sorted(_read_report(staging, INPUTS_REPORT), key=lambda d: (d["type"], d["uri"]))
    outputs, problems = _check_outputs(lake, staging, _read_report(staging, FILES_REPORT))
    counts = _totals(inputs, outputs)
    problems += _balance_problems(inputs, counts)
    if counts["drops"] != expected_drops:
        problems.append(f"{expected_drops} drops matched but {counts['drops']} were read")
    if counts["feeds"] != expected_feeds:
        problems.append(f"{expected_feeds} feeds listed but {counts['feeds']} were reported")
    finished = dt.datetime.now(dt.timezone.utc)
    return {
        "run_id": run_id,
        "status": "failed" if problems else "succeeded",
        "problems": problems,
        "commit_protocol": COMMIT_PROTOCOL,
        "lease_generation": generation,
        "request": request,
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "seconds": round((finished - started).total_seconds(), 3),
        "lake": lake,
        "runner": runner,
        "versions": software_versions(),
        "inputs": inputs,
        "skipped": [
            {"uri": uri, "already_ingested_by": earlier} for uri, earlier in skipped.items()
        ],
        "outputs": outputs,
        "counts": counts,
    }


def software_versions() -> dict[str, Any]:
    """What wrote a run: feedlake's, Beam's, fastavro's and Python's versions, and the
    records' schema versions."""
    return {
        "feedlake": __version__,
        "apache_beam": beam.__version__,
        "fastavro": fastavro.__version__,
        "python": platform.python_version(),
        "schemas": {name: schemas.version(name) for name in ("Article", "Reject", "IndexEntry")},
    }


def brought_nothing(manifest: dict[str, Any]) -> bool:
    """Whether a verified run read no drop, no new feed item, and no feed failed: nothing for
    the lake to keep (no manifest is written for it)."""
    counts = manifest["counts"]
    read_nothing = counts["drops"] == 0 and counts["segments"] == 0 and not manifest["outputs"]
    return read_nothing and set(counts["feeds_by_outcome"]) <= {"ok", "not_modified"}


def ingested_drops(lake: str) -> dict[str, dict[str, Any]]:
    """Every drop a committed run read, by SHA-256: ``{sha256: {uri, size, modified, run_id}}``,
    from the lake's drop catalog; in a lake of format 1 (no catalog yet, not upgraded), from
    every manifest."""
    catalog = read_catalog(lake)
    if catalog or not legacy_index_files(lake):
        return catalog
    manifests = (
        read_document(m.path, "a run manifest")
        for m in files_below(FileSystems.join(lake, "_runs"), "*.json")
    )
    return {entry["sha256"]: entry for entry in catalog_entries(manifests)}


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
