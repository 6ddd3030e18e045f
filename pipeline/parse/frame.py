"""The parts of an item around its body, and the layout they make.

An item's lines are read as a title (maybe after a republished copy's ``MIL-OSI <Channel>: ``
prefix and with a ``/rubric/``), a header block (Region and Source lines, the disclaimer,
date and time lines), the body, and the lines that close it: from its first end line (a
footer, a release's ``NNNN``, ``Ends/...``, ``ENDS`` or ``Issued at HKT ...``) on, of which
the source's URL and a ``MIL OSI <Channel> News`` trailer are kept in the record.

Guarantees: :func:`item_lines` loses no line before the first end line; nothing of the
header or the closing lines reaches the body; :func:`layout_of` names every item's layout,
``plain`` when it has none of MIL-OSI's lines.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from pipeline.core.records import Source
from pipeline.parse import layout

__all__ = ["Closing", "Header", "Layout", "item_lines", "layout_of", "month_number", "read_title"]

_MONTH_NAMES = tuple(
    "January February March April May June July August September October November December".split()
)
# Every abbreviation of three letters or more, lower-cased ("aug", "sept", "august"); no two
# months share one.
_MONTHS = {
    name[:stop].lower(): number
    for number, name in enumerate(_MONTH_NAMES, start=1)
    for stop in range(3, len(name) + 1)
}
_CONTROL_CHARACTERS = dict.fromkeys([*range(32), 127])
_CHANNEL_END = re.compile(rf"\s+[{layout.DASHES}]\s+")
_RUBRIC = re.compile(r"/(?P<rubric>[^/]{1,200})/\s*(?P<title>.+)")
# The first letters of every end line (footer, Russian footer, NNNN, Ends/, ENDS, Issued at):
# only lines that start with one are matched against the patterns.
_END_INITIALS = frozenset("PpОоNEI")


def month_number(word: str) -> int | None:
    """1-12 for a month name or abbreviation ('Aug', 'Sept', 'August'), else None."""
    return _MONTHS.get(word.lower())


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


@dataclasses.dataclass
class Header:
    """The header block between the title and the body."""

    source_lines: list[str] = dataclasses.field(default_factory=list)
    declared_region: str | None = None
    translated: bool = False
    date: dt.date | None = None
    kinds: list[str] = dataclasses.field(default_factory=list)  # of each line, in order
    region_match: re.Match | None = None

    def read(self, line: str) -> bool:
        """Take ``line`` into the header; False when it is not a header line."""
        match = layout.HEADER_LINE.fullmatch(line)
        if match is None:
            return False
        kind = match.lastgroup
        self.kinds.append(kind)
        if kind == "region_line":
            self.translated = self.translated or bool(match["translation"])
            self.declared_region = match["region"] or self.declared_region
            self.region_match = match
        elif kind == "source_line":
            self.source_lines.append(match["text"])
        elif kind == "date_line" and match["year"]:
            self.date = _date(int(match["year"]), month_number(match["month"]), int(match["day"]))
        elif kind == "date_line":  # 12/18/2025, 09.24.2024: month first; 22.04.2025: day first
            first, second = int(match["first"]), int(match["second"])
            year = int(match["numeric_year"])
            self.date = _date(year, first, second) or _date(year, second, first)
            self.kinds[-1] = "numeric_date_line"
        return True

    @property
    def features(self) -> list[str]:
        """The header's lines by kind, for :func:`layout_of`."""
        return [
            _region_feature(self.region_match) if kind == "region_line" else _FEATURES[kind]
            for kind in self.kinds
        ]

    def source(self, milosi_channel: str | None, origin_url: str | None) -> Source:
        channel = None
        if self.source_lines:
            channel = _CHANNEL_END.split(self.source_lines[0], 1)[0].strip() or None
        return Source(
            channel=channel,
            origin=self.source_lines[-1] if self.source_lines else None,
            lines=tuple(self.source_lines),
            declared_region=self.declared_region,
            translated=self.translated,
            milosi_channel=milosi_channel,
            origin_url=origin_url,
        )


_FEATURES = {
    "source_line": "source",
    "date_line": "date line",
    "numeric_date_line": "numeric date line",
    "time_line": "time line",
    "disclaimer": "disclaimer",
}


