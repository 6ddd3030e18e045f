"""Damaged metadata, written with real bytes (an index block cut short, a catalog garbled, a
feed state, a run's marker and a manifest that are not JSON), met by every command: one line
naming the file and what to do, never a traceback, and never a lake that no command can move.
``feedlake repair`` moves the damaged file aside (never deleting it), says what is lost,
rebuilds the index or the catalog from the lake, and the next run holds exactly what it holds
in a lake that was never damaged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarks.corpus import generate, write
from pipeline.lake.history import read_blocks
from tests.conftest import SAMPLE_DROP
from tests.e2e.test_cli_errors import feedlake, one_line
from tests.support.feed_server import FeedServer
from tests.support.lake import assert_whole, content, records

pytestmark = [pytest.mark.e2e, pytest.mark.long]


@pytest.fixture(scope="module")
def server():
    with FeedServer() as running:
        yield running


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, server) -> dict[str, list[str]]:
    """The first run's inputs (the sample drop, a generated drop with copies, a feed of the
    sample's stories) and the next run's (another generated drop, the same feed)."""
    folder = tmp_path_factory.mktemp("inputs")
    write(generate(60, exact_rate=0.2, near_rate=0.1, seed=11, per_drop=30), folder)
    first, second = sorted((folder / "drops").iterdir())
    feeds = folder / "feeds.txt"
    feeds.write_text(f"{server.url}/rss.xml\n")
    shared = ["--feeds", str(feeds), "--feed-min-interval", "0", "--quiet"]
    return {
        "first": ["--drops", str(SAMPLE_DROP), "--drops", str(first), *shared],
        "next": ["--drops", str(second), *shared],
    }


def run(lake: Path, argv: list[str], *more: str):
    return feedlake("run", *argv, "--lake", str(lake), *more)


@pytest.fixture(scope="module")
def first_lake(inputs, tmp_path_factory) -> Path:
    lake = tmp_path_factory.mktemp("first") / "lake"
    done = run(lake, inputs["first"])
    assert done.returncode == 0, done.stderr
    return lake


@pytest.fixture(scope="module")
def undamaged(first_lake, inputs, tmp_path_factory) -> Path:
    """The first lake after the next run, never damaged: what a repaired lake must hold."""
    lake = tmp_path_factory.mktemp("undamaged") / "lake"
    shutil.copytree(first_lake, lake)
    done = run(lake, inputs["next"])
    assert done.returncode == 0, done.stderr
    return lake


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")}


def one(lake: Path, pattern: str) -> Path:
    found = sorted(lake.glob(pattern))
    assert found, pattern
    return found[0]


def truncated_index(lake: Path) -> Path:
    path = one(lake, "_index/ids/L0-*.avro")
    path.write_bytes(path.read_bytes()[:-3])  # the last sync marker: 13 of its 16 bytes
    return path


def garbled_catalog(lake: Path) -> Path:
    path = one(lake, "_catalog/drops/L0-*.avro")
    data = path.read_bytes()
    assert b"milosi" in data
    path.write_bytes(data.replace(b"milosi", b"\xff\xfe\xff\xfe\xff\xfe", 1))
    return path


def garbage_feed_state(lake: Path) -> Path:
    path = lake / "_state" / "feeds.json"
    assert path.exists()
    path.write_bytes(b'{"http://127.0.0.1/rss.xml": {"etag": ')
    return path


def garbage_marker(lake: Path) -> Path:
    path = lake / "_staging" / "20261207T000000000Z-deadbeef" / "RUNNING"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00\x01 not json \xff")
    return path.parent


def garbage_manifest(lake: Path) -> Path:
    path = one(lake, "_runs/*.json")
    path.write_bytes(b"not json {")
    return path


STAGED = "20261207T000000000Z-0dec1510@9"  # a run staged under lease generation 9


def staged_run(lake: Path) -> Path:
    folder = lake / "_staging" / STAGED
    (folder / "files" / "articles").mkdir(parents=True)
    (folder / "RUNNING").write_text(json.dumps({"commit_protocol": 5}))
    return folder


def garbage_decision(lake: Path) -> Path:
    """A staged run whose decision was cut short: whether it committed is unreadable."""
    staged_run(lake)
    path = lake / "_commits" / f"{STAGED}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b'{"staging": "' + STAGED.encode() + b'", "decision": "comm')
    return path


def decision_without_a_decision(lake: Path) -> Path:
    """A staged run whose decision is a JSON object, but not a decision."""
    path = garbage_decision(lake)
    path.write_text(json.dumps({"staging": STAGED, "decision": ["committed"]}))
    return path


DECISIONS = {
    "garbage commit decision": garbage_decision,
    "a decision that decides nothing": decision_without_a_decision,
}
DAMAGE = {
    "truncated index block": truncated_index,
    "garbled catalog": garbled_catalog,
    "garbage feeds.json": garbage_feed_state,
    "garbage RUNNING marker": garbage_marker,
    "garbage manifest": garbage_manifest,
}
# What each command does with each damage: 1 when it reads the file (one line naming it), 0
# when it never needs it.
EXPECTED = {
    "truncated index block": {"run": 1, "run --reprocess": 1, "inspect": 1, "compact": 1},
    "garbled catalog": {"run": 1, "run --reprocess": 0, "inspect": 0, "compact": 1},
    "garbage feeds.json": {"run": 1, "run --reprocess": 1, "inspect": 0, "compact": 0, "watch": 1},
    "garbage RUNNING marker": {
        "run": 1,
        "run --reprocess": 1,
        "inspect": 0,
        "compact": 1,
        "watch": 1,
    },
    "garbage manifest": {"run": 0, "run --reprocess": 0, "inspect": 1, "compact": 0},
    **{
        damage: {"run": 1, "run --reprocess": 1, "inspect": 0, "compact": 1, "watch": 1}
        for damage in DECISIONS
    },
}


def command(name: str, lake: Path, inputs) -> list[str]:
    return {
        "run": ["run", *inputs["next"]],
        "run --reprocess": ["run", *inputs["first"], "--reprocess"],
        "inspect": ["inspect"],
        "compact": ["compact", "--quiet"],
        "watch": ["watch", *inputs["next"], "--poll-interval", "0.2"],
    }[name] + ["--lake", str(lake)]


CASES = [(damage, name) for damage, names in EXPECTED.items() for name in names]


@pytest.mark.parametrize(("damage", "name"), CASES)
def test_each_damage_is_one_line_naming_the_file_from_each_command(
    first_lake, undamaged, inputs, tmp_path, damage, name
):
    lake = tmp_path / "lake"
    # compact merges the index and catalog files of a folder that has two: the lake of two runs
    shutil.copytree(undamaged if name == "compact" else first_lake, lake)
    path = {**DAMAGE, **DECISIONS}[damage](lake)
    done = feedlake(*command(name, lake, inputs), timeout=240)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == EXPECTED[damage][name], done.stderr
    if done.returncode:
        line = one_line(done.stderr)
        assert str(path) in line and f"feedlake repair --lake {lake}'" in line, line


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_repair_moves_the_damage_aside_and_the_next_run_holds_what_an_undamaged_lake_holds(
    first_lake, undamaged, inputs, tmp_path, damage
):
    lake = tmp_path / "lake"
    shutil.copytree(first_lake, lake)
    path = DAMAGE[damage](lake)
    relative = path.relative_to(lake).as_posix()
    held = tree(path) if path.is_dir() else path.read_bytes()

    dry = feedlake("repair", "--lake", str(lake), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert relative in dry.stdout and "lost:" in dry.stdout and path.exists()
    assert not (lake / "_damaged").exists()

    repaired = feedlake("repair", "--lake", str(lake))
    assert repaired.returncode == 0 and "Traceback" not in repaired.stderr, repaired.stderr
    assert relative in repaired.stdout and "lost:" in repaired.stdout, repaired.stdout
    assert not path.exists()
    (moved,) = (lake / "_damaged").glob(f"*/{relative}")
    if isinstance(held, dict):
        assert tree(moved) == held
    else:
        assert moved.read_bytes() == held
    report = json.loads(next((lake / "_damaged").glob("*/repair.json")).read_text())
    assert [entry["path"] for entry in report["moved"]] == [relative]

    done = run(lake, inputs["next"])
    assert done.returncode == 0, done.stderr
    assert content(lake) == content(undamaged)
    assert_whole(lake)
    counted = feedlake(
        "inspect", "--lake", str(lake), "--json", "--sql", "SELECT count(*) AS n FROM articles"
    )
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout) == [{"n": len(records(undamaged, "articles"))}]


@pytest.mark.parametrize("damage", list(DECISIONS))
def test_a_damaged_decision_is_moved_aside_with_its_staging_and_the_run_stays_uncommitted(
    first_lake, undamaged, inputs, tmp_path, damage
):
    """Whether the run committed cannot be read, and no manifest says it did: its decision
    and what it staged are kept in _damaged, and an abandoned decision takes the damaged
    one's place, so that its writer, if it still runs, can never commit it."""
    lake = tmp_path / "lake"
    shutil.copytree(first_lake, lake)
    path = DECISIONS[damage](lake)
    held = path.read_bytes()
    repaired = feedlake("repair", "--lake", str(lake))
    assert repaired.returncode == 0 and "Traceback" not in repaired.stderr, repaired.stderr
    assert f"_commits/{STAGED}.json" in repaired.stdout, repaired.stdout
    assert f"_staging/{STAGED}" in repaired.stdout, repaired.stdout
    (moved,) = (lake / "_damaged").glob(f"*/_commits/{STAGED}.json")
    assert moved.read_bytes() == held
    assert list((lake / "_damaged").glob(f"*/_staging/{STAGED}/RUNNING"))
    assert json.loads(path.read_text())["decision"] == "abandoned"
    assert not list((lake / "_staging").glob("*"))
    done = run(lake, inputs["next"])
    assert done.returncode == 0, done.stderr
    assert content(lake) == content(undamaged)
    assert_whole(lake)


