"""The records that flow between stages, and their Avro form at the sink.

One article type flows through the pipeline (like datatrove's ``Document``). The lake's
writers encode these records directly (:mod:`pipeline.core.avro_binary`); :func:`to_avro` gives
the dict fastavro writes for one, the reference the tests hold those encoders to. The
shapes follow ``schemas/*.avsc``, and a unit test holds the two together field by field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from pipeline.core import minhash

__all__ = [
    "UNCLASSIFIED",
    "Article",
    "Dateline",
    "Dedup",
    "IndexBatch",
    "IndexEntry",
    "Lineage",
    "Region",
    "Reject",
    "RunContext",
    "Segment",
    "Source",
    "Topic",
    "article_key",
    "evolve",
    "ids_array",
    "is_duplicate",
    "partition_date",
    "primary_topic",
    "segment_key",
    "to_avro",
    "unchecked",
]


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What every record of one run shares."""

    run_id: str
    ingest_time: dt.datetime
    pipeline_version: str


@dataclasses.dataclass(frozen=True)
class Lineage:
    source_uri: str
    source_sha256: str
    segment_index: int
    byte_offset: int
    byte_length: int
    encoding: str
    ingest_time: dt.datetime
    run_id: str
    pipeline_version: str


@dataclasses.dataclass(frozen=True)
class Dateline:
    city: str
    date_text: str
    agency: str | None = None


@dataclasses.dataclass(frozen=True)
class Source:
    channel: str | None = None
    origin: str | None = None
    lines: tuple[str, ...] = ()
    declared_region: str | None = None
    translated: bool = False
    feed_url: str | None = None
    item_url: str | None = None
    author: str | None = None
    guid: str | None = None
    categories: tuple[str, ...] = ()
    milosi_channel: str | None = None
    origin_url: str | None = None


@dataclasses.dataclass(frozen=True)
class Region:
    country: str | None = None
    subregion: str | None = None
    subregion_m49: str | None = None
    region: str = "unknown"
    region_m49: str | None = None
    method: str = "none"
    mentioned: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Topic:
    code: str
    label: str
    level: int
    top_level: str
    score: float


@dataclasses.dataclass(frozen=True)
class Dedup:
    copies: int = 0
    duplicate_of: str | None = None
    kind: str | None = None
    similarity: float | None = None


@dataclasses.dataclass(frozen=True)
class IndexEntry:
    """A kept article in the lake's deduplication index: its id, band keys and sketch."""

    id: str
    bands: bytes
    sketch: bytes
    links: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, eq=False)
