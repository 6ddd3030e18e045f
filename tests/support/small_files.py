"""A lake of many small files, as a scheduler's frequent runs leave it: what compaction is for."""

from __future__ import annotations

from pathlib import Path

from benchmarks.corpus import generate, write
from pipeline.cli import main


def small_files_lake(folder: Path, partition_by: str | None = None, runs: int = 4) -> Path:
    """``runs`` runs of 15 generated articles each (exact and near copies among them) into
    ``folder/lake``, a drop a run; a drop's stories are of its day or up to two days before,
    so each ``dt=`` folder gets files from up to three runs; the first two runs also read a
    binary file, whose rejects land in ``rejects/dt=<today>``, two files."""
    write(generate(15 * runs, exact_rate=0.2, near_rate=0.1, seed=5, per_drop=15), folder)
    lake = folder / "lake"
    for number, drop in enumerate(sorted((folder / "drops").iterdir())):
        argv = ["run", "--drops", str(drop), "--lake", str(lake), "--quiet"]
        if number < 2:
            binary = folder / f"binary-{number}.bin"
            binary.write_bytes(bytes(range(256)) * (8 + number))
            argv += ["--drops", str(binary)]
        if partition_by:
            argv += ["--partition-by", partition_by]
        assert main(argv) == 0
    return lake
