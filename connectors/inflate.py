"""Inflate a compressed file in bounded pieces, whatever its ratio.

Guarantees: every piece is at most ``size`` bytes, and no more than one read of compressed
input (64 KiB) is held beside it, so a small file that inflates to gigabytes (2 GiB of zeros
gzip into 2 MB, bzip2 into a few KB) costs the memory of one piece, never of what it claims.
Beam's ``CompressedFile`` inflates each 64 KiB read whole: one read of a bzip2 bomb is tens of
gigabytes. Concatenated streams (``cat a.gz b.gz``, multi-stream bzip2 and xz, zstd frames)
are read one after another, as Beam reads them. The windows a file may ask for are capped:
zstd at 128 MiB (zstd's own default; Beam allows 2 GiB), xz and lzma at 256 MiB of decoder
memory (``xz -9`` needs 65 MiB); a file asking for more raises, naming the limit.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

import zstandard
from apache_beam.io.filesystem import CompressionTypes

__all__ = ["inflate"]

_READ = 64 << 10
_ZSTD_WINDOW = 1 << 27
_LZMA_MEMORY = 256 << 20

_ZLIB_LIKE: dict[str, Callable] = {
    CompressionTypes.GZIP: lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    CompressionTypes.DEFLATE: zlib.decompressobj,
}
_STREAMING: dict[str, Callable] = {
    CompressionTypes.BZIP2: bz2.BZ2Decompressor,
    CompressionTypes.LZMA: lambda: lzma.LZMADecompressor(memlimit=_LZMA_MEMORY),
}


def inflate(raw: BinaryIO, compression: str, size: int) -> Iterator[bytes]:
    """The inflated bytes of ``raw`` (compressed as ``compression``, one of Beam's
    ``CompressionTypes``) in pieces of at most ``size`` bytes."""
    if compression == CompressionTypes.ZSTD:
        decompressor = zstandard.ZstdDecompressor(max_window_size=_ZSTD_WINDOW)
        reader = decompressor.stream_reader(raw, read_size=_READ, read_across_frames=True)
        while piece := reader.read(size):
            yield piece
    elif compression in _ZLIB_LIKE:
        yield from _zlib_pieces(raw, _ZLIB_LIKE[compression], size)
    elif compression in _STREAMING:
        yield from _stream_pieces(raw, _STREAMING[compression], size)
    else:
        raise ValueError(f"inflate: no decompressor for {compression!r}")


def _zlib_pieces(raw: BinaryIO, make: Callable, size: int) -> Iterator[bytes]:
    """zlib keeps the input it has not inflated yet in ``unconsumed_tail``."""
    decompressor, data = make(), b""
    while True:
        if not data:
            data = raw.read(_READ)
            if not data:
                if tail := decompressor.flush():
                    yield tail
                return
        piece = decompressor.decompress(data, size)
        data = decompressor.unconsumed_tail
        if decompressor.eof:  # the next member, if any; what is left is in unused_data only
            data, decompressor = decompressor.unused_data, make()
        if piece:
            yield piece


def _stream_pieces(raw: BinaryIO, make: Callable, size: int) -> Iterator[bytes]:
    """bzip2 and lzma keep the input they have not inflated yet inside the decompressor."""
    decompressor = make()
    while True:
        if decompressor.eof:  # the next stream of a concatenated file, if any
            data, decompressor = decompressor.unused_data or raw.read(_READ), make()
            if not data:
                return
        elif decompressor.needs_input:
            data = raw.read(_READ)
            if not data:
                return
        else:
            data = b""
        if piece := decompressor.decompress(data, size):
            yield piece
