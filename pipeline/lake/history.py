"""Read the lake's deduplication index (``<lake>/_index/``) and drop catalog (``<lake>/_catalog/``).

Guarantees: a run reads only what it needs of the lake's history, so its cost is set by what
it reads, not by how many runs came before: every kept article's id and every feed item's key
over the whole history (packed, 16 bytes an id; a few files, tiered by compaction), and the
MinHash band keys and sketches of the articles published within ``window`` days of the run's
own, of which only the entries that share a band key with one of the run's articles are kept
in memory. The drop catalog says which drops committed runs read, without opening any manifest.

Index format 2 (this module): ``_index/ids/``, ``_index/links/`` and
``_index/near/dt=YYYY-MM-DD/`` hold :class:`feedlake.IndexBlock` records, arrays of entries
packed in bytes. Format 1 (feedlake before 0.2) kept one ``_index/<run_id>-*.avro`` file of
:class:`feedlake.IndexEntry` records per run; :func:`legacy_index_files` finds them for the
migration (:mod:`pipeline.lake.meta`).

A file of the index or the catalog that does not read back as its records (cut short,
garbled) raises :class:`~pipeline.lake.confine.DamagedLakeFile` naming it, never fastavro's
own error: ``feedlake repair`` moves it aside and rebuilds what it held.
"""

from __future__ import annotations

import binascii
import contextlib
import dataclasses
import datetime as dt
import hashlib
import struct
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import fastavro
import numpy as np
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from fastavro.read import SchemaResolutionError

import schemas
from pipeline.core import minhash
from pipeline.core.records import IndexBatch, IndexEntry
from pipeline.lake.confine import DamagedLakeFile, damaged
from pipeline.lake.storage import files_below

__all__ = [
    "CATALOG_FOLDER",
    "INDEX_FOLDER",
    "NEAR_WINDOW_DAYS",
    "TIER_FILES",
    "Catalog",
    "KnownItems",
    "LakeHistory",
    "catalog_entries",
    "catalog_file",
    "history_files",
    "history_for",
    "ids_of",
    "index_records",
    "key_of",
    "legacy_index_files",
    "read_blocks",
    "read_catalog",
    "read_index_file",
    "reading_records",
    "tiered_files",
]

INDEX_FOLDER = "_index"
CATALOG_FOLDER = "_catalog"
TIER_FILES = "**/L*-*.avro"  # every index or catalog file below a folder: L<level>-<name>.avro
NEAR_WINDOW_DAYS = 30  # near copies of a story are rare after a month; exact ones never are
_EPOCH = dt.date(1970, 1, 1).toordinal()


def key_of(link: str) -> bytes:
    """The 16-byte key a feed item's guid (or link) is indexed by."""
    return hashlib.sha256(link.encode("utf-8")).digest()[:16]


def ids_of(ids: np.ndarray) -> np.ndarray:
    """Content ids (S32, hex) as 16-byte keys (S16)."""
    if not len(ids):
        return np.empty(0, dtype="S16")
    return np.frombuffer(binascii.unhexlify(b"".join(ids.tolist())), dtype="S16")


ENTRIES_PER_BLOCK = 65_536  # about 1 MB of ids, 16 MB of near entries: what a reader holds


