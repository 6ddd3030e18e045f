"""How a drop gets its reference date, and that it is read whole, compressed or not."""

from __future__ import annotations

import datetime as dt
import hashlib
import tracemalloc

import pytest
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from connectors.drops import date_from_name, file_sha256, read_drop, reference_for
from tests.support.drops import BEYOND_ONE_READ, numbered_lines

MTIME = dt.datetime(2025, 9, 1, 12, tzinfo=dt.timezone.utc)


def test_date_from_name_reads_common_spellings():
    assert date_from_name("/d/milosi-2025-08-29.txt") == dt.date(2025, 8, 29)
    assert date_from_name("s3://b/drops/20250829.txt") == dt.date(2025, 8, 29)
    assert date_from_name("/2025-08-29/drop.txt") is None  # only the file name counts
    assert date_from_name("/d/milosi-2025-02-30.txt") is None
    assert date_from_name("/d/drop-123456789.txt") is None


def test_reference_date_prefers_name_then_flag_then_mtime():
    flag = dt.date(2025, 1, 1)
    assert reference_for("/d/milosi-2025-08-29.txt", MTIME, flag) == (
        dt.date(2025, 8, 29),
        "drop_name",
    )
    assert reference_for("/d/drop.txt", MTIME, flag) == (flag, "reference_date")
    assert reference_for("/d/drop.txt", MTIME, None) == (dt.date(2025, 9, 1), "file_mtime")
    assert reference_for("/d/drop.txt", None, None) == (None, None)


# Beam hands a compressed file's reader 16 MiB at a time: one read() stops there.


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zst", ".deflate"])
def test_compressed_drops_are_read_whole_and_hash_as_the_rerun_check_does(tmp_path, suffix):
    data = numbered_lines(BEYOND_ONE_READ)
    path = str(tmp_path / f"milosi-2025-08-29.txt{suffix}")
    with FileSystems.create(path, compression_type=CompressionTypes.AUTO) as fh:
        fh.write(data)
    drop = read_drop(path)
    assert (drop.size, drop.data[-40:]) == (len(data), data[-40:])
    assert drop.sha256 == hashlib.sha256(data).hexdigest() == file_sha256(path)
    assert drop.reference_date == dt.date(2025, 8, 29)


def test_reading_a_compressed_drop_holds_little_more_than_the_drop(tmp_path):
    data = numbered_lines(BEYOND_ONE_READ)
    path = str(tmp_path / "drop.txt.gz")
    with FileSystems.create(path, compression_type=CompressionTypes.AUTO) as fh:
        fh.write(data)
    del data
    tracemalloc.start()
    try:
        drop = read_drop(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.3 * drop.size + (4 << 20), f"peak {peak:,} for a {drop.size:,}-byte drop"
