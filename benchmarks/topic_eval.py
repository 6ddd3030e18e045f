"""Precision and recall of the top-level topic, and the story country, on a labelled set.

    python -m benchmarks.topic_eval                     # tests/fixtures/labelled_channels.jsonl
    python -m benchmarks.topic_eval --mistakes          # and every wrong item

The set holds articles written in the styles of MIL-OSI's channels (translation service,
Xinhua, Asia-Pacific releases, untranslated Russian items), each labelled with its top-level
IPTC topic and story country before the classifier was tuned on it. Each item is laid out as
its channel lays it out and goes through the parser and the classifier as in a run.

Items with an odd number are the tuning half, those with an even number the held-out half:
the terms were chosen looking at the first only, and the table reports both. Items not in
English are left unclassified on purpose (``topics_from`` ``not_english``): they are counted
apart, not as misses.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections import Counter
from pathlib import Path

from pipeline.classify.classifier import classifier
from pipeline.core.records import RunContext, Segment, primary_topic
from pipeline.parse.articles import parse_segment

__all__ = ["evaluate", "laid_out", "main", "table"]

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "labelled_channels.jsonl"
RUN = RunContext("topic-eval", dt.datetime(2025, 12, 20, tzinfo=dt.timezone.utc), "eval")
_EN = "\u2013"
_XINHUA = "People's Republic of China in Russian"
_DISCLAIMER = "An important disclaimer is at the bottom of this article."
_RELEASE_SOURCE = {
    "HK": f"Source: Hong Kong Government special administrative region {_EN} 4",
    "NZ": "Source: New Zealand Government",
    "SG": "Source: Government of Singapore",
    "PH": "Source: Republic of the Philippines",
    "AU": f"Source: Australian States {_EN} Queensland",
}
_HEADERS = {
    "translation": [
        f"Translation. Region: Russian Federation {_EN}",
        f"Source: Official website {_EN}",
        _DISCLAIMER,
    ],
    "xinhua": [
        f"Translation. Region: Russian Federation {_EN}",
        f"Source: {_XINHUA} {_EN} {_XINHUA} {_EN}",
        _DISCLAIMER,
        f"Source: People's Republic of China {_EN} State Council News",
    ],
    "russian": [
        f"Region: Russian Federation {_EN}",
        f"Source: Official website {_EN}",
        _DISCLAIMER,
    ],
}


def laid_out(item: dict) -> bytes:
    """The item as its channel lays it out in a drop."""
    header = _HEADERS.get(item["channel"]) or [_RELEASE_SOURCE[item["country"]]]
    return ("\n\n".join([item["title"], *header, item["body"]]) + "\n").encode()


def evaluate(path: Path = LABELLED) -> list[dict]:
    """Each labelled item with what the classifier made of it."""
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    rows = []
    for number, item in enumerate(items):
        segment = Segment(
            "/eval", "0" * 64, number, 0, laid_out(item), dt.date(2025, 12, 20), "reference_date"
        )
        article = classifier().classify(parse_segment(segment, RUN))
        rows.append(
            {
                **item,
                "half": "tuning" if int(item["id"][2:]) % 2 else "held out",
                "got_topic": primary_topic(article),
                "topics_from": article.topics_from,
                "got_country": article.location.country,
                "method": article.location.method,
                "got_language": article.language,
                "top": [(t.top_level, t.score) for t in article.topics[:3]],
            }
        )
    return rows


def table(rows: list[dict]) -> list[str]:
    """Markdown rows: per topic, labelled, predicted, right, precision, recall."""
    lines = [
        "| topic | labelled | predicted | right | precision | recall |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for topic in sorted({r["topic"] for r in rows} | {r["got_topic"] for r in rows}):
        right = sum(r["topic"] == topic == r["got_topic"] for r in rows)
        labelled = sum(r["topic"] == topic for r in rows)
        predicted = sum(r["got_topic"] == topic for r in rows)
        precision = f"{right / predicted:.2f}" if predicted else "–"
        recall = f"{right / labelled:.2f}" if labelled else "–"
        lines.append(f"| {topic} | {labelled} | {predicted} | {right} | {precision} | {recall} |")
    right = sum(r["topic"] == r["got_topic"] for r in rows)
    lines.append(
        f"| **all** | {len(rows)} | {len(rows)} | {right} | {right / len(rows):.2f} "
        f"| {right / len(rows):.2f} |"
    )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.topic_eval", description=__doc__)
    parser.add_argument("--labelled", type=Path, default=LABELLED)
    parser.add_argument("--mistakes", action="store_true")
    args = parser.parse_args(argv)
    rows = evaluate(args.labelled)
    english = [r for r in rows if r["topics_from"] == "terms"]
    for half in ("tuning", "held out"):
        part = [r for r in english if r["half"] == half]
        print(f"\n{half} half: {len(part)} articles in English")
        print("\n".join(table(part)))
    print(f"\nboth halves: {len(english)} articles in English")
    print("\n".join(table(english)))
    others = Counter(
        (r["got_language"], r["topics_from"]) for r in rows if r["topics_from"] != "terms"
    )
    print(f"\nnot classified by topic: {dict(others)}")
    for half in ("tuning", "held out"):
        part = [r for r in rows if r["half"] == half]
        right = sum(r["country"] == r["got_country"] for r in part)
        print(f"story country, {half} half: {right}/{len(part)}")
    print(
        "country by method (method, right):",
        dict(Counter((r["method"], r["country"] == r["got_country"]) for r in rows)),
    )
    if args.mistakes:
        for r in rows:
            if r["topics_from"] == "terms" and r["topic"] != r["got_topic"]:
                print(
                    f"  topic {r['id']} [{r['half']}] {r['title'][:70]!r}: "
                    f"{r['topic']} -> {r['top']}"
                )
        for r in rows:
            if r["country"] != r["got_country"]:
                print(
                    f"  country {r['id']} [{r['half']}] {r['title'][:70]!r}: "
                    f"{r['country']} -> {r['got_country']} ({r['method']})"
                )


if __name__ == "__main__":
    main()
