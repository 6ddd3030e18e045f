"""Compiling the pipeline's few numeric kernels with numba."""

from __future__ import annotations

import numba

__all__ = ["compiled"]


def compiled(function):
    """``function`` compiled by numba, cached on disk where numba finds a writable place.

    Numba caches beside the module or in the user's cache folder (or ``NUMBA_CACHE_DIR``);
    with none writable (a read-only image without a home) it refuses ``cache=True``, and the
    kernels are then compiled once per process instead (about 2 s for MinHash's and the
    parser's together).
    """
    try:
        return numba.njit(cache=True, nogil=True)(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(function)
