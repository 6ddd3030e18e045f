"""The normal form fingerprints and counts are taken over."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.text import fingerprint, short_words, tokens, words_of

# Every kind of white space Python knows, ASCII punctuation, the Unicode punctuation fold
# replaces, and letters in and out of ASCII.
_CHARACTERS = " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u2028\u3000.,;'’‘“”—–-…«»aZéß1"


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from(_CHARACTERS), max_size=60))
def test_the_joined_words_are_the_tokens_one_space_apart(text):
    assert words_of(text).joined == b" ".join(tokens(text))


def test_the_fingerprint_ignores_case_punctuation_and_spacing():
    one = words_of("Beijing, Aug. 29 — the SCO summit opens.").joined
    other = words_of("beijing   aug 29 – The  SCO summit opens").joined
    assert one == other == b"beijing aug 29 the sco summit opens"
    assert fingerprint(one) == fingerprint(other) != fingerprint(words_of("Beijing").joined)


FEW = [b"the", b"of", b"a", b"said", b"zz'z"]


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from(_CHARACTERS + "theofsid"), max_size=80), st.integers(0, 12))
def test_words_of_counts_the_tokens_and_the_listed_among_the_first(text, first):
    words = tokens(text)
    summary = words_of(text, short_words(FEW), first)
    assert summary.joined == b" ".join(words)
    assert summary.count == len(words)
    assert summary.listed == sum(word in FEW for word in words[:first])


def test_short_words_are_one_word_of_up_to_seven_bytes():
    assert len(short_words([b"a", b"a", b"seven77"])) == 2
    for bad in (b"", b"eight888", b"two words"):
        with pytest.raises(ValueError, match="1 to 7 bytes"):
            short_words([bad])
