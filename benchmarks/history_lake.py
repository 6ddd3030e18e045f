"""Lake histories in today's on-disk format, written directly: a year of runs in seconds.

Guarantees: a built history holds what ``runs`` runs of today's feedlake leave in a lake,
in the files and names they write (:mod:`benchmarks.history_run`): per run an ``_index/``
file and a committed ``_runs/`` manifest, and with ``articles`` its article and duplicate
files. Without, the manifests still name those files but they are not written: a run of
today's code never opens an older run's data files.

Run ids carry the run's time: runs are spread evenly over the ``days`` that end on
:data:`LAST_DAY`, so an index windowed by date can be tested on them. A few entries come from
real text (:func:`planted`): stories of the last days and of the first day, parsed and
sketched by the pipeline's own functions, so that a drop carrying copies of them shows
whether a run still catches a copy of a year-old story.

A history is cached under its key (shape, seed, and :data:`FORMAT`: the schema versions and
this builder's version); a folder without its ``history.json``, written last, is rebuilt.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

import schemas
from benchmarks.corpus import new_stories, render
from benchmarks.history_run import Planted, derived_seed, parsed, plan_run, pool, write_run
from pipeline.core.records import RunContext
from pipeline.core.version import __version__
from pipeline.dedup.sketch import SketchBatch

__all__ = ["FORMAT", "LAST_DAY", "SHAPES", "History", "Shape", "build", "cached", "planted"]

LAST_DAY = dt.date(2025, 8, 29)  # the real drop's date; the benchmark's drop is the day after
RECENT_DAYS = 3
PLANTED_RECENT = 30  # real-text entries over the last RECENT_DAYS days
PLANTED_OLDEST = 2  # and on the first day
BUILDER = 1  # bump when what build() writes changes: cached histories are then rebuilt
FORMAT = (
    f"index{schemas.version('IndexEntry')}-article{schemas.version('Article')}-builder{BUILDER}"
)


@dataclasses.dataclass(frozen=True)
class Shape:
    """How a lake was fed: ``runs_per_day`` runs a day for ``days`` days, each keeping
    ``kept`` articles read from ``drops`` drop files, ``links`` of them feed items (their
    index entries carry the item's guid and link)."""

    name: str
    runs_per_day: int
    kept: int
    drops: int
    days: int = 365
    links: float = 0.1

    def __post_init__(self) -> None:
        if min(self.runs_per_day, self.kept, self.drops, self.days) < 1 or self.runs_per_day > 24:
            raise ValueError(f"Shape {self.name}: counts must be positive, at most 24 runs a day")
        if not 0 <= self.links <= 1:
            raise ValueError(f"Shape {self.name}: links is a share, from 0 to 1")

    @property
    def runs(self) -> int:
        return self.days * self.runs_per_day

    @property
    def first_day(self) -> dt.date:
        return LAST_DAY - dt.timedelta(days=self.days - 1)

    def scaled(self, scale: float) -> Shape:
        """The same feeding over ``scale`` times as many days (at least one)."""
        return dataclasses.replace(self, days=max(1, round(self.days * scale)))

    def started(self, run: int) -> dt.datetime:
        """When run ``run`` started: 06:00 UTC for a daily run, five past its hour else."""
        day, slot = divmod(run, self.runs_per_day)
        midnight = dt.datetime.combine(self.first_day, dt.time(), dt.timezone.utc)
        if self.runs_per_day == 1:
            return midnight + dt.timedelta(days=day, hours=6)
        hour = slot * 24 // self.runs_per_day
        return midnight + dt.timedelta(days=day, hours=hour, minutes=5)

    def run_on(self, day: dt.date, order: int) -> int:
        """The run of ``day`` that holds the ``order``-th planted entry."""
        return (day - self.first_day).days * self.runs_per_day + (7 * order) % self.runs_per_day

    def key(self, seed: int, articles: bool) -> str:
        data = "-articles" if articles else ""
        shape = f"{self.name}-{self.days}d-{self.runs}x{self.kept}-links{self.links:g}"
        return f"{shape}-seed{seed}-{FORMAT}{data}"


SHAPES = {
    "daily": Shape("daily", runs_per_day=1, kept=5_000, drops=5),
    "hourly": Shape("hourly", runs_per_day=24, kept=200, drops=1),
}


@dataclasses.dataclass(frozen=True)
class History:
    """A built history: its lake and what it holds."""

    lake: Path
    shape: Shape
    entries: int
    files: int
    bytes: int
    build_seconds: float
    planted: dict[str, str]  # planted id: its group


@functools.cache
def planted(days: int, seed: int) -> tuple[Planted, ...]:
    """The real-text entries of a history of ``days`` days: :data:`PLANTED_RECENT` stories
    over its last days (at most :data:`RECENT_DAYS`), :data:`PLANTED_OLDEST` on its first."""
    run = RunContext("planted", dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), __version__)
    groups = [
        (LAST_DAY - dt.timedelta(days=k % min(days, RECENT_DAYS)), "recent")
        for k in range(PLANTED_RECENT)
    ]
    groups += [(LAST_DAY - dt.timedelta(days=days - 1), "oldest")] * PLANTED_OLDEST
    found = []
    for order, (day, group) in enumerate(groups):
        seeded = derived_seed(seed, f"planted {order}")
        (story,) = new_stories(1, seed=seeded, day=day.day, month=day.month)
        (article,) = parsed(render(story, random.Random(seeded)).encode("utf-8"), day, run)
        if article.published_date != day:
            raise RuntimeError(f"planted story of {day} parsed as {article.published_date}")
        entries = SketchBatch.of_articles([article]).entries
        bands, sketch = entries.bands[0].tobytes(), entries.sketches[0].tobytes()
        found.append(Planted(story, day, group, article, bands, sketch))
    return tuple(found)


