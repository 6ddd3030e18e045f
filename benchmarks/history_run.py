"""One run of today's feedlake, written without running it: the files it leaves in a lake.

Guarantees: :func:`write_run` writes what a run that kept ``kept`` articles from ``drops``
drop files leaves, named as it names them: its ``_index/`` file (one IndexEntry a kept
article: a distinct random id, the band keys and sketch of a random MinHash signature, a feed
guid and link on a given share of them; :class:`Planted` entries carry real text's
instead), its manifest in ``_runs/`` (``status: succeeded``, the drops read with uri, size,
sha256 and modified, the files written, the counts), and with ``articles`` its article and
duplicate files, one per partition. History articles borrow text, source and partition from
a :func:`pool` of real articles (parsed and classified by the pipeline's functions) and are
re-dated: :data:`DAYS_BEFORE` says how old the news a run reads is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from benchmarks.corpus import Story, generate
from connectors.inputs import Drop
from pipeline.classify.classifier import classifier
from pipeline.core import minhash
from pipeline.core.records import Article, Dedup, Lineage, RunContext, evolve, to_avro
from pipeline.core.version import __version__
from pipeline.lake.files import avro_writer
from pipeline.lake.manifest import software_versions
from pipeline.lake.paths import PARTITION_KEYS, file_name, partition_of
from pipeline.parse.articles import parse_segment
from pipeline.parse.split import segments_of

__all__ = [
    "POOL",
    "Planted",
    "Pool",
    "RunPlan",
    "derived_seed",
    "parsed",
    "plan_run",
    "pool",
    "write_avro",
    "write_run",
]

DUPLICATE_SHARE = 0.2  # duplicates a run found, per kept article (half exact, half near)
# How many days before its run an article was published: mostly that day's news.
DAYS_BEFORE = np.array([0.85, 0.10, 0.01, 0.01, 0.01, 0.01, 0.005, 0.005])
DROP_BYTES = 3_400  # bytes of drop text an article, as benchmarks.corpus writes them
POOL = 1_000  # real articles whose text, source and partition history articles take
POOL_DAY = dt.date(2025, 8, 29)
_DROPS_FOLDER = "/srv/milosi/drops"


@dataclasses.dataclass(frozen=True)
class Planted:
    """A history entry made from real text, for a drop to copy."""

    story: Story
    day: dt.date
    group: str  # "recent" (the last days) or "oldest" (the first day)
    article: Article  # as the pipeline parsed and classified it
    bands: bytes
    sketch: bytes

    @property
    def id(self) -> str:
        return self.article.id


def derived_seed(seed: int, purpose: str) -> int:
    """A seed of its own for each use of ``seed``: stories drawn for one purpose never
    repeat those drawn for another."""
    return int(hashlib.sha256(f"{purpose}:{seed}".encode()).hexdigest()[:15], 16)


def _drop_name(day: dt.date, slot: str) -> str:
    return f"milosi-{day.isoformat()}-{slot}.txt"


def parsed(data: bytes, day: dt.date, run: RunContext) -> list[Article]:
    """A drop of ``day`` holding ``data``, split, parsed and classified as a run would."""
    drop = Drop(f"{_DROPS_FOLDER}/{_drop_name(day, 'x')}", data, "0" * 64, None, day, "drop_name")
    classify = classifier()
    return [classify.classify(parse_segment(segment, run)) for segment in segments_of(drop)]


@dataclasses.dataclass(frozen=True)
class Pool:
    """Real articles that lend history articles their text, source and partition."""

    articles: list[Article]
    partitions: list[str]  # each one's partition below its dt=, e.g. "region=asia/topic=politics"


@functools.cache
def pool(seed: int) -> Pool:
    """:data:`POOL` distinct benchmarks.corpus articles, parsed and classified."""
    run = RunContext("pool", dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), __version__)
    corpus = generate(
        POOL, exact_rate=0, near_rate=0, seed=derived_seed(seed, "pool"), per_drop=POOL
    )
    (text,) = corpus.drops.values()
    articles = parsed(text.encode("utf-8"), POOL_DAY, run)
    return Pool(articles, [partition_of(a, PARTITION_KEYS).split("/", 1)[1] for a in articles])


def _links(day: dt.date, entry_id: str) -> tuple[str, ...]:
    """A feed item's guid and link."""
    return (
        f"tag:news.example.org,{day.year}:{entry_id[:16]}",
        f"https://news.example.org/{day}/{entry_id[:12]}.html",
    )


