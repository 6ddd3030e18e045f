"""The MIL-OSI article layouts: the line patterns the splitter and the parser agree on.

Each pattern is written once as text; :data:`LINE_KIND` holds the same patterns compiled for
bytes, so the splitter can cut a drop at its line structure without decoding it first (every
marker but the Russian ones is ASCII, which reads the same in UTF-8, Windows-1252 and
Latin-1; the Russian ones are matched in UTF-8).

The layouts (``docs/drops.md`` shows each):

- the translation service's: title, ``Translation. Region: ...``, ``Source: ...`` lines, the
  disclaimer, date and time lines, body, the ``Please note:`` footer, maybe a ``.`` line;
- its republished copy: ``MIL-OSI <Channel>: `` before the title, no disclaimer, two footers
  (``Please note:`` and ``Please note;``), the source's URL, an editor's note, a trailer line
  ``MIL OSI <Channel> News``;
- government releases (Asia-Pacific): title, maybe a ``Source:`` line, body, then
  ``Ends/<weekday>, <date>``, ``Issued at HKT hh:mm``, ``NNNN`` or ``ENDS``;
- untranslated items: a ``Region:`` line without ``Translation.``, the Russian footer.
"""

from __future__ import annotations

import re

__all__ = [
    "ATTRIBUTION",
    "CHANNEL_PREFIX",
    "DASHES",
    "DROP_MARKER",
    "END_LINE",
    "FOOTER",
    "HEADER_LINE",
    "LINE_KIND",
    "SOURCE_URL",
    "TRAILER",
    "is_header_line",
]

DASHES = "-\u2013\u2014"  # hyphen-minus, en dash, em dash: drops use all three

_SEPARATOR = r"\s*\.\s*"
# Every footer wording seen: ':' or ';' after "note", any case ("Please Note; This
# Information is Raw Content ..."), and the Russian footer of untranslated items.
_FOOTER = (
    r"\s*(?:Please\s+note\s*[:;]\s*This\s+information\s+is\s+raw\s+content"
    r"|(?:О|о)братите\s+внимание\s*[:;])"
)
# The ends of a government release: NNNN, "Ends/Friday, December 19, 2025", ENDS, and
# "Issued at HKT 17:30" (which comes last but for NNNN).
_RELEASE_END = (
    r"\s*(?:NNNN|ENDS\.?|Ends/[A-Z][a-z]+day,\s*[A-Z][a-z]+\.?\s+\d{1,2},\s*\d{4}"
    r"|Issued\s+at\s+HKT\s+\d{1,2}:\d{2})\s*"
)
# Capitals before "Translation." ("MILES AXLE ", "MIL OSI "), and the typos of the republished
# copies ("Translartion. Region: Russians Fedetion –"); the Russian header word too. (Capitals
# only: a body line fails at its second letter, where any text would cost a scan of each line.)
_REGION = (
    rf"\s*(?:(?:(?P<noise>[A-Z][A-Z ]{{0,40}})\s+)?(?P<translation>Trans\w{{0,4}}tion\.)\s*)?"
    rf"(?:Region|Регион):\s*(?P<region>.*?)\s*[{DASHES}]?\s*"
)
# One or two names, each maybe followed by a dash; a line ending in a full stop is a note
# in the body ("Source: Bank of Russia calculations."), never a header line.
_SOURCE = rf"\s*(?:Source|Источник):(?!.*\.\s*$)\s*(?P<text>.*?)\s*[{DASHES}]?\s*"
_DISCLAIMER = r"\s*An important disclaimer is at the bottom of this article\.?\s*"
_HEADER_DATE = (
    r"\s*(?:(?P<month>January|February|March|April|May|June|July|August|September|October"
    r"|November|December)\s+(?P<day>\d{1,2}),\s*(?P<year>\d{4})"
    r"|(?P<first>\d{1,2})[/.](?P<second>\d{1,2})[/.](?P<numeric_year>\d{4}))\s*"
)
_HEADER_TIME = r"\s*\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AP]M)?\s*"
# The lines a republished copy closes with, after its footers.
_SOURCE_URL = r"\s*(?:https?|HTTPS?)\s*:\s*//\s*\S[^\r\n]*"
_EDITORS_NOTE = r"\s*\[?EDITOR(?:’|'|`)?S\s+NOTE\s*:[^\r\n]*"
_TRAILER = r"\s*MIL[-\s]?OSI\s+(?P<channel>[A-Z][A-Za-z .&]{1,40}?)(?:\s+News)?\s*"
_ISSUED_BY = r"\s*Issued\s+by\s+[^\r\n]{1,80}"
# The Bank of Russia's attribution, in the body of its releases: never an article's title.
_ATTRIBUTION = (
    r"\s*When\s+using\s+(?:the|this)\s+material,?\s+(?:a\s+)?(?:link|reference)\s+to\s"
    r"[^\r\n]{3,120}\s+is\s+(?:required|mandatory)\.?\s*"
)
_CHANNEL_PREFIX = r"MIL[-\s]?OSI\s+(?P<channel>[A-Z][\w .&-]{1,40}?)\s*:\s+(?P<title>.+)"

