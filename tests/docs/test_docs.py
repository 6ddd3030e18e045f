"""The README and the pages of ``docs/`` as a reader meets them.

Guarantees: the README stays a front door (at most 300 lines); every relative link in it and
in ``docs/*.md`` leads to a file or folder that exists, and every ``#anchor`` to a heading of
the Markdown file it names, as GitHub slugs headings; every repository path and every
``python -m`` module the pages name in code exists; and every command the README shows in a
shell block exits 0 when run in order, as a user would, in a fresh folder holding the
repository's samples and ``.venv``. A command marked with a trailing ``# needs ...`` comment
(a cluster, a cloud account, the package index) or ``# runs until stopped`` is not run, nor
are ``make run`` and ``make test`` themselves.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 300
FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
FOLDERS = "pipeline|connectors|schemas|tests|tools|benchmarks|deploy|samples|docs"
REPO_PATH = re.compile(rf"(?:{FOLDERS})/\S*")
MODULE = re.compile(r"python3? -m ([A-Za-z_][\w.]*)")
NOT_RUN = re.compile(r"#\s*(needs\b|runs until stopped\b)")
NOT_RERUN = {"make run", "make test"}


def prose(text: str) -> str:
    """The text outside fenced code blocks (their lines blanked, so line numbers stay)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            lines.append("")
        else:
            lines.append("" if fenced else line)
    return "\n".join(lines)


def fenced_blocks(text: str, languages: tuple[str, ...] = ()) -> list[str]:
    """The fenced code blocks of a page, only those of ``languages`` when given."""
    blocks, current, language = [], None, ""
    for line in text.splitlines():
        if FENCE.match(line):
            if current is None:
                current, language = [], line[3:].strip()
            else:
                if not languages or language in languages:
                    blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its rendered text, lower-cased, punctuation dropped,
    spaces turned to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its text
    text = text.replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor of a Markdown page; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose(page.read_text(encoding="utf-8")).splitlines():
        if match := HEADING.match(line):
            slug = github_slug(match.group(1))
            found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
            seen[slug] = seen.get(slug, 0) + 1
    return found


def broken_links(page: Path) -> list[str]:
    text = CODE_SPAN.sub("", prose(page.read_text(encoding="utf-8")))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        where = (page.parent / path).resolve() if path else page
        if not where.exists():
            broken.append(f"{target}: no such file")
        elif anchor and where.suffix != ".md":
            broken.append(f"{target}: an anchor into a file that is not Markdown")
        elif anchor and anchor not in anchors(where):
            broken.append(f"{target}: no heading of {where.name} has that anchor")
    return broken


def named_in_code(page: Path) -> list[str]:
    """Repository paths and ``python -m`` modules a page names in code, that do not exist."""
    text = page.read_text(encoding="utf-8")
    spans = CODE_SPAN.findall(prose(text))
    missing = []
    for span in spans:
        for path in REPO_PATH.findall(span):
            if not re.search(r"[<>*{}\[\]]|\.\.\.", path) and not (ROOT / path).exists():
                missing.append(path)
    for module in MODULE.findall("\n".join([*spans, *fenced_blocks(text)])):
        parts = module.split(".")
        if not (ROOT / parts[0]).is_dir():  # not ours: venv, pip, build
            continue
        base = ROOT.joinpath(*parts)
        if not any(p.exists() for p in (base.with_suffix(".py"), base / "__main__.py")):
            missing.append(f"python -m {module}")
    return missing


def layout_rows() -> dict[str, str]:
    """The README's table of the code: each row's folder or module, and the row's text."""
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"\| \[`([^`]+)`\]\(([^)]+)\) \|", line):
            rows[match.group(2)] = line
    return rows


def readme_commands() -> list[str]:
    """The commands of the README's shell blocks, in order, continuation lines joined."""
    commands = []
    for block in fenced_blocks(README.read_text(encoding="utf-8"), ("sh", "bash", "shell")):
        for line in block.replace("\\\n", " ").splitlines():
            command = line.strip()
            if not command or command.startswith("#"):
                continue
            commands.append(command)
    return commands


def runs_as_shown(command: str) -> bool:
    bare = command.split("#", 1)[0].strip()
    return bare not in NOT_RERUN and not NOT_RUN.search(command)


def test_the_readme_is_at_most_300_lines():
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move text to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_and_module_named_in_code_exists(page):
    assert named_in_code(page) == []


def test_the_readme_table_of_the_code_names_every_package_and_only_files_it_has():
    rows = layout_rows()
    packages = ["connectors/"] + [
        path.relative_to(ROOT).as_posix() + ("/" if path.is_dir() else "")
        for path in sorted((ROOT / "pipeline").iterdir())
        if (path / "__init__.py").exists() or (path.suffix == ".py" and path.stem != "__init__")
    ]
    assert [package for package in packages if package not in rows] == []
    stale = [
        f"{where}{name}"
        for where, row in rows.items()
        if where.endswith("/")
        for name in CODE_SPAN.findall(row.split("|", 2)[2])  # past the row's own name
        if re.fullmatch(r"\w+\.py|\w+/", name) and not (ROOT / where / name).exists()
    ]
    assert stale == []


def test_the_checks_catch_what_they_are_for(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Many writers, retries and crashes\n## `feedlake run`\n")
    page.write_text(
        "# Top\n[ok](other.md#many-writers-retries-and-crashes) [ok](other.md#feedlake-run)\n"
        "[ok](#top) [gone](nowhere.md) [bad](other.md#many-writers) [web](https://x.org/a#b)\n"
        "```sh\n[not a link](nowhere.md)\n```\n"
        "`tests/no_such_folder/` `pipeline/` `python -m benchmarks.no_such` `python -m venv`\n"
    )
    assert broken_links(page) == [
        "nowhere.md: no such file",
        "other.md#many-writers: no heading of other.md has that anchor",
    ]
    assert named_in_code(page) == ["tests/no_such_folder/", "python -m benchmarks.no_such"]
    assert github_slug("A drop: `feedlake validate`") == "a-drop-feedlake-validate"
    assert not runs_as_shown("make run    # set up .venv")
    assert not runs_as_shown("feedlake watch --lake lake  # runs until stopped")
    assert not runs_as_shown("feedlake run --runner DataflowRunner  # needs a cloud account")
    assert runs_as_shown("feedlake run --lake lake  # the sample into ./lake")


def test_the_readme_shows_make_run_and_make_test_first():
    assert readme_commands()[:2] == [
        "make run    # set up .venv, run the bundled MIL-OSI sample drop and feed into ./lake, "
        "show what landed",
        "make test   # set up .venv, lint, format check and the tests "
        "(the long suites: make test-long)",
    ]


@pytest.mark.e2e
def test_every_command_the_readme_shows_exits_0_on_the_sample(tmp_path):
    """In order, in a fresh folder: the repository's samples, and its .venv as after make run."""
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    (tmp_path / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    env = {**os.environ, "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    commands = [c for c in readme_commands() if runs_as_shown(c)]
    assert len(commands) >= 8, commands  # the everyday commands are there, and run
    failed = []
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            failed.append(f"{command}\n  exit {done.returncode}: {done.stderr.strip()[-600:]}")
    assert not failed, "\n".join(failed)
    assert list((tmp_path / "lake" / "_runs").glob("*.json"))  # the sample run committed
