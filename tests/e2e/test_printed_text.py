"""Text from the lake is never markup and never moves the terminal: a title holding rich's
markup (`[/]`) or escape sequences prints as its characters, with the escapes visible, in
`validate`, `inspect`, `inspect --sql` and `run`'s summary."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_DROP

pytestmark = pytest.mark.e2e
MARKUP = "Closing [/] and [bold red]loud[/bold red] :warning: tags"
ESCAPES = "Red \x1b[31malert\x1b[0m then \x1b]0;owned\x07 and \u202egnilpu"


def hostile_drop(folder: Path) -> Path:
    """The bundled drop with its first two articles retitled: rich markup, then escape
    sequences (a colour, a window title, a bidi override)."""
    text = SAMPLE_DROP.read_text(encoding="utf-8").split("\n")
    titles = [n - 2 for n, line in enumerate(text) if line.startswith("Translation. Region:")]
    text[titles[0]], text[titles[1]] = ESCAPES, MARKUP
    path = folder / "milosi-2025-08-29.txt"
    path.write_text("\n".join(text), encoding="utf-8")
    return path


def feedlake(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "TERM": "xterm-256color", "COLUMNS": "200"},
    )


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    drop = hostile_drop(root)
    done = feedlake("run", "--drops", str(drop), "--lake", str(root / "lake"))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    return root / "lake"


def assert_inert(out: str) -> None:
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b[31malert\\x1b[0m" in out and "\\u202egnilpu" in out


def test_inspect_sql_prints_markup_as_text_and_escapes_visibly(lake):
    done = feedlake("inspect", "--lake", str(lake), "--sql", "SELECT title FROM articles")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert MARKUP in done.stdout
    assert_inert(done.stdout)


def test_validate_prints_titles_inert(tmp_path):
    done = feedlake("validate", str(hostile_drop(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert f"  article: {MARKUP}" in done.stdout
    assert_inert(done.stdout)


def test_inspect_prints_names_from_the_lake_inert(lake, tmp_path):
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    (manifest,) = (copy / "_runs").glob("*.json")
    document = json.loads(manifest.read_text())
    document["run_id"] = "[/]\x1b[2J"
    (copy / "_runs" / "zz.json").write_text(json.dumps(document))
    done = feedlake("inspect", "--lake", str(copy))
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "[/]\\x1b[2J" in done.stdout
