"""The lake describes itself: ``<lake>/_lake.json`` says its format, its partition keys and what
wrote it, and a lake of an earlier format is brought up to date without a manual step.

Guarantees: a lake keeps the partition keys it was made with; a run that asks for others is
refused before it writes anything (:class:`LayoutMismatch`, with what to do), and a run that
asks for none takes the lake's. A lake written before this file existed is read as it is: its
keys are found from its article folders. Its index and drop catalog of format 1 (one index
file per run, drops known only from the manifests) are migrated to format 2 under the commit
protocol, once, by the first writer that finds them (:func:`upgrade`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

import numpy as np
from apache_beam.io.filesystems import FileSystems

from pipeline.core.records import IndexBatch
from pipeline.lake.commit import commit_run, make_staging, operation_id, operation_manifest
from pipeline.lake.description import (
    FORMAT_VERSION,
    has_history,
    read_description,
    write_description,
)
from pipeline.lake.documents import read_document
from pipeline.lake.files import LakeOutput, write_dicts
from pipeline.lake.history import (
    CATALOG_FOLDER,
    INDEX_FOLDER,
    TIER_FILES,
    catalog_entries,
    ids_of,
    index_records,
    key_of,
    legacy_index_files,
    read_index_file,
)
from pipeline.lake.index import tier_name
from pipeline.lake.lease import WriterLease
from pipeline.lake.paths import PARTITION_KEYS
from pipeline.lake.storage import files_below
from pipeline.lake.tiers import TOP_LEVEL

__all__ = [
    "LayoutMismatch",
    "layout_of",
    "resolve_layout",
    "upgrade",
]

_LOG = logging.getLogger("feedlake")


class LayoutMismatch(ValueError):
    """A run asks for partition keys other than the lake's."""


def layout_of(lake: str) -> tuple[str, ...] | None:
    """The lake's article partition keys: from ``_lake.json``, else from the folders of one of
    its article files (a lake made before ``_lake.json``); None for a lake with no article."""
    described = read_description(lake)
    if described is not None:
        return tuple(described["partition_by"])
    for metadata in files_below(FileSystems.join(lake, "articles"), "**/*.avro", limit=1):
        folders = metadata.path[len(lake) :].strip("/").split("/")[1:-1]
        keys = tuple(folder.split("=", 1)[0] for folder in folders)
        if keys and set(keys) <= set(PARTITION_KEYS):
            return keys
    return None


def resolve_layout(lake: str, asked: tuple[str, ...] | None) -> tuple[str, ...]:
    """The partition keys a run writes with: the lake's, or ``asked`` for a new lake.

    Raises:
        LayoutMismatch: the lake has other keys than ``asked``.
    """
    held = layout_of(lake)
    if held is None:
        return asked or PARTITION_KEYS
    if asked is not None and asked != held:
        raise LayoutMismatch(
            f"the lake {lake} is partitioned by {','.join(held)}, not {','.join(asked)}: every "
            "reader of a Hive-partitioned lake needs one layout. Omit --partition-by (the lake's "
            f"own is used) or pass --partition-by {','.join(held)}; for another layout, write "
            "to a new lake"
        )
    return held


def upgrade(lake: str, lease: WriterLease) -> bool:
    """Migrate a lake's index and drop catalog of format 1 to format 2, as one commit.

    Call it under the lease, after recovery. Each old index file's entries take their run's
    start as their published day (format 1 kept no day). Returns whether anything was done.
    """
    described = read_description(lake)
    legacy = legacy_index_files(lake)
    current = described is not None and described.get("format_version", 1) >= FORMAT_VERSION
    if (current or not has_history(lake)) and not legacy:
        return False
    if described is None and not legacy and _has_tiers(lake):
        # A lake of format 2 whose _lake.json was lost (moved aside by repair): described again.
        layout = layout_of(lake) or PARTITION_KEYS
        write_description(lake, layout)
        _LOG.warning(
            "lake %s had no _lake.json: wrote it again (partitioned by %s)", lake, ",".join(layout)
        )
        return False
    run_id = operation_id("upgrade")
    _LOG.warning(
        "lake %s is of format 1: migrating its %d index files and its manifests to format %d "
        "(once)",
        lake,
        len(legacy),
        FORMAT_VERSION,
    )
    started = dt.datetime.now(dt.timezone.utc)
    staging = make_staging(lake, run_id, lease.generation)
    output = LakeOutput(lake, staging, run_id, codec="null")
    manifests = _manifests(lake)
    outputs = _migrate_index(output, legacy, manifests)
    if not current:  # the catalog of format 2 is kept from the upgrade on
        outputs += _migrate_catalog(output, manifests)
    manifest = operation_manifest(
        lake,
        run_id,
        "upgrade",
        started,
        outputs,
        legacy,
        from_format=1,
        to_format=FORMAT_VERSION,
        partition_by=list(layout_of(lake) or PARTITION_KEYS),
    )
    commit_run(lake, manifest, lease)
    return True