def _region_feature(match: re.Match) -> str:
    if match["translation"] is None:
        return "region"
    words = ["translation region"]
    if match["translation"] != "Translation.":
        words.append(f"spelt {match['translation'][:-1]!r}")
    if match["noise"]:
        words.append(f"after {match['noise']!r}")
    return " ".join(words)


@dataclasses.dataclass
class Closing:
    """The lines from an item's first end line on."""

    lines: list[str] = dataclasses.field(default_factory=list)

    @property
    def url(self) -> str | None:
        """The source's URL line, as written (never the first line: that is the end line)."""
        return next((line for line in self.lines[1:] if layout.SOURCE_URL.fullmatch(line)), None)

    @property
    def channel(self) -> str | None:
        """The channel a ``MIL OSI <Channel> News`` trailer names."""
        for line in self.lines[1:]:
            if match := layout.TRAILER.fullmatch(line):
                return match["channel"]
        return None

    def features(self) -> list[str]:
        found = []
        for line in self.lines:
            if layout.FOOTER.match(line):
                found.append(_footer_feature(line))
            elif layout.END_LINE.match(line):
                found.append(f"end line {line.split('/')[0].split(' ')[0]}")
            elif layout.SOURCE_URL.fullmatch(line):
                found.append("source URL")
            elif layout.TRAILER.fullmatch(line):
                found.append("trailer")
            elif line.lstrip("[").upper().startswith("EDITOR"):
                found.append("editor's note")
            elif line.startswith("Issued by"):
                found.append("issued by")
            else:
                found.append("closing line")
        return found


def _footer_feature(line: str) -> str:
    if line[:1] in "Оо":
        return "Russian footer"
    return "footer ;" if ";" in line[:16] else "footer"


def item_lines(text: str) -> tuple[list[str], Closing]:
    """The item's content lines up to its first end line, and the lines from there on."""
    lines = [
        line
        for line in (line.strip() for line in text.split("\n"))
        if line  # stripped, a "." line is a dot; a line of only control characters is blank
        and line != "."
        and (line.isprintable() or line.translate(_CONTROL_CHARACTERS).strip())
    ]
    for number, line in enumerate(lines):
        if line[0] in _END_INITIALS and layout.END_LINE.match(line):
            return lines[:number], Closing(lines[number:])
    return lines, Closing()


def read_title(line: str) -> tuple[str, str | None, str | None]:
    """The title, its rubric and the MIL-OSI channel of a republished copy's prefix."""
    channel = None
    if line[:3] == "MIL" and (match := layout.CHANNEL_PREFIX.fullmatch(line)):
        channel, line = match["channel"], match["title"]
    rubric = None
    if match := _RUBRIC.fullmatch(line):
        rubric, line = match["rubric"].strip(), match["title"].strip()
    return line, rubric, channel


@dataclasses.dataclass(frozen=True)
class Layout:
    """Which of MIL-OSI's layouts an item is in, and the parts of it that were seen."""

    name: str
    features: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.name} ({', '.join(self.features)})" if self.features else self.name


def layout_of(header: Header, closing: Closing, prefixed: bool, body_features: list[str]) -> Layout:
    """The layout of an item: ``republished`` (a MIL-OSI channel prefix, URL or trailer),
    ``translation`` (a ``Translation. Region:`` line), ``original`` (a Region line without
    it: an untranslated item), ``release`` (no Region line, closed by a release's end line),
    ``source`` (a Source line only) or ``plain`` (no MIL-OSI line at all)."""
    closing_features = closing.features()
    features = (
        (["channel prefix"] if prefixed else [])
        + header.features
        + body_features
        + closing_features
    )
    if prefixed or "trailer" in closing_features or "source URL" in closing_features:
        name = "republished"
    elif header.translated:
        name = "translation"
    elif header.declared_region is not None:
        name = "original"
    elif any(feature.startswith("end line") for feature in closing_features):
        name = "release"
    elif header.source_lines:
        name = "source"
    else:
        name = "plain"
    return Layout(name, tuple(_counted(features)))


def _counted(features: list[str]) -> list[str]:
    """Features in order of first appearance, a repeated one as ``source ×2``."""
    counts: dict[str, int] = {}
    for feature in features:
        counts[feature] = counts.get(feature, 0) + 1
    return [f"{feature} ×{count}" if count > 1 else feature for feature, count in counts.items()]