FOOTER = re.compile(_FOOTER, re.IGNORECASE)
END_LINE = re.compile(f"(?i:{_FOOTER})|{_RELEASE_END}$")
SOURCE_URL = re.compile(_SOURCE_URL)
TRAILER = re.compile(_TRAILER)
ATTRIBUTION = re.compile(_ATTRIBUTION, re.IGNORECASE)
CHANNEL_PREFIX = re.compile(_CHANNEL_PREFIX)


def _bytes(pattern: str) -> bytes:
    # Named groups are the text patterns' own; the splitter needs only the kind of a line.
    return re.sub(r"\(\?P<\w+>", "(?:", pattern).encode()


# The splitter's view of a line: ``LINE_KIND.match(data, start, end)`` looks at
# ``data[start:end]`` in place (a 20 MB line is not copied), and the match's ``lastgroup`` is
# its kind: ``blank`` (only spaces or control characters: a NUL where an empty line belongs
# is one), ``separator``, ``footer``, ``release_end`` (NNNN, Ends/..., ENDS, Issued at HKT),
# ``header`` (Region, Source, disclaimer), ``stamp`` (a date or time alone: a header line only
# before the body), ``tail`` (URL, editor's note, trailer: an item's own only right after its
# end) or ``attribution``; no match is other content. One regex call per line, made inline in
# the splitter's loop (a Python call per line would be a tenth of its cost).
def _inner(pattern: str) -> bytes:
    # The pattern after its leading spaces, which LINE_KIND consumes once for every kind.
    return _bytes(pattern.removeprefix(r"\s*"))


LINE_KIND = re.compile(
    rb"(?P<blank>[\s\x00-\x1f\x7f]*$)"
    # Leading spaces once, possessively: each kind below then starts with a character of its
    # own and fails at once on a line of prose (the kinds each from their own \s* cost twice).
    + rb"|\s*+(?:(?P<separator>"
    + _inner(_SEPARATOR)
    + rb"$)|(?P<footer>(?i:"
    + _inner(_FOOTER)
    + rb"))|(?P<release_end>"
    + _inner(_RELEASE_END)
    + rb"$)|(?P<header>"
    + _inner(_REGION)
    + rb"|"
    + _inner(_SOURCE)
    + rb"|An important disclaimer is at the bottom)"
    + rb"|(?P<stamp>(?:"
    + _inner(_HEADER_DATE)
    + rb"|"
    + _inner(_HEADER_TIME)
    + rb")$)|(?P<tail>(?:"
    + b"|".join(_inner(p) for p in (_SOURCE_URL, _EDITORS_NOTE, _TRAILER, _ISSUED_BY))
    + rb")$)|(?P<attribution>(?i:"
    + _inner(_ATTRIBUTION)
    + rb")$))"
)


# Whether a file is a MIL-OSI drop at all: a Region or Source line, the disclaimer, the footer,
# a release's NNNN, a dateline or an end marker anywhere in it. Searched in the raw bytes (a
# real drop matches in its first few hundred), so the dashes are spelled in UTF-8 and
# Windows-1252, and the dateline is the parser's, loosened to ASCII: it decides only that a
# file is a drop, not any field.
_DASH_BYTES = rb"(?:-|\xe2\x80[\x93\x94]|[\x96\x97])"
_MONTH_BYTES = rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]{0,6}\.?"
DROP_MARKER = re.compile(
    rb"(?:^|[\r\n])[ \t]*(?:(?:(?:[A-Z][A-Z ]{0,40})?Trans\w{0,4}tion\.\s*)?Region:|Source:"
    + rb"|NNNN[ \t]*(?:[\r\n]|$)"
    + rb"|An important disclaimer is at the bottom|(?i:"
    + _bytes(_FOOTER)
    + rb")|[A-Z][^\r\n,]{0,60}(?:,[^\r\n,]{1,40})?,[ \t]+"
    + _MONTH_BYTES
    + rb"[ \t]+\d{1,2}(?:,[ \t]*\d{4})?[ \t]*(?:[(/][^()/\r\n]{1,60}[)/][ \t]*)?"
    + _DASH_BYTES
    + rb")|"
    + _DASH_BYTES
    + rb"[ \t]*0[ \t]*"
    + _DASH_BYTES
    + rb"[ \t]*(?:[\r\n]|$)"
)


# Every header line in one pattern: one call tells whether a line is one, and which
# (``lastgroup``); the groups of each kind's own pattern are there too.
HEADER_LINE = re.compile(
    f"(?P<region_line>{_REGION})|(?P<source_line>{_SOURCE})|(?P<disclaimer>(?i:{_DISCLAIMER}))"
    f"|(?P<date_line>{_HEADER_DATE})|(?P<time_line>{_HEADER_TIME})"
)


def is_header_line(line: str) -> bool:
    """True for a line of the header block between the title and the body."""
    return HEADER_LINE.fullmatch(line) is not None