def test_a_damaged_decision_of_a_run_whose_manifest_says_committed_is_decided_again_and_finished(
    first_lake, undamaged, inputs, tmp_path
):
    """The next run committed and wrote its manifest, then its writer died before publishing;
    the disk then garbled its decision. Its manifest says it committed: repair decides it
    committed again, from that manifest, and recovery publishes it."""
    lake = tmp_path / "lake"
    shutil.copytree(first_lake, lake)
    crashed = feedlake(
        "run", *inputs["next"], "--lake", str(lake), env={"FEEDLAKE_CRASH_AT": "recorded"}
    )
    assert crashed.returncode == 86, crashed.stderr
    (path,) = (lake / "_commits").glob("*.json")
    path.write_bytes(path.read_bytes()[:40])
    done = run(lake, inputs["next"])  # after a warning that it took the dead writer's lease
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert str(path) in done.stderr.splitlines()[-1] and f"repair --lake {lake}'" in done.stderr
    repaired = feedlake("repair", "--lake", str(lake))
    assert repaired.returncode == 0 and "Traceback" not in repaired.stderr, repaired.stderr
    assert path.name in repaired.stdout and "finished" in repaired.stdout, repaired.stdout
    assert not list((lake / "_damaged").glob("*/_staging/*")), "the committed run was not kept"
    assert content(lake) == content(undamaged)
    assert_whole(lake)


