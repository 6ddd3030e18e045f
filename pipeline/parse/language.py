"""An article's language: py3langid's model, among the languages MIL-OSI publishes in.

Guarantees: an ISO 639-1 code from :data:`LANGUAGES`, decided on the title and the first
:data:`SAMPLE_CHARS` characters of the body, or ``und`` when they hold fewer than
:data:`MIN_LETTERS` letters (a table of numbers, a code). The model ships in py3langid's
wheel; it is loaded once per process, on the first article that needs it.

Restricted to MIL-OSI's languages, py3langid does not take a short Russian title for
Macedonian or Bulgarian, nor a line of names for Bikol (it does with all 97 of its
languages). Text whose first 200 words (50 at least) are at least :data:`ENGLISH_SHARE`
English function words ("the", "of", "and", ...: counted anyway in the parser's pass over the
words) is English without asking the model: the model costs about 0.4 ms an article, several
times the rest of the parser, and a test holds the shortcut to the model's verdict.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

__all__ = ["ENGLISH_SHARE", "LANGUAGES", "MIN_LETTERS", "SAMPLE_CHARS", "detect", "language"]

# MIL-OSI's channels: English, Russian, Ukrainian, Chinese, Japanese, Korean, Arabic, and the
# European and Asia-Pacific languages of its government sources.
LANGUAGES = ("en", "ru", "uk", "zh", "ja", "ko", "ar", "de", "fr", "es", "it", "pt", "id", "vi")
SAMPLE_CHARS = 1000
MIN_LETTERS = 15
# English function words among the first 200 words: at least 0.13 in every article of the
# benchmark corpus and 0.20 in sentences written for the test, at most 0.088 in French, 0.042
# in Spanish, 0.022 in German and none in Russian, Ukrainian, Chinese or Indonesian (four
# sentences at a time). Fewer than 50 words are left to the model: a few words can hit it.
ENGLISH_SHARE = 0.12
ENGLISH_MIN_WORDS = 50
ENGLISH_SAMPLE = 200  # words whose function words are counted
_LETTER = re.compile(r"[^\W\d_]")


@functools.cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def detect(text: str) -> str:
    """The language of ``text`` by the model alone (``und`` below :data:`MIN_LETTERS`)."""
    if len(_LETTER.findall(text, 0, SAMPLE_CHARS)) < MIN_LETTERS:
        return "und"
    return _identifier().classify(text[:SAMPLE_CHARS])[0]


def language(title: str, body: Sequence[str], words: int, english_words: int) -> str:
    """The language of an article: its title and the start of its body.

    Args:
        title: the title.
        body: the body paragraphs.
        words: how many of the body's first :data:`ENGLISH_SAMPLE` words were looked up.
        english_words: how many of those are English function words.
    """
    if words >= ENGLISH_MIN_WORDS and english_words >= ENGLISH_SHARE * words:
        return "en"
    sample, size = [title], len(title)
    for paragraph in body:
        if size >= SAMPLE_CHARS:
            break
        sample.append(paragraph[: SAMPLE_CHARS - size])
        size += len(sample[-1]) + 1
    return detect("\n".join(sample))
