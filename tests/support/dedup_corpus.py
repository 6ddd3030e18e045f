"""A run of articles that exercises every rung of deduplication against a lake's history:
exact, near and feed-item copies within the run, copies of what the history holds (inside
the near window, and a year old: caught by id or feed item only), and ties in keep order
(one day, one drop file name in two folders, positions)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from pathlib import Path

from pipeline.core.records import Article
from tests.support.index import kept, write_index
from tests.support.stories import article, reworded

SOURCES = (
    "/drops/a/milosi-2025-08-29.txt",
    "/drops/b/milosi-2025-08-29.txt",  # the same file name: keep order goes by URI
    "/drops/milosi-2025-08-30.txt",
    "https://feeds.example/rss",
)
FEED = SOURCES[3]


def _body(rng: random.Random, words: int = 150) -> list[str]:
    return [" ".join(f"w{rng.randrange(10**6)}" for _ in range(words))]


def _as_item(record: Article, guid: str) -> Article:
    return dataclasses.replace(record, source=dataclasses.replace(record.source, guid=guid))


def _on(record: Article, day: dt.date) -> Article:
    return dataclasses.replace(record, published_date=day)


def build(lake: Path, seed: int = 0, stories: int = 40) -> list[Article]:
    """Write a history into ``lake``'s index (two files per folder, as two runs leave them)
    and return the run's articles, in no particular order."""
    rng = random.Random(seed)
    bodies = [_body(rng) for _ in range(stories)]
    positions = dict.fromkeys(SOURCES, 0)

    def appear(body, source: str, day: int, **changes) -> Article:
        positions[source] += 1
        return article(body, uri=source, index=positions[source], day=day, **changes)

    history = [
        article(bodies[n], uri="/old/milosi-2025-08-10.txt", index=n, day=10) for n in range(6)
    ]  # inside the near window of a run of Aug. 28-30
    year_ago = dt.date(2024, 8, 29)
    history += [
        _on(article(bodies[n], uri="/old/milosi-2024-08-29.txt", index=n), year_ago)
        for n in range(6, 10)
    ]
    history[8] = _as_item(history[8], "urn:story:8")  # a feed item the lake saw a year ago
    history[9] = _as_item(history[9], "urn:story:9")
    write_index(lake, kept(*history[::2]), "L0-one")
    write_index(lake, kept(*history[1::2]), "L0-two")

    run = []
    for n, body in enumerate(bodies):
        for copy in range(rng.randrange(1, 5)):
            source = rng.choice(SOURCES[:3])
            day = rng.randrange(28, 31)
            roll = rng.random()
            if copy == 0 or roll < 0.3:
                run.append(appear(body, source, day, title=rng.choice(["Title", "UPDATE: Title"])))
            elif roll < 0.8:
                run.append(
                    appear(reworded(body, rng.randrange(1, 5), seed=rng.random()), source, day)
                )
            else:  # a feed item of the story, its guid the story's
                run.append(_as_item(appear(body, FEED, day), f"urn:story:{n}"))
    # The same feed item again with other text: a link copy, in the run and of the history.
    for n in (3, 8, 9, 12):
        run.append(_as_item(appear(_body(rng), FEED, 29), f"urn:story:{n}"))
    return run
