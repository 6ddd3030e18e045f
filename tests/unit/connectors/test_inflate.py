"""connectors.inflate: bounded pieces whatever the ratio, every byte once, concatenated
streams read through."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib

import pytest
import zstandard
from apache_beam.io.filesystem import CompressionTypes

from connectors.inflate import inflate

COMPRESSORS = {
    CompressionTypes.GZIP: gzip.compress,
    CompressionTypes.DEFLATE: zlib.compress,
    CompressionTypes.BZIP2: bz2.compress,
    CompressionTypes.LZMA: lzma.compress,
    CompressionTypes.ZSTD: lambda data: zstandard.ZstdCompressor().compress(data),
}
PIECE = 1 << 16


@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
def test_a_bomb_comes_out_in_pieces_no_larger_than_asked(compression):
    zeros = bytes(64 << 20)  # 64 MiB of zeros: a few KB to 64 KB compressed
    packed = COMPRESSORS[compression](zeros)
    assert len(packed) < len(zeros) // 500
    sizes = [len(piece) for piece in inflate(io.BytesIO(packed), compression, PIECE)]
    assert max(sizes) <= PIECE and sum(sizes) == len(zeros)


@pytest.mark.parametrize("compression", sorted(set(COMPRESSORS) - {CompressionTypes.DEFLATE}))
def test_concatenated_streams_are_read_through(compression):
    first, second = b"first stream\n" * 1000, b"second stream\n" * 1000
    packed = COMPRESSORS[compression](first) + COMPRESSORS[compression](second)
    assert b"".join(inflate(io.BytesIO(packed), compression, 4096)) == first + second


def test_an_unknown_compression_is_refused():
    with pytest.raises(ValueError, match="no decompressor"):
        list(inflate(io.BytesIO(b""), "rar", PIECE))
