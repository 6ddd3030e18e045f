"""MinHash signatures over word 5-shingles, LSH band keys and b-bit sketches.

Pure functions. The parameters are fixed constants so that every worker and every run
computes the same values: an index written by one run is read by the next.
:func:`signature` is the reference, in numpy; :func:`signatures` computes the same values for
many texts at once with a compiled kernel (numba), about ten times as fast: numpy must write
and read the 140 x shingles products in memory, the kernel keeps 140 minimums in registers.

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

from pipeline.core.jit import compiled

__all__ = [
    "BANDS",
    "NUM_PERM",
    "ROWS",
    "SHINGLE",
    "band_keys",
    "estimate_jaccard",
    "shingle_hashes",
    "signature",
    "signatures",
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
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SPACE = 32


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
    return _mix(cells[:, 0] ^ _mix(cells[:, 1] + _GOLDEN))


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


def signatures(texts: list[bytes]) -> np.ndarray:
    """:func:`signature` of each text's words, as rows of one ``(len(texts), 140)`` array.

    ``texts`` are folded (:func:`pipeline.core.text.fold`): words are the runs of bytes that are not
    spaces, as ``fold(text).split()`` gives them.
    """
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    out = np.empty((len(texts), NUM_PERM), dtype=np.uint32)
    data = np.frombuffer(b"".join(texts), dtype=np.uint8)
    _signatures(data, np.cumsum(lengths), _A, _B, _SHINGLE_WEIGHTS, _BAND_WEIGHTS, out)
    return out


@compiled
def _mix_one(x):  # _mix for one uint64, compiled
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@compiled
def _signatures(data, ends, a, b, shingle_weights, short_weights, out):
    # The steps of signature(), text by text: word hashes, shingle hashes, minimums. numba
    # does integer arithmetic in 64 bits; np.uint32() takes the result modulo 2^32 as numpy's
    # uint32 multiply and add do.
    hashes = np.empty(data.shape[0] // 2 + 1, dtype=np.uint64)
    start = 0
    for row in range(ends.shape[0]):
        stop = ends[row]
        count = 0
        i = start
        while i < stop:
            if data[i] == _SPACE:
                i += 1
                continue
            low = np.uint64(0)  # the word's first 16 bytes, zero-padded, as two little-endian
            high = np.uint64(0)  # uint64 halves: numpy's "S16" cells
            j = i
            while j < stop and data[j] != _SPACE:
                if j - i < 8:
                    low |= np.uint64(data[j]) << np.uint64(8 * (j - i))
                elif j - i < 16:
                    high |= np.uint64(data[j]) << np.uint64(8 * (j - i - 8))
                j += 1
            hashes[count] = _mix_one(low ^ _mix_one(high + _GOLDEN))
            count += 1
            i = j
        minimums = out[row]
        minimums[:] = np.uint32(0xFFFFFFFF)
        if count < SHINGLE:  # one hash for the whole text
            combined = np.uint64(0)
            for k in range(count):
                combined ^= hashes[k] * short_weights[k]
            shingle = np.uint32(_mix_one(combined) >> np.uint64(32)) if count else np.uint32(0)
            for k in range(a.shape[0]):
                minimums[k] = np.uint32(a[k] * shingle + b[k])
        else:
            for first in range(count - SHINGLE + 1):
                combined = np.uint64(0)
                for offset in range(SHINGLE):
                    combined += hashes[first + offset] * shingle_weights[offset]
                shingle = np.uint32(_mix_one(combined) >> np.uint64(32))
                for k in range(a.shape[0]):
                    minimums[k] = min(minimums[k], np.uint32(a[k] * shingle + b[k]))
        start = stop


def band_keys(signature_: np.ndarray, bands: int = BANDS, rows: int = ROWS) -> np.ndarray:
    """One 32-bit key per band: equal keys mean (almost surely) equal bands.

    ``signature_`` is one signature or rows of them (the keys come out in the same shape).
    ``bands`` and ``rows`` other than the defaults serve comparisons (the benchmark's
    datatrove-style 14 x 8); the lake's index always uses 20 x 7.
    """
    grid = signature_[..., : bands * rows]
    grid = grid.reshape(*grid.shape[:-1], bands, rows).astype(np.uint64)
    weights = np.resize(_BAND_WEIGHTS, rows)
    return (_mix((grid * weights).sum(axis=-1)) >> np.uint64(32)).astype(np.uint32)


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
