"""The MIL-OSI article layout: the line patterns the splitter and the parser agree on.

Each pattern is written once as text; :data:`BYTES` holds the same patterns compiled for
bytes, so the splitter can cut a drop at its line structure without decoding it first (every
marker is ASCII, which reads the same in UTF-8, Windows-1252 and Latin-1).
"""

from __future__ import annotations

import re

__all__ = [
    "DASHES",
    "DISCLAIMER",
    "DROP_MARKER",
    "FOOTER",
    "HEADER_DATE",
    "HEADER_TIME",
    "LINE_KIND",
    "REGION_LINE",
    "SEPARATOR",
    "SOURCE_LINE",
    "is_header_line",
]

DASHES = "-\u2013\u2014"  # hyphen-minus, en dash, em dash: drops use all three

_SEPARATOR = r"\s*\.\s*"
_FOOTER = r"\s*Please note:\s*This information is raw content"
_REGION = rf"\s*(?P<translation>Translation\.\s*)?Region:\s*(?P<region>.*?)\s*[{DASHES}]?\s*"
_SOURCE = rf"\s*Source:\s*(?P<text>.*?)\s*[{DASHES}]?\s*"
_DISCLAIMER = r"\s*An important disclaimer is at the bottom of this article\.?\s*"

SEPARATOR = re.compile(_SEPARATOR)
FOOTER = re.compile(_FOOTER, re.IGNORECASE)
REGION_LINE = re.compile(_REGION)
SOURCE_LINE = re.compile(_SOURCE)
DISCLAIMER = re.compile(_DISCLAIMER, re.IGNORECASE)
_HEADER_DATE = (
    r"\s*(?P<month>January|February|March|April|May|June|July|August|September|October"
    r"|November|December)\s+(?P<day>\d{1,2}),\s*(?P<year>\d{4})\s*"
)
_HEADER_TIME = r"\s*\d{1,2}:\d{2}(?::\d{2})?\s*"
HEADER_DATE = re.compile(_HEADER_DATE)
HEADER_TIME = re.compile(_HEADER_TIME)


# The splitter's view of a line: ``LINE_KIND.match(data, start, end)`` looks at
# ``data[start:end]`` in place (a 20 MB line is not copied), and the match's ``lastgroup`` is
# its kind: ``blank`` (only spaces or control characters: a NUL where an empty line belongs
# is one), ``separator``, ``footer`` or ``header``; no match is other content. One
# regex call per line, made inline in the splitter's loop (a Python call per line would be a
# tenth of its cost).
LINE_KIND = re.compile(
    rb"(?P<blank>[\s\x00-\x1f\x7f]*$)"
    + rb"|(?P<separator>"
    + _SEPARATOR.encode()
    + rb"$)|(?P<footer>(?i:"
    + _FOOTER.encode()
    + rb"))|(?P<header>\s*(?:(?:Translation\.\s*)?Region:|Source:"
    + rb"|An important disclaimer is at the bottom)"
    + rb"|(?:"
    + _HEADER_DATE.encode()
    + rb"|"
    + _HEADER_TIME.encode()
    + rb")$)"
)


# Whether a file is a MIL-OSI drop at all: a Region or Source line, the disclaimer, the footer,
# a dateline or an end marker anywhere in it. Searched in the raw bytes (a real drop matches in
# its first few hundred), so the dashes are spelled in UTF-8 and Windows-1252, and the dateline
# is the parser's, loosened to ASCII: it decides only that a file is a drop, not any field.
_DASH_BYTES = rb"(?:-|\xe2\x80[\x93\x94]|[\x96\x97])"
_MONTH_BYTES = rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]{0,6}\.?"
DROP_MARKER = re.compile(
    rb"(?:^|[\r\n])[ \t]*(?:(?:Translation\.\s*)?Region:|Source:"
    + rb"|An important disclaimer is at the bottom|(?i:"
    + _FOOTER.encode()
    + rb")|[A-Z][^\r\n,]{0,60}(?:,[^\r\n,]{1,40})?,[ \t]+"
    + _MONTH_BYTES
    + rb"[ \t]+\d{1,2}(?:,[ \t]*\d{4})?[ \t]*(?:\([^()\r\n]{1,60}\)[ \t]*)?"
    + _DASH_BYTES
    + rb")|"
    + _DASH_BYTES
    + rb"[ \t]*0[ \t]*"
    + _DASH_BYTES
    + rb"[ \t]*(?:[\r\n]|$)"
)


def is_header_line(line: str) -> bool:
    """True for a line of the header block between the title and the body."""
    return any(
        pattern.fullmatch(line)
        for pattern in (REGION_LINE, SOURCE_LINE, DISCLAIMER, HEADER_DATE, HEADER_TIME)
    )
