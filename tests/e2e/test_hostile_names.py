"""Names that are paths or patterns: run ids feedlake refuses before it writes anything, lakes
whose own path holds pattern characters (on local disk, S3 and GCS), and a staging folder
named like a pattern, which recovery never reads as one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.e2e.test_cli_errors import feedlake
from tests.support.lake import assert_whole, manifests, records, stories_corpus, stories_once

pytestmark = [pytest.mark.e2e, pytest.mark.long]
KINDS = ("articles", "duplicates", "rejects")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Three drops of 30 articles; a quarter exact copies, some across drops."""
    return stories_corpus(tmp_path_factory.mktemp("corpus"), 90, per_drop=30)


def every_file(lake: Path) -> dict[str, bytes]:
    return {str(p.relative_to(lake)): p.read_bytes() for p in lake.rglob("*") if p.is_file()}


def data_files(lake: Path) -> set[Path]:
    return {path for kind in KINDS for path in (lake / kind).rglob("*.avro")}


@pytest.mark.parametrize(
    "run_id",
    ["..", ".", "*", "[a]", "", "a/b", "x" * 129, "a\nb", ".hidden", "-x", "a@1", "a b", "ü"],
)
def test_a_run_id_that_is_no_safe_name_is_a_usage_error_and_nothing_is_written(
    corpus, tmp_path, capsys, run_id
):
    drops, _ = corpus
    lake = tmp_path / "lake"
    assert main(["run", "--drops", str(drops[0]), "--lake", str(lake), "--quiet"]) == 0
    before = every_file(lake)
    capsys.readouterr()
    code = main(["run", "--drops", str(drops[1]), "--lake", str(lake), f"--run-id={run_id}"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert "--run-id" in err and repr(run_id) in err
    assert "letters, digits, '.', '_' and '-', starting with a letter or a digit" in err
    assert every_file(lake) == before


def test_a_run_id_of_the_safe_form_is_taken(corpus, tmp_path):
    drops, _ = corpus
    lake = tmp_path / "lake"
    run_id = "airflow-20261207T050000.retry_1"
    assert main(["run", "--drops", str(drops[0]), "--lake", str(lake), "--run-id", run_id]) == 0
    assert [m["run_id"] for m in manifests(lake)] == [run_id]


@pytest.mark.parametrize(
    "name, neighbour", [("lake[1]", "lake1"), ("lake*", "lake2"), ("la?e", "lake")]
)
def test_a_lake_whose_path_holds_pattern_characters_is_that_folder(
    corpus, tmp_path, name, neighbour
):
    """Before: `lake[1]`'s first run exited 1 with a false "lost the writer lease" and the
    second spun in WriterLease.acquire for ever. Beside it, a lake its name matches as a
    pattern, which nothing touches."""
    drops, stories = corpus
    beside = tmp_path / neighbour
    assert main(["run", "--drops", str(drops[0]), "--lake", str(beside), "--quiet"]) == 0
    untouched = every_file(beside)
    lake = tmp_path / name
    for drop in drops:
        done = feedlake("run", "--drops", str(drop), "--lake", str(lake), "--quiet")
        assert done.returncode == 0, done.stderr
    assert feedlake("compact", "--lake", str(lake), "--quiet").returncode == 0
    listed = feedlake("inspect", "--lake", str(lake), "--json")
    assert listed.returncode == 0, listed.stderr
    written = manifests(lake)
    assert all(m["status"] == "succeeded" for m in written)
    assert sum(m.get("counts", {}).get("drops", 0) for m in written) == len(drops)
    assert [m["kind"] for m in written if m.get("kind") == "compaction"] == ["compaction"]
    assert_whole(lake)
    stories_once(lake, stories)
    assert every_file(beside) == untouched


def test_a_lake_on_an_object_store_whose_key_holds_pattern_characters(corpus, tmp_path, store):
    drops, _ = corpus
    lake = store.uri("lakes/lake[1]")
    for drop in drops[:2]:
        done = feedlake("run", "--drops", str(drop), "--lake", lake, "--quiet", *store.flags)
        assert done.returncode == 0, done.stderr
    keys = store.keys("lakes/")
    assert all(key.startswith("lakes/lake[1]/") for key in keys)
    runs = [k for k in keys if k.startswith("lakes/lake[1]/_runs/") and k.endswith(".json")]
    assert len(runs) == 2
    for run in runs:
        manifest = json.loads(store.read(run))
        assert manifest["status"] == "succeeded"
        assert all(o["path"].removeprefix(store.uri() + "/") in keys for o in manifest["outputs"])
    assert not [k for k in keys if "/_staging/" in k]


def test_a_staging_folder_named_like_a_pattern_never_deletes_the_lake(corpus, tmp_path):
    """Before: `_staging/*/RUNNING` holding {"commit_protocol": 1} made the next writer's
    recovery delete every data file of the lake."""
    drops, _ = corpus
    lake = tmp_path / "lake"
    assert main(["run", "--drops", str(drops[0]), "--lake", str(lake), "--quiet"]) == 0
    files, articles = data_files(lake), len(records(lake, "articles"))
    assert files and articles
    for name in ("*", "[a-z0-9]*", "**"):
        staged = lake / "_staging" / name
        staged.mkdir(parents=True)
        (staged / "RUNNING").write_text(json.dumps({"run_id": name, "commit_protocol": 1}))
    feedlake("run", "--drops", str(drops[1]), "--lake", str(lake), "--quiet")
    assert files <= data_files(lake)
    assert len(records(lake, "articles")) >= articles
