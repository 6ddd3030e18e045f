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

_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_NEWLINES = re.compile(r"\r\n?")
_QUOTES = str.maketrans({c: "'" for c in "\u2018\u2019\u201a\u201b\u2032`\u00b4"}) | str.maketrans(
    {c: '"' for c in "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb"}
)
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"})
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")


def _cp1252_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    bad = error.object[error.start : error.end]
    return bad.decode("cp1252", errors="replace"), error.end


codecs.register_error("feedlake_cp1252", _cp1252_fallback)


def decode(raw: bytes) -> tuple[str, str]:
    """Decode a segment, trying what real drops come in, most likely first.

    UTF-8 (with or without BOM; a sequence cut off at the very end is replaced, not fatal);
    UTF-8 with stray Windows-1252 bytes (a file re-encoded in part: ``utf-8+cp1252``);
    Windows-1252; and Latin-1, which decodes any bytes and leaves the verdict to the parser.

    Returns:
        The text and the name of the encoding that decoded it.
    """
    encoding = "utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        return raw.decode(encoding), encoding
    except UnicodeDecodeError as error:
        if error.reason == "unexpected end of data":  # the drop was cut mid-character
            return raw.decode(encoding, errors="replace"), encoding
        if _UTF8_MULTIBYTE.search(raw):
            return raw.decode(encoding, errors="feedlake_cp1252"), "utf-8+cp1252"
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


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
