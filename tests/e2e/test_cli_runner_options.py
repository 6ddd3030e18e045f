"""A runner named by its module path gets the options its own module defines, which Beam
knows only once that module is imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

PROBE = "tests.support.probe_runner.ProbeRunner"


def feedlake_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_runner_module_s_own_option_reaches_the_runner(tmp_path):
    note = tmp_path / "note"
    lake = tmp_path / "lake"
    done = feedlake_run("--lake", str(lake), "--runner", PROBE, "--probe_note", str(note), "--json")
    assert done.returncode == 0, done.stderr
    assert note.read_text() == "ProbeRunner"
    assert json.loads(done.stdout)["counts"]["articles"] == 10


def test_an_option_no_runner_defines_is_still_refused(tmp_path):
    done = feedlake_run("--lake", str(tmp_path / "lake"), "--runner", PROBE, "--probe_nte", "x")
    assert done.returncode == 2
    assert "unknown option --probe_nte: did you mean --probe_note?" in done.stderr
    assert not (tmp_path / "lake").exists()
