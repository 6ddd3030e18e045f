"""What a reader of the lake reads: its data and index files, listed once, as one state.

Guarantees:

- Only files in partition folders feedlake writes are read (``articles/dt=.../region=...``,
  each key known and each value one it makes: :func:`pipeline.lake.paths.is_destination`),
  and files directly in a kind's folder (a layout without partitions, read without partition
  columns). Any other folder holding Avro files (a second ``=`` in a name, a folder of
  another tool) is left out and named in :attr:`Listing.skipped`, so that one odd folder
  cannot fail or skew a read of the others.
- Index files (``_index/``) are listed with the data files, as kind ``_index``.
- A compaction (or an index merge) that has committed but not finished its swap is read as
  one state, folder by folder: where all of its new files are in place, the files they
  replace are left out even while they still exist; elsewhere its new files are left out. A
  reader counts each record once during the swap, as before it and after it.
- :func:`read_settled` runs a read of a listing again, on a new listing, when files of the
  listing vanished meanwhile (a compaction or run finished between the listing and the
  read), up to :data:`ATTEMPTS` times, then raises :class:`LakeKeptChanging` naming a file
  that vanished. A read that fails while every listed file is still there fails at once.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb
from apache_beam.io.filesystems import FileSystems

from pipeline.lake.confine import check_manifest
from pipeline.lake.documents import read_document
from pipeline.lake.history import INDEX_FOLDER
from pipeline.lake.names import is_run_id, parse_staging_name
from pipeline.lake.paths import is_destination
from pipeline.lake.storage import files_below

__all__ = [
    "ATTEMPTS",
    "KINDS",
    "LakeFile",
    "LakeKeptChanging",
    "Listing",
    "list_lake",
    "read_settled",
]

KINDS = ("articles", "duplicates", "rejects")
ATTEMPTS = 5
_PAUSE = 0.2  # seconds before the second try, doubled for each later one
_T = TypeVar("_T")


@dataclasses.dataclass(frozen=True)
class LakeFile:
    path: str
    kind: str
    folder: str  # below the kind's folder: "dt=2025-08-29/region=asia/topic=politics"
    size: int


@dataclasses.dataclass(frozen=True)
class Listing:
    """The data and index files a reader reads, and the folders it leaves out (``kind/folder``:
    how many files)."""

    lake: str
    files: tuple[LakeFile, ...]
    skipped: dict[str, int]

    def of(self, kind: str) -> list[LakeFile]:
        return [file for file in self.files if file.kind == kind]


class LakeKeptChanging(RuntimeError):
    """Files vanished between the listing and the read, every time it was tried."""


def _local_files(folder: str) -> list[tuple[str, int]]:
    """Every file below a local folder, by walking it (a name is never a pattern here); a
    file gone between the walk and its size is left out."""
    found = []
    for parent, _folders, names in os.walk(folder):
        for name in names:
            path = os.path.join(parent, name)
            try:
                found.append((path, os.stat(path).st_size))
            except FileNotFoundError:
                continue
    return found


def _files(folder: str) -> list[tuple[str, int]]:
    """Every file below ``folder``, with its size, in name order."""
    if "://" not in folder:
        return sorted(_local_files(folder))
    return [(m.path, m.size_in_bytes) for m in files_below(folder)]


def _unfinished_compactions(lake: str) -> list[dict[str, Any]]:
    """The manifests of compactions committed whose staging folder is still there."""
    staging = FileSystems.join(lake, "_staging")
    names = {path[len(staging) :].strip("/").split("/", 1)[0] for path, _ in _files(staging)}
    found = []
    for name in sorted(names):
        run_id = (parse_staging_name(name) or (name, None))[0]
        if not is_run_id(run_id):
            continue  # no run's folder: recovery and repair say so
        path = FileSystems.join(lake, "_runs", f"{run_id}.json")
        if FileSystems.exists(path):
            manifest = check_manifest(lake, read_document(path, "a run manifest"), path)
            if manifest.get("status") == "succeeded" and manifest.get("replaced"):
                found.append(manifest)
    return found


def _one_state(lake: str, paths: set[str], manifest: dict[str, Any]) -> set[str]:
    """The paths to leave out so that ``paths`` show each folder the compaction of
    ``manifest`` touches either before its swap or after it, never both. The manifest's
    paths are below the lake's root as its writer named it, which may differ from ``lake``."""
    root = manifest.get("lake", lake)

    def here(path: str) -> str:
        return lake + path[len(root) :] if path.startswith(root + "/") else path

    outputs: dict[str, set[str]] = {}
    for output in manifest.get("outputs", []):
        path = here(output["path"])
        outputs.setdefault(path.rsplit("/", 1)[0], set()).add(path)
    left_out = set()
    for path in map(here, manifest["replaced"]):
        new = outputs.get(path.rsplit("/", 1)[0], set())
        left_out |= {path} if new and new <= paths else new
    return left_out


def list_lake(lake: str) -> Listing:
    """The lake's data files in partition folders feedlake writes, as one state of it."""
    found: list[LakeFile] = []
    skipped: dict[str, int] = {}
    for kind in (*KINDS, INDEX_FOLDER):
        top = FileSystems.join(lake, kind)
        for path, size in _files(top):
            if not path.endswith(".avro"):
                continue
            relative = path[len(top) :].strip("/")
            folder = relative.rsplit("/", 1)[0] if "/" in relative else ""
            destination = f"{kind}/{folder}".rstrip("/")
            if kind == INDEX_FOLDER or not folder or is_destination(destination):
                found.append(LakeFile(path, kind, folder, size))
            else:
                skipped[destination] = skipped.get(destination, 0) + 1
    paths = {file.path for file in found}
    left_out: set[str] = set()
    for manifest in _unfinished_compactions(lake):
        left_out |= _one_state(lake, paths, manifest)
    kept = tuple(file for file in found if file.path not in left_out)
    return Listing(lake, kept, skipped)


def _vanished(listing: Listing) -> list[str]:
    return [file.path for file in listing.files if not FileSystems.exists(file.path)]


def read_settled(lake: str, read: Callable[[Listing], _T]) -> _T:
    """``read(listing)`` of a listing of ``lake``, listed again and retried while files of
    the listing vanish before the read is done.

    Raises:
        LakeKeptChanging: files vanished on each of :data:`ATTEMPTS` tries.
    """
    vanished: list[str] = []
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(_PAUSE * 2 ** (attempt - 1))
        listing = list_lake(lake)
        try:
            return read(listing)
        except (OSError, duckdb.Error):
            vanished = _vanished(listing)
            if not vanished:
                raise
    raise LakeKeptChanging(
        f"the lake {lake} kept changing while it was read: files listed were gone before "
        f"they were read ({vanished[0]}) on each of {ATTEMPTS} tries; another writer is "
        "finishing a run or a compaction: run the command again once it is done"
    )
