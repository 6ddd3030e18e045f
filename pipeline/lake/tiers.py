"""The index and the drop catalog stay a few files, whatever the lake's age.

Guarantees: each folder of the index (``_index/ids``, ``_index/links``, each
``_index/near/dt=...``) and of the catalog (``_catalog/drops``) holds files in tiers: a run
adds one file of level 0, and when a level holds :data:`FANOUT` files they are merged into one
file of the next level, so a folder holds at most ``FANOUT - 1`` files a level and a run reads
a number of files that grows with the logarithm of the lake's age (a year of hourly batches:
about 30 files a folder at most, where format 1 kept 8,760). A full merge (``feedlake compact``)
leaves one file a folder. A merge keeps every entry once (the same id, the same feed key for
the same article, the same drop: the first is kept) and is committed like a run: the merged
files appear and the files they replace go at the commit, so a crash at any step leaves the
old files or the new, never both, once the next writer has recovered.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections import defaultdict
from typing import Any

import numpy as np
from apache_beam.io.filesystems import FileSystems

from pipeline.lake.commit import (
    commit_run,
    make_staging,
    operation_id,
    operation_manifest,
    staged_path,
)
from pipeline.lake.files import LakeOutput, count_records, write_dicts
from pipeline.lake.history import (
    CATALOG_FOLDER,
    INDEX_FOLDER,
    TIER_FILES,
    catalog_file,
    index_records,
    read_blocks,
    tiered_files,
)
from pipeline.lake.index import tier_name
from pipeline.lake.lease import WriterLease
from pipeline.lake.storage import files_below

__all__ = ["FANOUT", "TOP_LEVEL", "merge_tiers", "plan_merges", "tiered_folders"]

FANOUT = 8
TOP_LEVEL = 9  # a file that holds a whole folder: a full merge, an upgrade from format 1
_TIERED = re.compile(r"L(\d+)-[^/]+\.avro")
_LOG = logging.getLogger("feedlake")


def tiered_folders(lake: str) -> list[str]:
    """Every folder of the index and the catalog, below the lake (``_index/ids``, ...)."""
    folders = {
        metadata.path[len(lake) :].strip("/").rsplit("/", 1)[0]
        for kind in (INDEX_FOLDER, CATALOG_FOLDER)
        for metadata in files_below(FileSystems.join(lake, kind), TIER_FILES)
    }
    return sorted(folders)


@dataclasses.dataclass(frozen=True)
class Merge:
    """Files of one folder to merge into one file of ``level``."""

    folder: str  # below the lake, e.g. "_index/ids"
    level: int
    paths: tuple[str, ...]


def _levels(paths: list[str]) -> dict[int, list[str]]:
    by_level: dict[int, list[str]] = defaultdict(list)
    for path in paths:
        if match := _TIERED.fullmatch(path.rsplit("/", 1)[-1]):
            by_level[int(match[1])].append(path)
    return by_level


def plan_merges(folder: str, paths: list[str], full: bool = False) -> list[Merge]:
    """What to merge in one folder: every level that holds :data:`FANOUT` files into one file
    a level up (cascading: a merge that fills the next level is merged on, in one go), or,
    ``full``, every file into one of :data:`TOP_LEVEL`."""
    by_level = _levels(paths)
    if full:
        every = sorted(path for level in by_level.values() for path in level)
        return [Merge(folder, TOP_LEVEL, tuple(every))] if len(every) > 1 else []
    # Each element of a level: the files it stands for (one file, or the sources of a merge).
    tiers = {level: [(path,) for path in sorted(files)] for level, files in by_level.items()}
    merged: dict[int, tuple[str, ...]] = {}  # level: the one merge planned into it
    for level in range(TOP_LEVEL):
        elements = tiers.get(level, [])
        if len(elements) < FANOUT:
            continue
        sources = tuple(sorted(path for element in elements for path in element))
        tiers[level] = []
        merged.pop(level, None)  # merged on, one level up
        tiers.setdefault(level + 1, []).append(sources)
        merged[level + 1] = sources
    return [Merge(folder, level, sources) for level, sources in sorted(merged.items())]


def _merged_blocks(kind: str, paths: tuple[str, ...]) -> list[dict[str, Any]]:
    """The entries of ``paths`` as blocks of one file, each entry once."""
    blocks = [block for path in paths for block in read_blocks(path)]
    keys = np.concatenate([b.keys for b in blocks])
    if kind == "links":
        ids = np.concatenate([b.ids for b in blocks])
        raw = np.concatenate(
            [keys.view(np.uint8).reshape(-1, 16), ids.view(np.uint8).reshape(-1, 16)], axis=1
        )
        _, first = np.unique(np.frombuffer(raw.tobytes(), dtype="S32"), return_index=True)
        rows = first[np.argsort(keys[first], kind="stable")]
        bands = np.concatenate([b.bands for b in blocks])
        sketches = np.concatenate([b.sketches for b in blocks])
        return index_records("links", keys[rows], None, ids[rows], bands[rows], sketches[rows])
    days = np.concatenate([b.days for b in blocks])
    _, rows = np.unique(keys, return_index=True)  # sorted by key, the first of each kept
    if kind == "ids":
        return index_records("ids", keys[rows], days[rows])
    bands = np.concatenate([b.bands for b in blocks])
    sketches = np.concatenate([b.sketches for b in blocks])
    return index_records("near", keys[rows], days[rows], bands=bands[rows], sketches=sketches[rows])


def _merged_catalog(paths: tuple[str, ...]) -> list[dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    for path in paths:
        for entry in catalog_file(path):
            entries.setdefault(entry["sha256"], entry)
    return list(entries.values())


def _stage(output: LakeOutput, merge: Merge) -> dict[str, Any]:
    if merge.folder.startswith(CATALOG_FOLDER):
        records = _merged_catalog(merge.paths)
    else:
        kind = "near" if "/near/" in merge.folder else merge.folder.rsplit("/", 1)[-1]
        records = _merged_blocks(kind, merge.paths)
    name = tier_name(merge.level, output.run_id)
    published = write_dicts(output, merge.folder, records, name, "null")
    return {**dataclasses.asdict(published), "records": len(records)}


def merge_tiers(
    lake: str, lease: WriterLease, full: bool = False, folders: list[str] | None = None
) -> dict[str, Any] | None:
    """Merge the index and catalog files that are due (every folder's, ``full``), as one
    commit; its manifest, or None when nothing was due. Call it under the lease.

    Args:
        folders: the folders to look at (below the lake); all of them by default.
    """
    started = dt.datetime.now(dt.timezone.utc)
    merges = []
    for folder in folders if folders is not None else tiered_folders(lake):
        paths = tiered_files(FileSystems.join(lake, *folder.split("/")))
        merges += plan_merges(folder, paths, full)
    if not merges:
        return None
    run_id = operation_id("tiers")
    staging = make_staging(lake, run_id, lease.generation)
    output = LakeOutput(lake, staging, run_id, codec="null")
    outputs = [_stage(output, merge) for merge in merges]
    replaced = sorted(path for merge in merges for path in merge.paths)
    for entry in outputs:  # what is committed reads back
        entry["records"] = count_records(staged_path(lake, staging, entry["path"]))
    manifest = operation_manifest(lake, run_id, "tiers", started, outputs, replaced, full=full)
    commit_run(lake, manifest, lease)
    _LOG.info(
        "lake %s: merged %d index and catalog files into %d", lake, len(replaced), len(outputs)
    )
    return manifest
