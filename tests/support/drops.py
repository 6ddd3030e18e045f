"""Drops larger than one read of a compressed file."""

from __future__ import annotations

BEYOND_ONE_READ = 17 << 20


def numbered_lines(size: int) -> bytes:
    line = b"line %016d of a drop\n"
    return b"".join(line % n for n in range(size // len(line % 0) + 1))
