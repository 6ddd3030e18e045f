"""The lake's description of itself, ``<lake>/_lake.json``: its format, its partition keys,
what made it. Written when a run (or an upgrade) commits, read before any run writes.

Guarantees: a lake of a newer format than this feedlake knows is refused
(:class:`NewerLakeFormat`, naming both versions) by every command before it reads or writes
anything else, and its ``_lake.json`` is never rewritten; one that is not a description at
all is :class:`~pipeline.lake.confine.DamagedLakeFile`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.core.version import __version__
from pipeline.lake.confine import NewerLakeFormat, damaged
from pipeline.lake.documents import read_document, write_json
from pipeline.lake.names import partition_keys_problem
from pipeline.lake.storage import files_below

__all__ = [
    "COMMIT_PROTOCOL",
    "FORMAT_VERSION",
    "LAKE_FILE",
    "NewerLakeFormat",
    "has_history",
    "read_description",
    "write_description",
]

LAKE_FILE = "_lake.json"
FORMAT_VERSION = 2  # 1: an index file per run, no catalog, no _lake.json (feedlake before 0.2)
# 1: files renamed into place before the manifest was written (feedlake before 0.2);
# 2: staged files in a tree like the lake's, under _staging/<run>/files/ (feedlake 0.2);
# 3: staged files flat in _staging/<run>/files/ (paths.staged_name), synced before the commit;
# 4: staged in _staging/<run>@<lease generation>/, committed by creating _commits/<run>@<gen>
# 5: as 4, staged files in a tree like the lake's again (paths.staged_file): a folder the
#    lake does not have yet is published whole, by one rename
COMMIT_PROTOCOL = 5


def read_description(lake: str) -> dict[str, Any] | None:
    """The lake's ``_lake.json``; None for a new lake, or one made before it existed.

    Raises:
        NewerLakeFormat: the lake's format is newer than :data:`FORMAT_VERSION`.
        DamagedLakeFile: ``_lake.json`` is not a description of a lake.
    """
    path = FileSystems.join(lake, LAKE_FILE)
    if not FileSystems.exists(path):
        return None
    described = read_document(path, "a lake's description")
    version = described.get("format_version", 1)
    partition_by = described.get("partition_by")
    if not isinstance(version, int) or not isinstance(partition_by, list):
        raise damaged(path, "is not a lake's description (format_version or partition_by)")
    if version > FORMAT_VERSION:
        raise NewerLakeFormat(
            f"the lake {lake} is of format {version} ({path}), newer than format "
            f"{FORMAT_VERSION}, the newest this feedlake {__version__} reads and writes; use a "
            "newer feedlake (nothing was read or changed)"
        )
    if problem := partition_keys_problem(partition_by):  # they name folders: only feedlake's
        raise damaged(path, f"is not a lake's description ({problem})")
    return described


def write_description(lake: str, partition_by: tuple[str, ...]) -> None:
    """Write ``_lake.json`` when it is missing or older than this format; idempotent."""
    described = read_description(lake)
    if described is not None and described.get("format_version") == FORMAT_VERSION:
        return
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    write_json(
        FileSystems.join(lake, LAKE_FILE),
        {
            "format": "feedlake-lake",
            "format_version": FORMAT_VERSION,
            "partition_by": list(partition_by),
            "commit_protocol": COMMIT_PROTOCOL,
            "created": (described or {}).get("created", now),
            "created_by": (described or {}).get("created_by", f"feedlake {__version__}"),
            "written_by": f"feedlake {__version__}",
        },
    )


def has_history(lake: str) -> bool:
    """Whether a run ever wrote a manifest in the lake."""
    return bool(files_below(FileSystems.join(lake, "_runs"), "*.json", limit=1))
