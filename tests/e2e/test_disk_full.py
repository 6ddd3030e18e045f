"""A lake on a filesystem that fills up mid-run: one line naming the lake and the step that
was writing, exit 1, nothing committed, and the lake usable once there is room. The disk is
a real one: a 2 MB tmpfs mounted in a private mount namespace (``unshare``), or directly
when the tests run as root."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_DROP

pytestmark = [pytest.mark.e2e, pytest.mark.long]


def in_small_filesystem(folder: Path, megabytes: int, script: str) -> None:
    """Run the shell ``script`` with a tmpfs of ``megabytes`` mounted on ``folder``, in a
    private mount namespace; skips when this machine allows none."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to mount a small filesystem")
    namespace = ["unshare", "--map-root-user", "--mount", "sh", "-c"]
    mount = f"mount -t tmpfs -o size={megabytes}m tmpfs {folder}"
    probe = subprocess.run([*namespace, mount], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {probe.stderr.strip()}")
    subprocess.run([*namespace, f"{mount} && {script}"], cwd=ROOT, timeout=600, check=True)


def test_a_full_disk_is_one_line_naming_the_lake_and_the_step(tmp_path):
    drops = tmp_path / "drops"
    drops.mkdir()
    # 40 copies of the real drop: 1.8 MB of text, more than 2 MB of lake files.
    (drops / SAMPLE_DROP.name).write_bytes(SAMPLE_DROP.read_bytes() * 40)
    disk = tmp_path / "disk"
    disk.mkdir()
    lake = disk / "lake"
    run = [sys.executable, "-m", "pipeline.cli", "run", "--drops", str(drops), "--lake", str(lake)]
    script = " && ".join(
        [
            f"{' '.join(run)} --quiet 2> {tmp_path / 'full.err'}; echo $? > {tmp_path / 'full.rc'}",
            f"ls -A {lake}/_runs > {tmp_path / 'runs.txt'} 2>/dev/null; true",
            f"find {lake} -name '*.avro' > {tmp_path / 'avro.txt'}",
        ]
    )
    in_small_filesystem(disk, 2, script)
    stderr = (tmp_path / "full.err").read_text()
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    assert (tmp_path / "full.rc").read_text().strip() == "1"
    line = lines[0]
    assert "no space left on device" in line and f"the lake {lake}" in line
    assert "in step 'Publish articles'" in line or "in step 'Write " in line, line
    assert "nothing was committed" in line
    assert not (tmp_path / "runs.txt").exists() or not (tmp_path / "runs.txt").read_text()
    assert not (tmp_path / "avro.txt").read_text().strip()  # nothing published, staging gone
