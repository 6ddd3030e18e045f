"""Bytes to clean text, and the normal form that content fingerprints are taken over.

Pure functions, shared by the parser and (later) deduplication.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import re
import unicodedata

__all__ = ["clean_text", "decode", "fingerprint", "normalise_for_matching", "words"]

_ENCODINGS = ("utf-8", "cp1252")
_NEWLINES = re.compile(r"\r\n?")
_QUOTES = str.maketrans({c: "'" for c in "\u2018\u2019\u201a\u201b\u2032`\u00b4"}) | str.maketrans(
    {c: '"' for c in "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb"}
)
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"})
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")


def decode(raw: bytes) -> tuple[str, str]:
    """Decode a segment: UTF-8 (with or without BOM), else Windows-1252, else Latin-1.

    Returns:
        The text and the name of the encoding that decoded it.
    """
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    for encoding in _ENCODINGS:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"  # every byte decodes; the parser judges the result


def clean_text(text: str) -> str:
    """Line ends to ``\\n``, NUL bytes out, HTML entities resolved, Unicode in NFC."""
    text = _NEWLINES.sub("\n", text.replace("\x00", ""))
    if "&" in text:
        text = html.unescape(text)
    return unicodedata.normalize("NFC", text)


def normalise_for_matching(text: str) -> str:
    """Case, quote, dash and whitespace variants folded: two copies of a story compare equal."""
    text = text.translate(_QUOTES).translate(_DASHES).casefold()
    return _SPACES.sub(" ", text).strip()


def fingerprint(paragraphs: tuple[str, ...] | list[str]) -> str:
    """Stable content id: 32 hex digits of the SHA-256 of the normalised paragraphs."""
    digest = hashlib.sha256(normalise_for_matching(" ".join(paragraphs)).encode("utf-8"))
    return digest.hexdigest()[:32]


def words(text: str) -> list[str]:
    """The words of ``text`` (letters and digits, inner apostrophes kept)."""
    return _WORD.findall(text)
