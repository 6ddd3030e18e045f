"""The normal form fingerprints and counts are taken over."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.text import fingerprint, joined_words, tokens

# Every kind of white space Python knows, ASCII punctuation, the Unicode punctuation fold
# replaces, and letters in and out of ASCII.
_CHARACTERS = " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u2028\u3000.,;'’‘“”—–-…«»aZéß1"


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from(_CHARACTERS), max_size=60))
def test_joined_words_are_the_tokens_one_space_apart(text):
    assert joined_words(text) == b" ".join(tokens(text))


def test_the_fingerprint_ignores_case_punctuation_and_spacing():
    one = joined_words("Beijing, Aug. 29 — the SCO summit opens.")
    other = joined_words("beijing   aug 29 – The  SCO summit opens")
    assert one == other == b"beijing aug 29 the sco summit opens"
    assert fingerprint(one) == fingerprint(other) != fingerprint(joined_words("Beijing"))
