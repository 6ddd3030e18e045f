"""Lake index files written for tests, and the articles and sketches that go in them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import random
from pathlib import Path

import fastavro

import schemas
from pipeline.core.records import IndexBatch
from pipeline.dedup.decide import decide_batches
from pipeline.dedup.sketch import SketchBatch, sketch_article
from pipeline.lake.index import index_blocks
from tests.conftest import make_article
from tests.support.stories import article


def write_index(lake: Path, batch: IndexBatch, name: str = "L0-run") -> None:
    """The index files a run that kept ``batch`` would leave in ``lake``."""
    for folder, records in index_blocks(batch).items():
        path = lake / folder / f"{name}.avro"
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        fastavro.writer(buffer, schemas.load("IndexBlock"), records)
        path.write_bytes(buffer.getvalue())


def story(body, index: int, published: dt.date, guid=None, item_url=None):
    """An article of ``body`` published on ``published``, from a feed item when ``guid`` or
    ``item_url`` is given."""
    base = article(body, index=index)
    source = dataclasses.replace(base.source, guid=guid, item_url=item_url)
    return make_article(**{**vars(base), "published_date": published, "source": source})


def kept(*articles) -> IndexBatch:
    """What a run that kept ``articles`` adds to the index, days and feed keys included."""
    run = SketchBatch.of([sketch_article(a) for a in articles])
    _, additions = decide_batches(run, IndexBatch.of([]))
    return additions


def distinct(n: int) -> list[str]:
    """A body no other ``n`` shares a shingle with."""
    rng = random.Random(n)
    return [" ".join(f"w{rng.randrange(10**9)}" for _ in range(60))]


def run_of(*articles) -> SketchBatch:
    return SketchBatch.of([sketch_article(a) for a in articles])
