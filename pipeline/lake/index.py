"""What a run adds to the lake's deduplication index, written as index format 2.

Guarantees: every article the run keeps is in the run's ``_index/ids`` file (sorted, so later
runs find an exact copy with one binary search a file) and in the ``_index/near/dt=`` file of
its published day; every feed item the run keeps or learns is in its ``_index/links`` file;
nothing else. Files are named ``L0-<run_id>.avro``: level 0 of the tiers compaction merges
(:mod:`pipeline.lake.compact`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import numpy as np

from pipeline.core.records import IndexBatch
from pipeline.lake.files import LakeOutput, write_dicts
from pipeline.lake.history import (
    CATALOG_FOLDER,
    INDEX_FOLDER,
    catalog_entries,
    ids_of,
    index_records,
    key_of,
)
from pipeline.lake.paths import PublishedFile

__all__ = ["WriteIndex", "index_blocks", "stage_catalog", "tier_name"]


def tier_name(level: int, name: str) -> str:
    """The file name of an index or catalog file of ``level``."""
    return f"L{level}-{name}.avro"


def index_blocks(batch: IndexBatch) -> dict[str, list[dict[str, Any]]]:
    """The run's new index entries as IndexBlock records, by destination folder."""
    keys = ids_of(batch.ids)
    days = batch.days if batch.days is not None else np.zeros(len(batch), dtype=np.int64)
    blocks: dict[str, list[dict[str, Any]]] = {}
    new = np.flatnonzero(days > 0)  # the run's kept articles (lake entries have no day here)
    if len(new):
        order = new[np.argsort(keys[new], kind="stable")]
        blocks[f"{INDEX_FOLDER}/ids"] = index_records("ids", keys[order], days[order])
        for day in np.unique(days[new]).tolist():
            rows = new[days[new] == day]
            folder = f"{INDEX_FOLDER}/near/dt={dt.date.fromordinal(day).isoformat()}"
            blocks[folder] = index_records(
                "near",
                keys[rows],
                days[rows],
                bands=batch.bands[rows],
                sketches=batch.sketches[rows],
            )
    pairs = sorted(
        (key_of(link), row) for row, links in batch.links.items() for link in dict.fromkeys(links)
    )
    if pairs:
        rows = np.array([row for _key, row in pairs], dtype=np.int64)
        blocks[f"{INDEX_FOLDER}/links"] = index_records(
            "links",
            np.frombuffer(b"".join(key for key, _row in pairs), dtype="S16"),
            None,
            ids=keys[rows],
            bands=batch.bands[rows],
            sketches=batch.sketches[rows],
        )
    return blocks


class _WriteIndexFn(beam.DoFn):
    def __init__(self, output: LakeOutput) -> None:
        self.output = output

    def process(self, batch: IndexBatch) -> Iterator[PublishedFile]:
        name = tier_name(0, self.output.run_id)
        for destination, records in sorted(index_blocks(batch).items()):
            # incompressible (hashes, band keys, sketches): stored, not deflated
            yield write_dicts(self.output, destination, records, name, "null")


class WriteIndex(beam.PTransform):
    """The run's one :class:`~pipeline.core.records.IndexBatch` in; its ``_index/`` files out
    (none when the run kept no article and learned no feed item)."""

    def __init__(self, output: LakeOutput) -> None:
        super().__init__()
        self.output = output

    def expand(self, batches):
        return batches | "Write the index" >> beam.ParDo(_WriteIndexFn(self.output))


def stage_catalog(output: LakeOutput, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """Stage the catalog entries of a verified run's drops (the driver does, before the
    commit); the output entry for its manifest, or None when it read no drop."""
    entries = catalog_entries([{**manifest, "status": "succeeded"}])
    if not entries:
        return None
    name = tier_name(0, output.run_id)
    published = write_dicts(output, f"{CATALOG_FOLDER}/drops", entries, name, "null")
    return {**dataclasses.asdict(published), "records": len(entries)}