@dataclasses.dataclass
class RunPlan:
    """One run of a history: what it kept, what it found duplicate, what it read."""

    run_id: str
    started: dt.datetime
    ids: list[str]
    bands: np.ndarray
    sketches: np.ndarray
    links: dict[int, tuple[str, ...]]
    source: list[Article]  # per kept row: the article it takes text and partition from
    below: list[str]  # per kept row: its partition below dt=
    published: list[dt.date]
    duplicate_of: np.ndarray  # per duplicate: the kept row it copies
    duplicate_source: list[Article]
    duplicate_published: list[dt.date]
    exact: np.ndarray  # per duplicate: an exact copy (else near)
    drops: list[dict]  # uri, sha256, size, modified of each drop read


def plan_run(
    started: dt.datetime,
    kept: int,
    drops: int,
    rng: np.random.Generator,
    pool: Pool,
    plants: list[Planted],
    link_share: float,
) -> RunPlan:
    """A run that started at ``started`` and kept ``kept`` articles (``plants`` among them,
    and ``link_share`` of the others feed items with a guid and link) read from ``drops``
    drop files, drawn from ``rng``."""
    day = started.date()
    signatures = rng.integers(0, 2**32, (kept, minhash.NUM_PERM), dtype=np.uint32)
    bands = minhash.band_keys(signatures).astype("<u4")
    sketches = minhash.sketch(signatures)
    hexed = rng.bytes(16 * kept).hex()
    ids = [hexed[32 * row : 32 * row + 32] for row in range(kept)]
    templates = rng.integers(0, POOL, kept)
    source = [pool.articles[t] for t in templates]
    below = [pool.partitions[t] for t in templates]
    before = rng.choice(len(DAYS_BEFORE), kept, p=DAYS_BEFORE)
    published = [day - dt.timedelta(days=int(b)) for b in before]
    for row, plant in enumerate(plants[:kept]):
        ids[row], source[row], published[row] = plant.id, plant.article, plant.day
        below[row] = partition_of(plant.article, PARTITION_KEYS).split("/", 1)[1]
        bands[row] = np.frombuffer(plant.bands, dtype="<u4")
        sketches[row] = np.frombuffer(plant.sketch, dtype=np.uint8)
    free = np.arange(min(len(plants), kept), kept)
    with_links = rng.choice(free, size=round(len(free) * link_share), replace=False)
    copies = round(kept * DUPLICATE_SHARE)
    duplicate_before = rng.choice(len(DAYS_BEFORE), copies, p=DAYS_BEFORE)
    sizes = rng.integers(DROP_BYTES // 2, DROP_BYTES * 3 // 2, drops)
    return RunPlan(
        run_id=f"{started:%Y%m%dT%H%M%SZ}-{rng.bytes(4).hex()}",
        started=started,
        ids=ids,
        bands=bands,
        sketches=sketches,
        links={int(row): _links(day, ids[row]) for row in sorted(with_links)},
        source=source,
        below=below,
        published=published,
        duplicate_of=rng.integers(0, kept, copies),
        duplicate_source=[pool.articles[t] for t in rng.integers(0, POOL, copies)],
        duplicate_published=[day - dt.timedelta(days=int(b)) for b in duplicate_before],
        exact=rng.random(copies) < 0.5,
        drops=[
            {
                "uri": f"{_DROPS_FOLDER}/{_drop_name(day, f'{started:%H}h{k}')}",
                "sha256": rng.bytes(32).hex(),
                "size": int(sizes[k]) * (kept + copies) // drops,
                "modified": (started - dt.timedelta(minutes=10)).isoformat(),
            }
            for k in range(drops)
        ],
    )


def _rows_by_destination(run: RunPlan) -> dict[tuple[str, str], list[int]]:
    """Row numbers (kept rows, then duplicates after them) by (kind, partition)."""
    grouped: dict[tuple[str, str], list[int]] = {}
    for row, (published, below) in enumerate(zip(run.published, run.below, strict=True)):
        grouped.setdefault(("articles", f"dt={published}/{below}"), []).append(row)
    for j, published in enumerate(run.duplicate_published):
        grouped.setdefault(("duplicates", f"dt={published}"), []).append(len(run.ids) + j)
    return grouped


def _record(run: RunPlan, row: int, copies: np.ndarray) -> Article:
    """The article record of a row, as the run wrote it."""
    kept = len(run.ids)
    drop = run.drops[row % len(run.drops)]
    if row < kept:
        article, published = run.source[row], run.published[row]
        entry_id, dedup = run.ids[row], Dedup(copies=int(copies[row]))
    else:
        j = row - kept
        article, published = run.duplicate_source[j], run.duplicate_published[j]
        original = run.ids[run.duplicate_of[j]]
        exact = bool(run.exact[j])
        entry_id = original if exact else hashlib.md5(f"{run.run_id}#{row}".encode()).hexdigest()
        dedup = Dedup(0, original, "exact" if exact else "near", 1.0 if exact else 0.85)
    segment = row // len(run.drops)
    lineage = Lineage(
        source_uri=drop["uri"],
        source_sha256=drop["sha256"],
        segment_index=segment,
        byte_offset=segment * DROP_BYTES,
        byte_length=article.lineage.byte_length,
        encoding="utf-8",
        ingest_time=run.started,
        run_id=run.run_id,
        pipeline_version=__version__,
    )
    return evolve(article, id=entry_id, published_date=published, lineage=lineage, dedup=dedup)


def write_avro(path: Path, schema: str, records: Iterable[dict]) -> None:
    """An Avro file of ``records`` (dicts), as the lake's writers write one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        writer = avro_writer(fh, schema)
        for record in records:
            writer.write(record)
        writer.flush()


def write_run(lake: Path, run: RunPlan, articles: bool) -> None:
    """The run's index file, its manifest and, with ``articles``, its data files."""
    name = file_name(run.run_id, 0, 1)
    index = lake / "_index" / name
    write_avro(
        index,
        "IndexEntry",
        (
            {
                "id": i,
                "bands": b.tobytes(),
                "sketch": s.tobytes(),
                "links": list(run.links.get(row, ())),
            }
            for row, (i, b, s) in enumerate(zip(run.ids, run.bands, run.sketches, strict=True))
        ),
    )
    grouped = _rows_by_destination(run)
    outputs = [{"kind": "_index", "partition": "", "path": str(index), "records": len(run.ids)}]
    copies = np.bincount(run.duplicate_of, minlength=len(run.ids))
    for (kind, partition), rows in grouped.items():
        path = lake / kind / partition / name
        if articles:
            write_avro(path, "Article", (to_avro(_record(run, row, copies)) for row in rows))
        outputs.append(
            {"kind": kind, "partition": partition, "path": str(path), "records": len(rows)}
        )
    outputs.sort(key=lambda output: output["path"])
    manifest = _manifest(lake, run, outputs)
    path = lake / "_runs" / f"{run.run_id}.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")