def test_a_lake_without_damage_is_left_as_it_is(first_lake, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(first_lake, lake)
    done = feedlake("repair", "--lake", str(lake))
    assert done.returncode == 0, done.stderr
    assert "nothing damaged" in done.stdout
    assert not (lake / "_damaged").exists()
    assert content(lake) == content(first_lake)


def index_entries(lake: Path) -> set[tuple]:
    """Every entry of the lake's index, whatever file holds it: (folder, key, day, id, band
    keys, sketch)."""
    found = set()
    for path in lake.glob("_index/**/L*-*.avro"):
        folder = path.parent.relative_to(lake).as_posix()
        for block in read_blocks(str(path)):
            for row in range(len(block.keys)):
                found.add(
                    (
                        folder,
                        block.keys[row : row + 1].tobytes(),
                        int(block.days[row]),
                        b"" if block.ids is None else block.ids[row : row + 1].tobytes(),
                        b"" if block.bands is None else block.bands[row].tobytes(),
                        b"" if block.sketches is None else block.sketches[row].tobytes(),
                    )
                )
    return found


def test_the_rebuilt_index_holds_every_entry_the_runs_wrote_and_no_other(undamaged, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(undamaged, lake)
    truncated_index(lake)
    done = feedlake("repair", "--lake", str(lake))
    assert done.returncode == 0, done.stderr
    rebuilt, written = index_entries(lake), index_entries(undamaged)
    assert {entry[0].split("/")[1] for entry in written} == {"ids", "links", "near"}
    assert rebuilt == written
    assert len(list(lake.glob("_index/**/L*-*.avro"))) == len({entry[0] for entry in written}), (
        "one rebuilt file a folder"
    )