class IndexBatch:
    """Index entries that travel together (one index file, or one run's new entries), as
    arrays: about 210 bytes an entry, where :class:`IndexEntry` objects take about 600.

    One Beam element, pickled in one call (Beam's default coder encodes a list item by
    item, pickling each entry apart). Iterating gives :class:`IndexEntry` objects.
    """

    ids: np.ndarray  # (n,) S32: content ids, 32 hex digits
    bands: np.ndarray  # (n, BANDS) <u4: LSH band keys
    sketches: np.ndarray  # (n, NUM_PERM) u1: b-bit sketches
    links: dict[int, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # row: links
    # (n,) int64: published day (date ordinal) of a run's new entry; 0 where unknown (an
    # entry of the lake's, which the run only adds links to). None: no row's day is known.
    days: np.ndarray | None = None

    @classmethod
    def of(cls, entries: Iterable[IndexEntry]) -> IndexBatch:
        entries = list(entries)
        return cls(
            ids=ids_array([entry.id for entry in entries]),
            bands=np.frombuffer(b"".join(e.bands for e in entries), dtype="<u4").reshape(
                len(entries), minhash.BANDS
            ),
            sketches=np.frombuffer(b"".join(e.sketch for e in entries), dtype=np.uint8).reshape(
                len(entries), minhash.NUM_PERM
            ),
            links={row: entry.links for row, entry in enumerate(entries) if entry.links},
        )

    @classmethod
    def concat(cls, batches: Iterable[IndexBatch]) -> IndexBatch:
        batches = [batch for batch in batches if len(batch)]
        if not batches:
            return cls.of([])
        links, offset = {}, 0
        for batch in batches:
            links.update((offset + row, found) for row, found in batch.links.items())
            offset += len(batch)
        days = None
        if any(batch.days is not None for batch in batches):
            days = np.concatenate(
                [b.days if b.days is not None else np.zeros(len(b), np.int64) for b in batches]
            )
        return cls(
            ids=np.concatenate([batch.ids for batch in batches]),
            bands=np.concatenate([batch.bands for batch in batches]),
            sketches=np.concatenate([batch.sketches for batch in batches]),
            links=links,
            days=days,
        )

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[IndexEntry]:
        for row in range(len(self)):
            yield IndexEntry(
                self.ids[row].decode("ascii"),
                self.bands[row].tobytes(),
                self.sketches[row].tobytes(),
                self.links.get(row, ()),
            )


_CONTENT_ID = re.compile(r"[0-9a-f]{32}")


def ids_array(ids: list[str]) -> np.ndarray:
    """Content ids as a (n,) S32 array, checked: each is 32 hex digits."""
    bad = [i for i in ids if not _CONTENT_ID.fullmatch(i)]
    if bad:
        raise ValueError(f"content ids must be 32 hex digits, not {bad[0]!r}")
    return np.array(ids, dtype="S32") if ids else np.empty(0, dtype="S32")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Article:
    id: str
    title: str
    rubric: str | None
    body: tuple[str, ...]
    language: str
    published_date: dt.date
    published_from: str
    year_from: str | None
    dateline: Dateline | None
    source: Source
    location: Region = Region()
    topics: tuple[Topic, ...] = ()
    topics_from: str = "terms"
    dedup: Dedup = Dedup()
    word_count: int
    lineage: Lineage


@dataclasses.dataclass(frozen=True)
class Reject:
    stage: str
    reason: str
    message: str
    raw: bytes
    lineage: Lineage
    guid: str | None = None  # a feed item's
    item_url: str | None = None  # a feed item's link


@dataclasses.dataclass(frozen=True)
class Segment:
    """One article's worth of bytes cut from a drop, before parsing.

    ``raw`` is exactly ``source[offset:offset + length]``. ``ended_by`` says what ended it:
    ``separator``, ``footer``, ``next_title``, ``end_of_file``, or ``oversize`` when the
    splitter found no boundary within its size limit. ``encoding`` is the drop's encoding
    when the splitter knew it from the file's BOM (``utf-16-le``, ``utf-16-be``: a segment's
    bytes alone do not say), else None and the parser finds out.
    """

    source_uri: str
    source_sha256: str
    index: int
    offset: int
    raw: bytes
    reference_date: dt.date | None
    year_from: str | None
    ended_by: str = "end_of_file"
    encoding: str | None = None

    @property
    def length(self) -> int:
        return len(self.raw)

    @property
    def where(self) -> str:
        """The segment, for messages."""
        return f"{self.source_uri} at byte {self.offset}"

    def lineage(self, encoding: str, run: RunContext) -> Lineage:
        """The lineage of a record made from this segment."""
        return Lineage(
            source_uri=self.source_uri,
            source_sha256=self.source_sha256,
            segment_index=self.index,
            byte_offset=self.offset,
            byte_length=self.length,
            encoding=encoding,
            ingest_time=run.ingest_time,
            run_id=run.run_id,
            pipeline_version=run.pipeline_version,
        )


UNCLASSIFIED = "unclassified"


def segment_key(source_uri: str, segment_index: int) -> str:
    """Unique within a run: where an article's bytes came from."""
    return f"{source_uri}#{segment_index}"


def article_key(article: Article) -> str:
    """Unique within a run: where the article's bytes came from."""
    return segment_key(article.lineage.source_uri, article.lineage.segment_index)


def evolve(record: Article, **changes: Any) -> Article:
    """``dataclasses.replace`` for the hot path: a copy with ``changes``, without ``__init__``.

    A frozen dataclass's ``__init__`` sets each of an article's 15 fields through
    ``object.__setattr__`` (about 13 us); copying the instance dict takes about 3. Nothing is
    checked: the caller passes field names and values of the right types.
    """
    return unchecked(type(record), **{**record.__dict__, **changes})


def unchecked(kind: type, **fields: Any) -> Any:
    """An instance of the frozen dataclass ``kind`` with ``fields``, set without ``__init__``
    (half the cost for a Topic). For the hot path: the caller passes every field, right."""
    record = object.__new__(kind)
    record.__dict__.update(fields)
    return record


def is_duplicate(record: object) -> bool:
    """True for an article that deduplication did not keep."""
    return isinstance(record, Article) and record.dedup.duplicate_of is not None


def partition_date(record: Article | Reject) -> dt.date:
    """The ``dt=`` partition of a record: an article's published date, else the ingest date."""
    if isinstance(record, Article):
        return record.published_date
    return record.lineage.ingest_time.date()


def primary_topic(article: Article) -> str:
    """The top-level slug of the article's best topic, or ``unclassified``."""
    return article.topics[0].top_level if article.topics else UNCLASSIFIED


def to_avro(record: Article | Reject | IndexEntry) -> dict[str, Any]:
    """The dict fastavro writes for ``record`` under its schema (the lake itself is written by
    :mod:`pipeline.core.avro_binary`, which gives the same bytes without the dict).

    Like ``dataclasses.asdict`` without its deep copies (about 0.3 ms an article): the
    instance dicts are copied in C and only nested records and tuples are converted (tuples
    to lists, which fastavro writes faster).
    """
    return _as_dict(record)


def _as_dict(record: Any) -> dict[str, Any]:
    fields = dict(record.__dict__)
    for name, value in fields.items():
        kind = type(value)
        if kind in _PLAIN:
            continue
        if kind is tuple:
            plain = not value or type(value[0]) in _PLAIN  # a tuple holds one kind of item
            fields[name] = list(value) if plain else [_as_dict(item) for item in value]
        elif dataclasses.is_dataclass(value):
            fields[name] = _as_dict(value)
    return fields


_PLAIN = frozenset({str, bytes, int, float, bool, type(None), dt.date, dt.datetime})
