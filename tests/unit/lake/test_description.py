"""The lake's description is input: its partition keys name folders, so only feedlake's keys
are taken."""

from __future__ import annotations

import json

import pytest

from pipeline.lake.confine import DamagedLakeFile
from pipeline.lake.description import read_description


def described(tmp_path, partition_by) -> str:
    (tmp_path / "_lake.json").write_text(
        json.dumps({"format_version": 2, "partition_by": partition_by})
    )
    return str(tmp_path)


@pytest.mark.parametrize(
    "keys", [["dt", "region", "topic"], ["dt"], ["dt", "region"], ["region"], ["topic", "dt"]]
)
def test_the_layouts_feedlake_writes_are_read(tmp_path, keys):
    assert read_description(described(tmp_path, keys))["partition_by"] == keys


@pytest.mark.parametrize(
    "keys", [["dt", "../../../victim/x"], [], ["dt", "dt"], ["dt", 7], ["dt", "source"], "dt"]
)
def test_partition_keys_feedlake_never_writes_are_a_damaged_description(tmp_path, keys):
    with pytest.raises(
        DamagedLakeFile, match=r"_lake\.json is not a lake's description \((part|format)"
    ):
        read_description(described(tmp_path, keys))