def _manifest(lake: Path, run: RunPlan, outputs: list[dict]) -> dict:
    """The manifest today's feedlake writes for ``run`` (pipeline.lake.manifest.finish_run)."""
    kept, drops = len(run.ids), len(run.drops)
    inputs = []
    for k, drop in enumerate(run.drops):
        articles = len(range(k, kept, drops))
        rows = np.arange(kept + (k - kept) % drops, kept + len(run.exact), drops) - kept
        exact = int(run.exact[rows].sum())
        by_kind = {kind: n for kind, n in (("exact", exact), ("near", len(rows) - exact)) if n}
        segments = articles + len(rows)
        inputs.append(
            {
                **drop,
                "articles": articles,
                "duplicates": len(rows),
                "duplicates_by_kind": by_kind,
                "endings": {"footer": segments},
                "reference_date": run.started.date().isoformat(),
                "rejects": 0,
                "rejects_by_reason": {},
                "segments": segments,
                "type": "drop",
                "year_from": "drop_name",
            }
        )
    exact = int(run.exact.sum())
    by_kind = {kind: n for kind, n in (("exact", exact), ("near", len(run.exact) - exact)) if n}
    seconds = round(10 + 0.004 * (kept + len(run.exact)), 3)
    return {
        "run_id": run.run_id,
        "status": "succeeded",
        "problems": [],
        "started": run.started.isoformat(),
        "finished": (run.started + dt.timedelta(seconds=seconds)).isoformat(),
        "seconds": seconds,
        "lake": str(lake),
        "runner": "DirectRunner",
        "versions": software_versions(),
        "inputs": sorted(inputs, key=lambda i: (i["type"], i["uri"])),
        "skipped": [],
        "outputs": outputs,
        "counts": {
            "drops": drops,
            "feeds": 0,
            "feeds_by_outcome": {},
            "bytes": sum(drop["size"] for drop in run.drops),
            "segments": kept + len(run.exact),
            "articles": kept,
            "duplicates": len(run.exact),
            "duplicates_by_kind": by_kind,
            "rejects": 0,
            "rejects_by_reason": {},
            "files": len(outputs),
            "records_written": {
                "articles": kept,
                "duplicates": len(run.exact),
                "rejects": 0,
                "_index": kept,
            },
        },
    }
