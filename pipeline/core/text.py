"""Bytes to clean text, and the normal form that content fingerprints are taken over.

Pure functions, shared by the parser and (later) deduplication.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import re
import unicodedata
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from pipeline.core.jit import compiled

__all__ = [
    "Words",
    "clean_text",
    "control_bytes",
    "decode",
    "fingerprint",
    "fold",
    "short_words",
    "tokens",
    "words_of",
]

_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_NEWLINES = re.compile(r"\r\n?")
# ASCII punctuation becomes a space, except the apostrophe inside words like "China's".
_ASCII_PUNCTUATION_TO_SPACE = bytes(
    byte if byte >= 128 or chr(byte).isalnum() or byte == ord("'") else ord(" ")
    for byte in range(256)
)
# Other quotes, dashes, ellipsis, guillemets and the no-break space become a space; the right
# single quote is the apostrophe of "China’s" and becomes one.
_UNICODE_PUNCTUATION = "\u2018\u201c\u201d\u201e\u2013\u2014\u2026\u00ab\u00bb\u00a0"
_RIGHT_QUOTE = "\u2019"
_SPACE = ord(" ")
_CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])


def _cp1252_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    bad = error.object[error.start : error.end]
    return bad.decode("cp1252", errors="replace"), error.end


codecs.register_error("feedlake_cp1252", _cp1252_fallback)


def decode(raw: bytes, known: str | None = None) -> tuple[str, str]:
    """Decode a segment, trying what real drops come in, most likely first.

    UTF-8 (with or without BOM; a sequence cut off at the very end is replaced, not fatal);
    UTF-8 with stray Windows-1252 bytes (a file re-encoded in part: ``utf-8+cp1252``);
    Windows-1252; and Latin-1, which decodes any bytes and leaves the verdict to the parser.
    With ``known`` (a UTF-16 drop's codec, from its BOM), that codec, damage replaced.

    Returns:
        The text and the name of the encoding that decoded it.
    """
    if known is not None:
        return raw.decode(known, errors="replace"), known
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
    if "\r" in text:
        text = _NEWLINES.sub("\n", text)
    if "\x00" in text:
        text = text.replace("\x00", "")
    if "&" in text:
        text = html.unescape(text)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


def fold(text: str) -> bytes:
    """``text`` as lower-case UTF-8 with punctuation and line ends turned into spaces.

    Quote and dash variants fall away, so two copies of a story that differ only in those
    fold the same. Every character becomes exactly one character, so positions in the
    decoded result match positions in ``text``. Works on bytes with C-speed translate: a
    regex over the text costs about four times as much, and this is on the hot path.
    """
    if not text.isascii():  # str.replace of the few present: a regex or str.translate costs 3-15x
        for char in _UNICODE_PUNCTUATION:
            if char in text:
                text = text.replace(char, " ")
        if _RIGHT_QUOTE in text:
            text = text.replace(_RIGHT_QUOTE, "'")
    return text.encode("utf-8").translate(_ASCII_PUNCTUATION_TO_SPACE).lower()


def tokens(text: str) -> list[bytes]:
    """The words of ``text`` (see :func:`fold`): what counts, fingerprints and shingles use."""
    return fold(text).split()


class Words(NamedTuple):
    """A text's words (see :func:`fold`) one space apart, how many there are, and how many
    of the first few are in a :func:`short_words` set (see :func:`words_of`)."""

    joined: bytes
    count: int
    listed: int


def short_words(words: Iterable[bytes]) -> np.ndarray:
    """A set of words of 1 to 7 bytes, as :func:`words_of` looks them up (one number each)."""
    codes = sorted({_short_code(word) for word in words})
    return np.array(codes, dtype=np.int64)


def _short_code(word: bytes) -> int:
    if not 1 <= len(word) <= 7 or b" " in word:
        raise ValueError(f"short_words: {word!r} is not one word of 1 to 7 bytes")
    return int.from_bytes(word, "big") << 3 | len(word)


_NO_WORDS = short_words([])


def words_of(text: str, listed: np.ndarray = _NO_WORDS, first: int = 0) -> Words:
    """The words of ``text`` one space apart (``b" ".join(tokens(text))``), their count, and
    how many of the first ``first`` are in ``listed`` (:func:`short_words`).

    One compiled pass over the folded bytes: making a bytes object per word, as
    ``tokens`` does, is most of the cost of the same thing in Python (with it, parsing took
    about 40 us an article more).
    """
    folded = fold(text)
    out = np.empty(len(folded), dtype=np.uint8)
    length, count, found = _collapse(np.frombuffer(folded, dtype=np.uint8), out, listed, first)
    return Words(out[:length].tobytes(), count, found)


@compiled
def _collapse(folded, out, listed, first):
    # Copies each run of non-space bytes to ``out``, one space between runs; looks up each of
    # the first ``first`` runs of up to 7 bytes in ``listed`` (sorted codes, as _short_code).
    size = folded.shape[0]
    length = count = found = 0
    i = 0
    while i < size:
        if folded[i] == _SPACE:
            i += 1
            continue
        if count:
            out[length] = _SPACE
            length += 1
        j = i
        while j < size and folded[j] != _SPACE:  # copied byte by byte: a slice assignment
            out[length] = folded[j]  # takes numba 3.5 s longer to compile
            length += 1
            j += 1
        if count < first and j - i <= 7:
            code = 0
            for k in range(i, j):
                code = code << 8 | folded[k]
            code = code << 3 | (j - i)
            low, high = 0, listed.shape[0]  # by hand: np.searchsorted adds 0.75 s to compiling
            while low < high:
                middle = (low + high) // 2
                if listed[middle] < code:
                    low = middle + 1
                else:
                    high = middle
            if low < listed.shape[0] and listed[low] == code:
                found += 1
        count += 1
        i = j
    return length, count, found


def fingerprint(words: bytes) -> str:
    """Stable content id of a text's words (``words_of(text).joined``): 32 hex digits of SHA-256."""
    return hashlib.sha256(words).hexdigest()[:32]


def control_bytes(raw: bytes) -> int:
    """How many bytes of ``raw`` are C0 control characters other than tab, CR and LF."""
    return len(raw) - len(raw.translate(None, _CONTROL_BYTES))
