"""The lake describes itself and keeps its layout: a run that asks for other partition keys is
refused before it writes anything, a run that asks for none takes the lake's, and a lake made
before `_lake.json` existed is read from its folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.corpus import generate, write
from pipeline.cli import main
from tests.conftest import SAMPLE_DROP
from tests.support.lake import assert_whole, manifests

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def later_drop(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("later")
    write(generate(20, exact_rate=0, near_rate=0, seed=9, per_drop=20), folder)
    return next((folder / "drops").iterdir())


def run(lake: Path, drop: Path, *flags: str) -> int:
    return main(["run", "--drops", str(drop), "--lake", str(lake), "--quiet", *flags])


def folders(lake: Path) -> set[tuple[str, ...]]:
    """The partition keys of every article file's folders."""
    return {
        tuple(part.split("=")[0] for part in path.parent.relative_to(lake / "articles").parts)
        for path in (lake / "articles").rglob("*.avro")
    }


def test_a_lake_keeps_its_layout(tmp_path, later_drop, capsys):
    lake = tmp_path / "lake"
    assert run(lake, SAMPLE_DROP, "--partition-by", "region,dt") == 0
    described = json.loads((lake / "_lake.json").read_text())
    assert described["partition_by"] == ["region", "dt"] and described["format_version"] == 2

    capsys.readouterr()
    assert run(lake, later_drop, "--partition-by", "dt,region,topic") == 2
    err = capsys.readouterr().err
    assert "is partitioned by region,dt, not dt,region,topic" in err and len(manifests(lake)) == 1

    assert run(lake, later_drop) == 0  # none asked: the lake's own
    assert folders(lake) == {("region", "dt")} and len(manifests(lake)) == 2
    assert_whole(lake)


def test_a_lake_made_before_its_description_is_read_from_its_folders(tmp_path, later_drop, capsys):
    lake = tmp_path / "lake"
    assert run(lake, SAMPLE_DROP, "--partition-by", "dt,topic") == 0
    (lake / "_lake.json").unlink()  # as feedlake before 0.2 left it
    capsys.readouterr()
    assert run(lake, later_drop, "--partition-by", "dt,region,topic") == 2
    assert "is partitioned by dt,topic" in capsys.readouterr().err
    assert run(lake, later_drop) == 0
    assert folders(lake) == {("dt", "topic")}
    assert json.loads((lake / "_lake.json").read_text())["partition_by"] == ["dt", "topic"]
