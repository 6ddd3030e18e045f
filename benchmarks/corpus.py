"""Generate MIL-OSI drops from the real one, with known duplicates.

Distinct articles are built from the real drop's sentences, each sentence reworded at random
so no two articles are near each other; exact copies repeat an article's body under another
title prefix and other header lines; near copies change a few words or drop a paragraph.
Ground truth (and each copy's true Jaccard over word 5-shingles) is written beside the drops.

    python -m benchmarks.corpus --articles 20000 --out /tmp/corpus --seed 1
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import json
import random
import re
from pathlib import Path

from pipeline.core.text import tokens

__all__ = [
    "Corpus",
    "Story",
    "generate",
    "near_copy",
    "new_stories",
    "render",
    "shingles",
    "true_jaccard",
    "write",
]

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "drops" / "milosi-2025-08-29.txt"
FOOTER = (
    "Please note: This information is raw content obtained directly from the source of the "
    "information. It is an accurate report of what the source claims and does not necessarily "
    "reflect the position of MIL-OSI or its clients."
)
CITIES = [
    "BEIJING",
    "URUMQI",
    "Vladivostok",
    "Moscow",
    "KABUL",
    "WINDHOEK",
    "HANOI",
    "BISHKEK",
    "TIANJIN",
    "NEW DELHI",
    "ADDIS ABABA",
    "WASHINGTON",
    "ULAN BATOR",
    "NAIROBI",
    "LIMA",
]
PREFIXES = ["MIL-OSI China: ", "UPDATE: ", "MIL-OSI Russia: "]
CHANNELS = [
    (
        "Translation. Region: Russian Federal –",
        "Source: People's Republic of China in Russian – People's Republic of China in Russian –",
    ),
    ("Region: Asia Pacific –", "Source: Xinhua – Xinhua –"),
]


def shingles(paragraphs: list[str] | tuple[str, ...], size: int = 5) -> set[tuple[str, ...]]:
    """Word ``size``-shingles of the normalised text (what near-duplicate detection compares)."""
    words = tokens(" ".join(paragraphs))
    return {tuple(words[i : i + size]) for i in range(max(1, len(words) - size + 1))}


def true_jaccard(a: list[str], b: list[str]) -> float:
    left, right = shingles(a), shingles(b)
    return len(left & right) / len(left | right) if left | right else 1.0


FIRST_DROP = dt.date(2025, 8, 1)
MONTHS = "Jan. Feb. Mar. Apr. May Jun. Jul. Aug. Sept. Oct. Nov. Dec.".split()


@dataclasses.dataclass
class Story:
    """A story as its dateline dates it: ``day`` of ``month`` (1-12), year left to the drop."""

    title: str
    city: str
    day: int
    paragraphs: list[str]
    month: int = 8


@dataclasses.dataclass
class Corpus:
    drops: dict[str, str]  # file name -> text
    truth: list[dict]  # one entry per article, in drop order

    def size(self) -> int:
        return sum(len(text.encode("utf-8")) for text in self.drops.values())


@functools.cache
def _sentences() -> tuple[list[str], list[str]]:
    text = SAMPLE.read_text(encoding="utf-8")
    body = [line for line in text.splitlines() if len(line) > 120 and "Please note" not in line]
    sentences = [s for line in body for s in re.split(r"(?<=[.!?”])\s+", line) if len(s) > 40]
    vocabulary = sorted({w for w in re.findall(r"[A-Za-z]{4,}", text)})
    return sentences, vocabulary


def _reword(sentence: str, rng: random.Random, vocabulary: list[str], rate: float) -> str:
    return " ".join(
        rng.choice(vocabulary) if rng.random() < rate else token for token in sentence.split()
    )


def _new_story(
    rng: random.Random, sentences: list[str], vocabulary: list[str], day: int | None = None
) -> Story:
    paragraphs = []
    for _ in range(rng.randint(4, 12)):
        picked = rng.sample(sentences, rng.randint(1, 3))
        paragraphs.append(" ".join(_reword(s, rng, vocabulary, 0.25) for s in picked))
    title = " ".join(rng.sample(vocabulary, rng.randint(4, 10))).capitalize()
    city = rng.choice(CITIES)
    return Story(title, city, day or rng.randint(1, 28), paragraphs)


def new_stories(count: int, *, seed: int, day: int, month: int = 8) -> list[Story]:
    """``count`` distinct stories dated ``day`` of ``month``, none near another."""
    rng = random.Random(seed)
    sentences, vocabulary = _sentences()
    return [
        dataclasses.replace(_new_story(rng, sentences, vocabulary, day), month=month)
        for _ in range(count)
    ]


def near_copy(story: Story, rng: random.Random) -> Story:
    """``story`` with a paragraph dropped or a few words changed: a near duplicate."""
    return _near_copy(story, rng, _sentences()[1])


def _near_copy(story: Story, rng: random.Random, vocabulary: list[str]) -> Story:
    paragraphs = list(story.paragraphs)
    if len(paragraphs) > 3 and rng.random() < 0.4:
        del paragraphs[rng.randrange(1, len(paragraphs))]
    else:
        for _ in range(rng.randint(1, 4)):
            index = rng.randrange(len(paragraphs))
            tokens = paragraphs[index].split()
            tokens[rng.randrange(len(tokens))] = rng.choice(vocabulary)
            paragraphs[index] = " ".join(tokens)
    return dataclasses.replace(story, paragraphs=paragraphs)


def render(story: Story, rng: random.Random, title_prefix: str = "") -> str:
    """The story as a MIL-OSI article: title, header lines, dated body, footer."""
    region, source = rng.choice(CHANNELS)
    month = MONTHS[story.month - 1]
    body = [
        f"{story.city}, {month} {story.day} (Xinhua) — {story.paragraphs[0]}",
        *story.paragraphs[1:],
    ]
    body[-1] += rng.choice([" –0–", " -0-", ""])
    lines = [
        title_prefix + story.title,
        region,
        source,
        "An important disclaimer is at the bottom of this article.",
        *body,
        FOOTER,
        ".",
    ]
    return "\n\n".join(lines)


def generate(
    articles: int,
    *,
    exact_rate: float = 0.1,
    near_rate: float = 0.1,
    seed: int = 0,
    per_drop: int = 1000,
    date: dt.date | None = None,
    span_days: int | None = None,
) -> Corpus:
    """A corpus of ``articles`` articles in drops of ``per_drop``, with ground truth.

    Drop ``k`` is named by the day ``k`` days after Aug. 1, 2025 (its reference date), and a
    new story is dated that day or up to two days before, as a daily drop's stories are; its
    copies keep its dateline. With ``date``, every drop and story is of that day. With
    ``span_days``, the corpus is a backfill of archives: the drops' stories are dated over
    ``span_days`` days, each drop an archive of the days since the one before it.
    """
    if not 0 <= exact_rate + near_rate < 1:
        raise ValueError("generate: exact_rate + near_rate must be in [0, 1)")
    rng = random.Random(seed)
    sentences, vocabulary = _sentences()
    stories: list[tuple[Story, dict]] = []
    truth, rendered = [], []
    drops_made = -(-articles // per_drop)
    days_per_drop = max(1, -(-span_days // drops_made)) if span_days else 1
    for position in range(articles):
        number = position // per_drop
        drop_date = date or FIRST_DROP + dt.timedelta(days=(number + 1) * days_per_drop - 1)
        drop = f"milosi-{drop_date.isoformat()}-{number:04d}.txt"
        roll = rng.random()
        entry = {"drop": drop, "position": position % per_drop}
        if stories and roll < exact_rate:
            story, original = rng.choice(stories)
            text = render(story, rng, rng.choice(PREFIXES))
            entry.update(kind="exact", original=original["id"], jaccard=1.0)
        elif stories and roll < exact_rate + near_rate:
            story, original = rng.choice(stories)
            copy = _near_copy(story, rng, vocabulary)
            text = render(copy, rng)
            entry.update(
                kind="near",
                original=original["id"],
                jaccard=round(true_jaccard(story.paragraphs, copy.paragraphs), 4),
            )
        else:
            back = rng.randrange(days_per_drop) if span_days else rng.randint(0, 2)
            dated = date or drop_date - dt.timedelta(days=back)
            story = _new_story(rng, sentences, vocabulary, dated.day)
            story = dataclasses.replace(story, month=dated.month)
            text = render(story, rng)
            entry.update(kind="distinct", original=None, jaccard=None)
            stories.append((story, entry))
        entry["id"] = position
        truth.append(entry)
        rendered.append((drop, text))
    drops: dict[str, list[str]] = {}
    for drop, text in rendered:
        drops.setdefault(drop, []).append(text)
    return Corpus({name: "\n\n".join(parts) + "\n" for name, parts in drops.items()}, truth)


def write(corpus: Corpus, folder: Path) -> None:
    """Drops into ``folder/drops/``, ground truth into ``folder/truth.jsonl``."""
    (folder / "drops").mkdir(parents=True, exist_ok=True)
    for name, text in corpus.drops.items():
        (folder / "drops" / name).write_text(text, encoding="utf-8")
    with (folder / "truth.jsonl").open("w", encoding="utf-8") as fh:
        for entry in corpus.truth:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.corpus", description=__doc__)
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--exact-rate", type=float, default=0.1)
    parser.add_argument("--near-rate", type=float, default=0.1)
    parser.add_argument("--per-drop", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--span-days", type=int, help="a backfill: stories dated over this many days"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    started = dt.datetime.now()
    corpus = generate(
        args.articles,
        exact_rate=args.exact_rate,
        near_rate=args.near_rate,
        seed=args.seed,
        per_drop=args.per_drop,
        span_days=args.span_days,
    )
    write(corpus, args.out)
    seconds = (dt.datetime.now() - started).total_seconds()
    print(
        f"{args.articles} articles, {len(corpus.drops)} drops, {corpus.size():,} bytes "
        f"in {args.out} ({seconds:.1f} s)"
    )


if __name__ == "__main__":
    main()
