"""MinHash signatures over word 5-shingles, LSH band keys and b-bit sketches, in numpy.

Pure functions, no Python loop per shingle. The parameters are fixed constants so that every
worker and every run computes the same values: an index written by one run is read by the
next.

LSH: 20 bands of 7 rows (140 permutations). A pair with Jaccard similarity s shares at least
one band with probability 1 - (1 - s^7)^20:

    s      0.3     0.4     0.5     0.6     0.7     0.8     0.9
    P   0.0044   0.032   0.145   0.42    0.82    0.991   1.000

so pairs at 0.8 and above are found with probability >= 0.99 and pairs at 0.3 and below
almost never meet. A candidate is confirmed with the similarity estimated from the two
sketches (the low byte of each of the 140 minimum hashes; b-bit minwise hashing, Li and
König 2010): est = (matches/140 - 1/256) / (1 - 1/256), standard error about 0.035 at 0.8.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BANDS",
    "NUM_PERM",
    "ROWS",
    "SHINGLE",
    "band_keys",
    "estimate_jaccard",
    "shingle_hashes",
    "signature",
    "sketch",
]

SHINGLE = 5
BANDS = 20
ROWS = 7
NUM_PERM = BANDS * ROWS
_SEED = 20250829

_rng = np.random.default_rng(_SEED)
# Permutations x -> (a x + b) mod 2^32 with odd a: bijections of the 32-bit hash space. 32-bit
# arithmetic halves the cost of the 140 x shingles step, the largest of the signature.
_A = (_rng.integers(0, 2**32, NUM_PERM, dtype=np.uint64) | np.uint64(1)).astype(np.uint32)
_B = _rng.integers(0, 2**32, NUM_PERM, dtype=np.uint64).astype(np.uint32)
_BAND_WEIGHTS = _rng.integers(1, 2**63, ROWS, dtype=np.uint64) | np.uint64(1)
_SHINGLE_WEIGHTS = _rng.integers(1, 2**63, SHINGLE, dtype=np.uint64) | np.uint64(1)
_MAX = np.iinfo(np.uint64).max


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit affects every output bit."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _word_hashes(words: list[bytes]) -> np.ndarray:
    # Words as 16-byte cells (longer words are cut: a 5-word context still tells them apart),
    # each cell read as two 64-bit halves and mixed into one hash.
    cells = np.array(words, dtype="S16").view(np.uint64).reshape(-1, 2)
    return _mix(cells[:, 0] ^ _mix(cells[:, 1] + np.uint64(0x9E3779B97F4A7C15)))


def shingle_hashes(words: list[bytes]) -> np.ndarray:
    """One 32-bit hash per word 5-shingle (one for the whole text when it is shorter)."""
    return (_shingle_hashes64(words) >> np.uint64(32)).astype(np.uint32)


def _shingle_hashes64(words: list[bytes]) -> np.ndarray:
    if not words:
        return np.zeros(1, dtype=np.uint64)
    hashes = _word_hashes(words)
    if len(hashes) < SHINGLE:
        return _mix(np.bitwise_xor.reduce(hashes * _BAND_WEIGHTS[: len(hashes)], keepdims=True))
    count = len(hashes) - SHINGLE + 1
    combined = hashes[:count] * _SHINGLE_WEIGHTS[0]
    for offset in range(1, SHINGLE):  # a weight per position: "a b" and "b a" differ
        combined += hashes[offset : offset + count] * _SHINGLE_WEIGHTS[offset]
    return _mix(combined)


def signature(words: list[bytes]) -> np.ndarray:
    """The 140 minimum hashes (uint32) of the text's shingles under the fixed permutations."""
    values = np.multiply.outer(_A, shingle_hashes(words))
    values += _B[:, None]
    return values.min(axis=1)


def band_keys(signature_: np.ndarray, bands: int = BANDS, rows: int = ROWS) -> np.ndarray:
    """One 32-bit key per band: equal keys mean (almost surely) equal bands.

    ``bands`` and ``rows`` other than the defaults serve comparisons (the benchmark's
    datatrove-style 14 x 8); the lake's index always uses 20 x 7.
    """
    grid = signature_[: bands * rows].reshape(bands, rows).astype(np.uint64)
    weights = np.resize(_BAND_WEIGHTS, rows)
    return (_mix((grid * weights).sum(axis=1)) >> np.uint64(32)).astype(np.uint32)


def sketch(signature_: np.ndarray) -> np.ndarray:
    """The low byte of each minimum hash: 140 bytes that estimate Jaccard similarity.

    A minimum is small, so its high bits say little; its low bits come from the low bits of
    the winning shingle's hash, which are uniform: equal winners give equal bytes, different
    ones collide with probability 1/256.
    """
    return (signature_ & 0xFF).astype(np.uint8)


def estimate_jaccard(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of sketches (row-wise for 2-D arrays), clipped to [0, 1]."""
    matches = (left == right).mean(axis=-1)
    return np.clip((matches - 1 / 256) / (1 - 1 / 256), 0.0, 1.0)