def index_records(
    kind: str,
    keys: np.ndarray,
    days: np.ndarray | None,
    ids: np.ndarray | None = None,
    bands: np.ndarray | None = None,
    sketches: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """IndexBlock records of :data:`ENTRIES_PER_BLOCK` entries at most, in the order given
    (sorted keys stay sorted across blocks); ``days`` are date ordinals (None for links)."""

    def packed(values: np.ndarray | None, start: int, stop: int, dtype: str) -> bytes:
        return b"" if values is None else values[start:stop].astype(dtype).tobytes()

    since_epoch = None if days is None else days.astype(np.int64) - _EPOCH
    return [
        {
            "kind": kind,
            "count": min(ENTRIES_PER_BLOCK, len(keys) - start),
            "keys": packed(keys, start, start + ENTRIES_PER_BLOCK, "S16"),
            "ids": packed(ids, start, start + ENTRIES_PER_BLOCK, "S16"),
            "days": packed(since_epoch, start, start + ENTRIES_PER_BLOCK, "<i4"),
            "bands": packed(bands, start, start + ENTRIES_PER_BLOCK, "<u4"),
            "sketches": packed(sketches, start, start + ENTRIES_PER_BLOCK, "u1"),
        }
        for start in range(0, max(len(keys), 1), ENTRIES_PER_BLOCK)
    ]


@dataclasses.dataclass(frozen=True)
class _Block:
    kind: str
    keys: np.ndarray  # (n,) S16
    since_epoch: np.ndarray | None  # (n,) <i4 days since 1970-01-01; None for links
    ids: np.ndarray | None  # (n,) S16, links only
    bands: np.ndarray | None  # (n, BANDS) <u4
    sketches: np.ndarray | None  # (n, NUM_PERM) u1

    @property
    def days(self) -> np.ndarray:
        """(n,) int64 date ordinals (0 where the block has none)."""
        if self.since_epoch is None:
            return np.zeros(len(self.keys), dtype=np.int64)
        return self.since_epoch.astype(np.int64) + _EPOCH


# What fastavro (and a block's own checks) raise on bytes that are not the records they claim.
_UNREADABLE = (
    ValueError,
    EOFError,
    KeyError,
    IndexError,
    TypeError,
    struct.error,
    zlib.error,
    SchemaResolutionError,
)


@contextlib.contextmanager
def reading_records(path: str, what: str) -> Iterator[None]:
    """Read ``path``, a file of ``what`` records, inside this: bytes that are not those
    records raise :class:`~pipeline.lake.confine.DamagedLakeFile` naming it."""
    try:
        yield
    except DamagedLakeFile:
        raise
    except _UNREADABLE as error:
        problem = f"{type(error).__name__}: {error}"
        raise damaged(path, f"does not read back as {what} records ({problem})") from None


def _avro_records(path: str, schema: str) -> Iterator[dict[str, Any]]:
    with (
        reading_records(path, schema),
        FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh,
    ):
        yield from fastavro.reader(fh, reader_schema=schemas.load(schema))


def read_blocks(path: str) -> Iterator[_Block]:
    """The IndexBlock records of one index file, as arrays.

    Raises:
        DamagedLakeFile: the file is not an index file, or a block's arrays disagree with its
            count.
    """
    for record in _avro_records(path, "IndexBlock"):
        with reading_records(path, "IndexBlock"):
            block = _block(path, record)
        yield block


def _block(path: str, record: dict[str, Any]) -> _Block:
    count = record["count"]

    def array(name: str, dtype: str, width: int = 1) -> np.ndarray | None:
        data = record[name]
        if not data:
            return None
        values = np.frombuffer(data, dtype=dtype)
        if len(values) != count * width:
            raise ValueError(f"{path}: {name} holds {len(values)} values for {count} entries")
        return values.reshape(count, width) if width > 1 else values

    keys = array("keys", "S16")
    if keys is None and count:
        raise ValueError(f"{path}: a block of {count} entries has no keys")
    return _Block(
        kind=record["kind"],
        keys=keys if keys is not None else np.empty(0, dtype="S16"),
        since_epoch=array("days", "<i4"),
        ids=array("ids", "S16"),
        bands=array("bands", "<u4", minhash.BANDS),
        sketches=array("sketches", "u1", minhash.NUM_PERM),
    )


def tiered_files(folder: str) -> list[str]:
    """The index or catalog files of one folder (``L<level>-<name>.avro``), in name order."""
    return [metadata.path for metadata in files_below(folder, "L*-*.avro")]


def _sorted_lookup(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Which of ``wanted`` are in ``keys`` (ascending): one binary search each."""
    if not len(keys) or not len(wanted):
        return np.zeros(len(wanted), dtype=bool)
    places = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return keys[places] == wanted


_BUCKETS = 1 << 24  # 16 MB of flags; a 1,000-article run sets about 0.1% of them
_BAND_SALT = (np.arange(minhash.BANDS, dtype=np.uint32) * np.uint32(0x9E3779B9)).astype(np.uint32)


class _RunBands:
    """The run's band keys, for finding the lake's entries that share one: a bitmap of
    salted keys rules out almost every row at a memory read each (about 25 times as fast as
    a binary search of each of 20 keys), and sorted keys confirm the rest."""

    def __init__(self, bands: np.ndarray) -> None:
        self.bitmap = np.zeros(_BUCKETS, dtype=bool)
        self.bitmap[self._buckets(bands).ravel()] = True
        self.sorted = [np.sort(bands[:, band]) for band in range(minhash.BANDS)]

    @staticmethod
    def _buckets(bands: np.ndarray) -> np.ndarray:
        return (bands.astype(np.uint32) ^ _BAND_SALT) & np.uint32(_BUCKETS - 1)

    def sharing(self, bands: np.ndarray) -> np.ndarray:
        """Rows of ``bands`` with a key in the same band as one of the run's."""
        rows = np.flatnonzero(self.bitmap[self._buckets(bands)].any(axis=1))
        if not len(rows):
            return rows
        found = np.zeros(len(rows), dtype=bool)
        for band, keys in enumerate(self.sorted):
            found |= _sorted_lookup(keys, bands[rows, band])
        return rows[found]


def history_for(lake: str, run: IndexBatch, days: np.ndarray, window: int) -> IndexBatch:
    """What the lake's history holds that one run's articles may duplicate.

    Args:
        lake: the lake's root.
        run: the run's articles (ids, band keys, sketches, feed keys by row).
        days: their published days (date ordinals), row by row.
        window: near copies are looked for among articles published at most this many days
            before or after one of the run's.

    Returns:
        Lake entries: every article with the id of one of the run's (its band keys and sketch
        taken from that run article, whose words are the same), every article holding one of
        the run's feed keys, and every article published within the window that shares a band
        key with one of the run's. Each entry once.
    """
    found: dict[bytes, IndexEntry] = {}
    run_ids = ids_of(run.ids)
    if len(run_ids):
        order = np.argsort(run_ids)
        sorted_ids = run_ids[order]
        for path in tiered_files(FileSystems.join(lake, INDEX_FOLDER, "ids")):
            for block in read_blocks(path):
                hit = _sorted_lookup(block.keys, sorted_ids)
                for row in order[hit].tolist():
                    found.setdefault(
                        run_ids[row : row + 1].tobytes(),
                        IndexEntry(
                            run.ids[row].decode(),
                            run.bands[row].tobytes(),
                            run.sketches[row].tobytes(),
                        ),
                    )
    by_key = {key_of(link): link for links in run.links.values() for link in links}
    if by_key:
        wanted = np.sort(np.frombuffer(b"".join(by_key), dtype="S16"))
        for path in tiered_files(FileSystems.join(lake, INDEX_FOLDER, "links")):
            for block in read_blocks(path):
                for row in np.flatnonzero(_sorted_lookup(wanted, block.keys)).tolist():
                    link = by_key[block.keys[row : row + 1].tobytes()]
                    _add(found, block, row, (link,), block.ids[row : row + 1].tobytes())
    if len(run):
        run_bands = _RunBands(run.bands)
        for path in _near_files(lake, days, window):
            for block in read_blocks(path):
                for row in run_bands.sharing(block.bands).tolist():
                    _add(found, block, row, (), block.keys[row : row + 1].tobytes())
    return IndexBatch.of(found.values())


def history_files(lake: str, days: np.ndarray, window: int) -> list[tuple[str, str]]:
    """The index files :func:`history_for` reads for a run of articles published on ``days``,
    as ``(kind, path)`` in the order it reads them: every ``ids`` and ``links`` file, then
    the ``near`` files of the days within ``window`` of one of ``days``. A decision split
    across workers reads them apart, each file on some worker (:func:`read_blocks`)."""
    ids = tiered_files(FileSystems.join(lake, INDEX_FOLDER, "ids"))
    links = tiered_files(FileSystems.join(lake, INDEX_FOLDER, "links"))
    near = _near_files(lake, np.asarray(days, dtype=np.int64), window) if len(days) else []
    return [("ids", p) for p in ids] + [("links", p) for p in links] + [("near", p) for p in near]


def _add(found: dict, block: _Block, row: int, links: tuple[str, ...], key: bytes) -> None:
    """Add the entry of ``block``'s ``row`` under its 16-byte id ``key`` (raw bytes: a numpy
    S16 scalar would lose trailing NULs), or its links to the entry already found."""
    entry = found.get(key)
    if entry is not None:
        if links and not set(links) <= set(entry.links):
            found[key] = dataclasses.replace(entry, links=tuple(dict.fromkeys(entry.links + links)))
        return
    found[key] = IndexEntry(
        binascii.hexlify(key).decode("ascii"),
        block.bands[row].tobytes(),
        block.sketches[row].tobytes(),
        links,
    )


def _near_files(lake: str, days: np.ndarray, window: int) -> list[str]:
    offsets = range(-window, window + 1)
    wanted = sorted({day + offset for day in np.unique(days).tolist() for offset in offsets})
    folders = {f"dt={dt.date.fromordinal(day).isoformat()}": day for day in wanted if day >= 1}
    if not folders:
        return []
    near = FileSystems.join(lake, INDEX_FOLDER, "near")
    if "://" in lake:
        # On an object store each pattern is a listing request (and, through Beam's S3
        # filesystem, a new client): one listing of the near folder, filtered here, costs a
        # request per 1,000 files instead of one per day of the window (61 by default).
        return [
            m.path
            for m in files_below(near, "dt=*/L*-*.avro")
            if m.path[len(near) :].strip("/").split("/", 1)[0] in folders
        ]
    folders_found = (tiered_files(FileSystems.join(near, folder)) for folder in folders)
    return sorted(path for paths in folders_found for path in paths)


@dataclasses.dataclass(frozen=True)
class LakeHistory:
    """A lake's history as the dedup decision asks for it (:func:`history_for`)."""

    lake: str
    window: int = NEAR_WINDOW_DAYS

    def __post_init__(self) -> None:
        if self.window < 0:
            raise ValueError(f"LakeHistory: window must be 0 or more days, not {self.window}")

    def for_run(self, run: IndexBatch, days: np.ndarray) -> IndexBatch:
        return history_for(self.lake, run, days, self.window)

    def files(self, days: np.ndarray) -> list[tuple[str, str]]:
        """The index files a run of articles published on ``days`` reads (:func:`history_files`)."""
        return history_files(self.lake, days, self.window)

    def blocks(self, path: str) -> Iterator[_Block]:
        """The blocks of one of :meth:`files` (:func:`read_blocks`)."""
        return read_blocks(path)


class KnownItems:
    """The feed items a lake's index holds (each by :func:`key_of` its identity), loaded once
    from the ``links`` files: 16 bytes an item."""

    def __init__(self, lake: str) -> None:
        keys = [
            block.keys
            for path in tiered_files(FileSystems.join(lake, INDEX_FOLDER, "links"))
            for block in read_blocks(path)
        ]
        self.keys = np.sort(np.concatenate(keys)) if keys else np.empty(0, dtype="S16")

    def __contains__(self, identity: object) -> bool:
        if not isinstance(identity, str) or not len(self.keys):
            return False
        wanted = np.frombuffer(key_of(identity), dtype="S16")
        return bool(_sorted_lookup(self.keys, wanted)[0])

    def __len__(self) -> int:
        return len(self.keys)


def legacy_index_files(lake: str) -> list[str]:
    """Index files of format 1: ``_index/<run_id>-NNNNN-of-NNNNN.avro``, one per run."""
    return [m.path for m in files_below(FileSystems.join(lake, INDEX_FOLDER), "*.avro")]


def read_index_file(path: str) -> list[IndexEntry]:
    """Every entry of one index file of format 1."""
    return [
        IndexEntry(r["id"], r["bands"], r["sketch"], tuple(r["links"]))
        for r in _avro_records(path, "IndexEntry")
    ]


Catalog = dict[str, dict[str, Any]]  # sha256: {uri, size, modified, run_id}


def read_catalog(lake: str) -> Catalog:
    """Every drop committed runs read, by SHA-256, from the drop catalog's few files."""
    catalog: Catalog = {}
    for path in tiered_files(FileSystems.join(lake, CATALOG_FOLDER, "drops")):
        for entry in catalog_file(path):
            catalog[entry["sha256"]] = entry
    return catalog


def catalog_file(path: str) -> Iterator[dict[str, Any]]:
    """The entries of one file of the drop catalog.

    Raises:
        DamagedLakeFile: the file is not a catalog file.
    """
    return _avro_records(path, "CatalogEntry")


def catalog_entries(manifests: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The catalog entries of committed manifests' drop inputs."""
    return [
        {
            "sha256": entry["sha256"],
            "uri": entry["uri"],
            "size": entry.get("size"),
            "modified": entry.get("modified"),
            "run_id": manifest["run_id"],
        }
        for manifest in manifests
        if manifest.get("status") == "succeeded"
        for entry in manifest.get("inputs", [])
        if entry.get("type", "drop") == "drop" and entry.get("sha256")
    ]
