"""How a drop gets its reference date, and how patterns expand."""

from __future__ import annotations

import datetime as dt

from connectors.drops import as_glob, date_from_name, expand_patterns, reference_for

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


def test_folders_expand_to_their_files(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b.txt").write_text("y")
    matched = expand_patterns([str(tmp_path)])
    assert list(matched) == [as_glob(str(tmp_path))]
    assert [p.rsplit("/", 1)[1] for p in next(iter(matched.values()))] == ["a.txt", "b.txt"]
    assert expand_patterns([str(tmp_path / "none*.txt")]) == {str(tmp_path / "none*.txt"): []}
