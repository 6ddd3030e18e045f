"""Drops as the world sends them, through `feedlake run` and `feedlake validate`: compressed
past Beam's 16 MiB read, odd names, links, a lake inside the drop folder, files that are not
drops. Each input ends read whole and once, or skipped and said so; never lost in silence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from benchmarks.corpus import generate
from pipeline.cli import main

pytestmark = pytest.mark.e2e


def manifests(lake: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((lake / "_runs").glob("*.json"))]


@pytest.fixture(scope="module")
def compressed(tmp_path_factory):
    """The same 5,400 distinct articles (17.8 MB inflated), gzipped and bzipped."""
    corpus = generate(5400, exact_rate=0, near_rate=0, seed=5, per_drop=5400)
    (text,) = corpus.drops.values()
    data = text.encode("utf-8")
    assert len(data) > 17 << 20
    folder = tmp_path_factory.mktemp("compressed")
    for suffix in (".gz", ".bz2"):
        path = str(folder / f"milosi-2025-08-29.txt{suffix}")
        with FileSystems.create(path, compression_type=CompressionTypes.AUTO) as fh:
            fh.write(data)
    return folder, len(data)


def test_compressed_drops_past_16_mib_are_read_whole_and_skipped_on_rerun(
    compressed, tmp_path, capsys
):
    folder, size = compressed
    lake = tmp_path / "lake"
    argv = ["run", "--drops", str(folder), "--lake", str(lake), "--quiet"]
    assert main(argv) == 0
    (manifest,) = manifests(lake)
    assert manifest["status"] == "succeeded"
    by_suffix = {i["uri"].rsplit(".", 1)[1]: i for i in manifest["inputs"]}
    for drop in by_suffix.values():
        assert (drop["size"], drop["segments"], drop["rejects"]) == (size, 5400, 0)
    assert by_suffix["gz"]["sha256"] == by_suffix["bz2"]["sha256"]
    assert manifest["counts"]["articles"] == 5400  # the other copy: 5,400 duplicates
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "nothing_new"
    assert len(manifests(lake)) == 1


def test_validate_reads_compressed_drops_whole(compressed, capsys):
    folder, size = compressed
    assert main(["validate", str(folder), "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [(r["size"], r["articles"], r["clean"]) for r in reports] == [(size, 5400, True)] * 2
