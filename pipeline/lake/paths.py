"""Where records go in the lake: kinds, partitions and file names.

Guarantees: a record's folder is built from controlled vocabularies and dates only (a value
outside its vocabulary becomes ``unknown``), never from input text; kept articles are
partitioned by the keys the lake was made with, duplicates and rejects by ``dt`` alone, index
entries not at all; a run's file names are deterministic.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection

from pipeline.classify.gazetteer import REGION_SLUGS
from pipeline.classify.topics import taxonomy
from pipeline.core.records import (
    Article,
    IndexEntry,
    Reject,
    is_duplicate,
    partition_date,
    primary_topic,
)
from pipeline.lake.history import INDEX_FOLDER
from pipeline.lake.names import PARTITION_KEYS, partition_keys_problem

__all__ = [
    "PARTITION_KEYS",
    "PublishedFile",
    "check_partition_keys",
    "destination_of",
    "file_name",
    "group_of",
    "is_destination",
    "kind_of",
    "parse_partition_keys",
    "partition_of",
    "staged_file",
    "staged_name",
]


@dataclasses.dataclass(frozen=True)
class PublishedFile:
    """A file the run put into the lake."""

    path: str
    kind: str
    partition: str


_KINDS = ("articles", "duplicates", "rejects")


def kind_of(record: Article | Reject | IndexEntry) -> str:
    """The lake folder a record belongs in: articles, duplicates, rejects or _index."""
    if isinstance(record, Reject):
        return "rejects"
    if isinstance(record, IndexEntry):
        return INDEX_FOLDER
    return "duplicates" if is_duplicate(record) else "articles"


def partition_of(
    record: Article | Reject | IndexEntry, keys: tuple[str, ...] = PARTITION_KEYS
) -> str:
    """The partition path below the kind folder, built from controlled values only.

    Kept articles are partitioned by ``keys`` (a subset of :data:`PARTITION_KEYS`, in the
    order given); duplicates and rejects by ``dt`` alone; index entries not at all. A value
    outside its vocabulary, which the classifier never makes, becomes ``unknown``.
    """
    if isinstance(record, IndexEntry):
        return ""
    date = f"dt={partition_date(record).isoformat()}"
    if not isinstance(record, Article) or is_duplicate(record):
        return date
    values = {
        "dt": date,
        "region": f"region={_controlled(record.location.region, REGION_SLUGS)}",
        "topic": f"topic={_controlled(primary_topic(record), taxonomy().slugs)}",
    }
    return "/".join(values[key] for key in keys)


def _controlled(value: str, vocabulary: Collection[str]) -> str:
    return value if value in vocabulary else "unknown"


def parse_partition_keys(text: str) -> tuple[str, ...]:
    """``"dt,region,topic"`` as a tuple, checked: known keys, no repeats, at least one."""
    keys = tuple(key.strip() for key in text.split(",") if key.strip())
    if problem := partition_keys_problem(keys, text):
        raise ValueError(problem)
    return keys


def file_name(run_id: str, shard: int, shards: int) -> str:
    """The deterministic name of a run's data file within a partition."""
    return f"{run_id}-{shard:05d}-of-{shards:05d}.avro"


def staged_name(relative: str) -> str:
    """A flat name for the path ``relative``: ``%`` written ``%25`` and ``/`` written ``%2F``
    (staged parts, and the files of commit protocols 3 and 4, lie flat in one folder)."""
    return relative.replace("%", "%25").replace("/", "%2F")


def staged_file(staging: str, relative: str) -> str:
    """Where a run whose staging folder is ``staging`` stages the file it publishes at
    ``relative``: in ``<staging>/files/``, in a tree like the lake's, so that the commit
    renames a folder the lake does not have yet, a new day's, whole (commit protocol 5)."""
    return f"{staging}/files/{relative}"


def destination_of(record: Article | Reject | IndexEntry, keys: tuple[str, ...]) -> str:
    """The folder below the lake root a record's file goes to, e.g. ``rejects/dt=2025-08-29``."""
    partition = partition_of(record, keys)
    return f"{kind_of(record)}/{partition}" if partition else kind_of(record)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_destination(text: str) -> bool:
    """Whether ``text`` is a folder :func:`destination_of` can make: a kind, then partition
    folders with known keys and values from their vocabularies (nothing a path could escape
    by)."""
    kind, *folders = text.split("/")
    if kind not in (*_KINDS, INDEX_FOLDER) or (kind == INDEX_FOLDER) != (not folders):
        return False
    vocabularies = {"region": REGION_SLUGS, "topic": taxonomy().slugs}
    for folder in folders:
        key, _, value = folder.partition("=")
        if key == "dt":
            if not _DATE.fullmatch(value):
                return False
        elif key not in vocabularies or _controlled(value, vocabularies[key]) != value:
            return False
    return len({folder.partition("=")[0] for folder in folders}) == len(folders)


def group_of(destination: str) -> str:
    """The group a destination's parts go to: its kind and first partition folder."""
    return "/".join(destination.split("/", 2)[:2])


def check_partition_keys(partition_by: tuple[str, ...]) -> None:
    if problem := partition_keys_problem(partition_by):
        raise ValueError(problem)