def _folder_size(folder: Path) -> tuple[int, int]:
    """Files and bytes below ``folder``."""
    files = size = 0
    for path in folder.rglob("*"):
        if path.is_file():
            files += 1
            size += path.stat().st_size
    return files, size


def build(shape: Shape, folder: Path, *, seed: int = 0, articles: bool = False) -> History:
    """Write the history of ``shape`` into ``folder/lake`` (which must not exist yet), and
    what it holds into ``folder/history.json``, last."""
    begun = time.perf_counter()
    lake = folder / "lake"
    (lake / "_index").mkdir(parents=True)
    (lake / "_runs").mkdir()
    articles_pool = pool(seed)
    plants = planted(shape.days, seed)
    by_run: dict[int, list[Planted]] = {}
    for order, plant in enumerate(plants):
        by_run.setdefault(shape.run_on(plant.day, order), []).append(plant)
    step = max(1, shape.runs // 10)
    for number in range(shape.runs):
        rng = np.random.default_rng([seed, number])
        plants_of_run = by_run.get(number, [])
        plan = plan_run(
            shape.started(number),
            shape.kept,
            shape.drops,
            rng,
            articles_pool,
            plants_of_run,
            shape.links,
        )
        write_run(lake, plan, articles)
        if (number + 1) % step == 0:
            print(
                f"  {shape.name}: {number + 1:,}/{shape.runs:,} runs written "
                f"({time.perf_counter() - begun:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    files, size = _folder_size(lake)
    history = History(
        lake=lake,
        shape=shape,
        entries=shape.runs * shape.kept,
        files=files,
        bytes=size,
        build_seconds=round(time.perf_counter() - begun, 1),
        planted={plant.id: plant.group for plant in plants},
    )
    document = {
        **dataclasses.asdict(history),
        "lake": str(lake),
        "seed": seed,
        "format": FORMAT,
        "articles": articles,
    }
    (folder / "history.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    return history


def cached(shape: Shape, work: Path, *, seed: int = 0, articles: bool = False) -> History:
    """The history of ``shape`` under ``work/histories``, built unless a complete one is there."""
    folder = work / "histories" / shape.key(seed, articles)
    summary = folder / "history.json"
    if summary.exists():
        document = json.loads(summary.read_text(encoding="utf-8"))
        names = {field.name for field in dataclasses.fields(History)}
        found = {name: value for name, value in document.items() if name in names}
        return History(
            **{**found, "lake": Path(document["lake"]), "shape": Shape(**document["shape"])}
        )
    if folder.exists():
        shutil.rmtree(folder)  # an interrupted build
    return build(shape, folder, seed=seed, articles=articles)