def _has_tiers(lake: str) -> bool:
    """Whether the lake holds an index or drop catalog file of format 2 (format 1 had
    neither: one index file a run, drops only in the manifests)."""
    return any(
        files_below(FileSystems.join(lake, folder), TIER_FILES, limit=1)
        for folder in (INDEX_FOLDER, CATALOG_FOLDER)
    )


def _manifests(lake: str) -> dict[str, dict[str, Any]]:
    found = {}
    for metadata in files_below(FileSystems.join(lake, "_runs"), "*.json"):
        manifest = read_document(metadata.path, "a run manifest")
        found[manifest.get("run_id", "")] = manifest
    return found


def _output(published, records: int) -> dict[str, Any]:
    return {
        "path": published.path,
        "kind": published.kind,
        "partition": published.partition,
        "records": records,
    }


def _run_day(path: str, manifests: dict[str, dict[str, Any]]) -> int:
    """The start day of the run that wrote a format-1 index file (its name starts with the
    run id); the file's time when its manifest is gone."""
    name = path.rsplit("/", 1)[-1]
    run_id = name.rsplit("-", 3)[0] if name.count("-of-") else name.removesuffix(".avro")
    started = manifests.get(run_id, {}).get("started")
    if started:
        return dt.datetime.fromisoformat(started).date().toordinal()
    seconds = FileSystems.last_updated(path) if "://" in path else os.path.getmtime(path)
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).date().toordinal()


def _migrate_index(
    output: LakeOutput, legacy: list[str], manifests: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """One top-tier ids file, one links file, and a near file per day, from every old file.
    Old files come in run order, so a day's entries are written as soon as the day ends."""
    name = tier_name(TOP_LEVEL, output.run_id)
    outputs, ids, id_days, links = [], [], [], []
    day_batches: list[IndexBatch] = []
    current_day = None

    def flush_day() -> None:
        if not day_batches:
            return
        batch = IndexBatch.concat(day_batches)
        folder = f"{INDEX_FOLDER}/near/dt={dt.date.fromordinal(current_day).isoformat()}"
        records = index_records(
            "near",
            ids_of(batch.ids),
            np.full(len(batch), current_day, dtype=np.int64),
            bands=batch.bands,
            sketches=batch.sketches,
        )
        outputs.append(_output(write_dicts(output, folder, records, name), len(records)))
        day_batches.clear()

    for path in sorted(legacy, key=lambda p: _run_day(p, manifests)):
        day = _run_day(path, manifests)
        if day != current_day:
            flush_day()
            current_day = day
        batch = IndexBatch.of(read_index_file(path))
        day_batches.append(batch)
        ids.append(ids_of(batch.ids))
        id_days.append(np.full(len(batch), day, dtype=np.int64))
        # Entries of format 1 hold both guid and link: both are kept. Rows are copied out,
        # so that no old file's arrays stay in memory for its links.
        pairs = [(row, link) for row, found in batch.links.items() for link in found]
        if pairs:
            rows = np.array([row for row, _link in pairs], dtype=np.int64)
            keys = np.frombuffer(b"".join(key_of(link) for _row, link in pairs), dtype="S16")
            links.append((keys, ids_of(batch.ids[rows]), batch.bands[rows], batch.sketches[rows]))
    flush_day()
    if ids:
        keys, days = np.concatenate(ids), np.concatenate(id_days)
        order = np.argsort(keys, kind="stable")
        records = index_records("ids", keys[order], days[order])
        path = f"{INDEX_FOLDER}/ids"
        outputs.append(_output(write_dicts(output, path, records, name), len(records)))
    if links:
        keys, articles, bands, sketches = (
            np.concatenate(part) for part in zip(*links, strict=True)
        )
        order = np.argsort(keys, kind="stable")
        records = index_records(
            "links", keys[order], None, articles[order], bands[order], sketches[order]
        )
        path = f"{INDEX_FOLDER}/links"
        outputs.append(_output(write_dicts(output, path, records, name), len(records)))
    return outputs


def _migrate_catalog(
    output: LakeOutput, manifests: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    entries = catalog_entries(manifests[run_id] for run_id in sorted(manifests))
    if not entries:
        return []
    name = tier_name(TOP_LEVEL, output.run_id)
    published = write_dicts(output, f"{CATALOG_FOLDER}/drops", entries, name)
    return [_output(published, len(entries))]
