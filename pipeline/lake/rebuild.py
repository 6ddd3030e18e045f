"""The lake's deduplication index and drop catalog rebuilt from what the lake holds, for
``feedlake repair`` once it has moved a damaged index or catalog file aside.

Guarantees: the rebuilt index holds what the runs that wrote the lake's articles would have
written for them, entry for entry: every kept article's id and near-copy sketch (computed as
deduplication computes them, :mod:`pipeline.dedup.sketch`) on its published day, and every
feed item of an article or a duplicate under the id of the article it is (a test holds it to
the index the runs wrote). The rebuilt catalog holds every drop of every committed manifest
and of the catalog files still readable. Each rebuild is one commit (kind ``repair``) that
adds one file a folder and replaces every other file of the index (or the catalog), so a
crash leaves the old files or the new; call it under the writer lease.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import fastavro
import numpy as np
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from connectors.inputs import item_identity
from pipeline.core import minhash
from pipeline.core.records import IndexBatch, ids_array
from pipeline.core.text import fold
from pipeline.lake.commit import commit_run, make_staging, operation_id, operation_manifest
from pipeline.lake.confine import check_manifest
from pipeline.lake.documents import read_document
from pipeline.lake.files import LakeOutput, write_dicts
from pipeline.lake.history import (
    CATALOG_FOLDER,
    INDEX_FOLDER,
    catalog_entries,
    catalog_file,
    reading_records,
)
from pipeline.lake.index import index_blocks, tier_name
from pipeline.lake.lease import WriterLease
from pipeline.lake.storage import files_below
from pipeline.lake.tiers import TOP_LEVEL

__all__ = ["rebuild_catalog", "rebuild_index", "sketched"]

_CHUNK = 4_096  # articles sketched at once


def _records(lake: str, kind: str) -> Iterator[dict[str, Any]]:
    for path in [m.path for m in files_below(FileSystems.join(lake, kind), "**/*.avro")]:
        with (
            reading_records(path, "Article"),
            FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh,
        ):
            yield from fastavro.reader(fh)


def _identity(record: dict[str, Any]) -> str | None:
    source = record.get("source") or {}
    return item_identity(source.get("guid"), source.get("item_url"))


def sketched(articles: list[dict[str, Any]]) -> IndexBatch:
    """Index entries of article records (Avro dicts): ids, band keys, sketches, published
    days and feed items, as a run computes them."""
    signatures = minhash.signatures([fold(" ".join(a["body"])) for a in articles])
    links = ((row, _identity(article)) for row, article in enumerate(articles))
    return IndexBatch(
        ids=ids_array([article["id"] for article in articles]),
        bands=minhash.band_keys(signatures).astype("<u4").reshape(-1, minhash.BANDS),
        sketches=minhash.sketch(signatures).reshape(-1, minhash.NUM_PERM),
        links={row: (identity,) for row, identity in links if identity},
        days=np.array([a["published_date"].toordinal() for a in articles], dtype=np.int64),
    )


def _lake_entries(lake: str) -> IndexBatch:
    """Every article of the lake as an index entry, with its duplicates' feed items."""
    batches, chunk = [], []
    for article in _records(lake, "articles"):
        chunk.append(article)
        if len(chunk) == _CHUNK:
            batches.append(sketched(chunk))
            chunk = []
    if chunk:
        batches.append(sketched(chunk))
    batch = IndexBatch.concat(batches)
    rows = {key.decode("ascii"): row for row, key in enumerate(batch.ids.tolist())}
    links = {row: list(found) for row, found in batch.links.items()}
    for duplicate in _records(lake, "duplicates"):
        row = rows.get((duplicate.get("dedup") or {}).get("duplicate_of"))
        identity = _identity(duplicate)
        if row is not None and identity:
            links.setdefault(row, []).append(identity)
    found = {row: tuple(dict.fromkeys(items)) for row, items in links.items()}
    return dataclasses.replace(batch, links=found)


def _files(lake: str, folder: str) -> list[str]:
    return [m.path for m in files_below(FileSystems.join(lake, folder), "**/*.avro")]


def _commit(
    lake: str,
    lease: WriterLease,
    folder: str,
    blocks: dict[str, list[dict[str, Any]]],
    **details: Any,
) -> dict[str, Any]:
    """Stage ``blocks`` (records by destination folder), replacing every file of ``folder``."""
    started = dt.datetime.now(dt.timezone.utc)
    run_id = operation_id("repair")
    output = LakeOutput(lake, make_staging(lake, run_id, lease.generation), run_id, codec="null")
    name = tier_name(TOP_LEVEL, run_id)
    outputs = []
    for destination, records in sorted(blocks.items()):
        published = write_dicts(output, destination, records, name, "null")
        outputs.append({**dataclasses.asdict(published), "records": len(records)})
    replaced = _files(lake, folder)
    manifest = operation_manifest(
        lake, run_id, "repair", started, outputs, replaced, rebuilt=folder, **details
    )
    commit_run(lake, manifest, lease)
    return manifest


def rebuild_index(lake: str, lease: WriterLease) -> dict[str, Any]:
    """Replace the lake's whole index with one rebuilt from its articles and duplicates;
    the commit's manifest."""
    entries = _lake_entries(lake)
    blocks = index_blocks(entries) if len(entries) else {}
    return _commit(lake, lease, INDEX_FOLDER, blocks, articles=len(entries))


def rebuild_catalog(lake: str, lease: WriterLease) -> dict[str, Any]:
    """Replace the drop catalog with one holding every drop of the committed manifests and
    of the catalog files still readable; the commit's manifest."""
    entries: dict[str, dict[str, Any]] = {}
    for path in _files(lake, CATALOG_FOLDER):
        for entry in catalog_file(path):
            entries.setdefault(entry["sha256"], entry)
    paths = [m.path for m in files_below(FileSystems.join(lake, "_runs"), "*.json")]
    manifests = [check_manifest(lake, read_document(p, "a run manifest"), p) for p in paths]
    for entry in catalog_entries(manifests):
        entries.setdefault(entry["sha256"], entry)
    drops = list(entries.values())
    blocks = {f"{CATALOG_FOLDER}/drops": drops} if drops else {}
    return _commit(lake, lease, CATALOG_FOLDER, blocks, drops=len(drops))
