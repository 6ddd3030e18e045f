"""`feedlake run` end to end: drops in a temp folder, the lake read back with fastavro."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import fastavro
import pytest

from pipeline.cli import main
from tests.conftest import ROOT, SAMPLE_DROP
from tests.support.lake import read_lake

pytestmark = pytest.mark.e2e


def only_manifest(lake: Path) -> dict:
    (path,) = (lake / "_runs").glob("*.json")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One run over the real drop and a garbage file beside it."""
    drops = tmp_path_factory.mktemp("drops")
    shutil.copy(SAMPLE_DROP, drops)
    (drops / "garbage.bin").write_bytes(bytes(range(256)) * 40)
    lake = tmp_path_factory.mktemp("lake")
    code = main(["run", "--drops", str(drops), "--lake", str(lake), "--run-id", "r1", "--quiet"])
    return code, drops, lake


def test_run_writes_the_ten_articles(batch):
    code, _, lake = batch
    assert code == 0
    articles = read_lake(lake, "articles")
    assert len(articles) == 10
    assert {a["dateline"]["city"] for a in articles} >= {"KABUL", "WINDHOEK", "TIANJIN"}
    files = sorted(p.relative_to(lake).as_posix() for p in lake.glob("articles/**/*.avro"))
    assert "articles/dt=2025-08-29/region=asia/topic=politics/r1-00000-of-00001.avro" in files
    assert all(f.endswith("/r1-00000-of-00001.avro") for f in files)
    by_partition = {}
    for path in lake.glob("articles/**/*.avro"):
        with path.open("rb") as fh:
            for record in fastavro.reader(fh):
                folder = path.parent.relative_to(lake / "articles").as_posix()
                by_partition.setdefault(folder, []).append(record)
    for folder, records in by_partition.items():
        region = folder.split("/")[1].removeprefix("region=")
        assert {r["location"]["region"] for r in records} == {region}
    countries = sorted(a["location"]["country"] for a in articles)
    assert countries == sorted(["CN", "CN", "RU", "RU", "AF", "NA", "VN", "CN", "KG", "CN"])


def test_garbage_beside_the_drop_becomes_a_reject_with_its_bytes(batch):
    _, drops, lake = batch
    (reject,) = read_lake(lake, "rejects")
    assert reject["reason"] == "binary_content"
    assert reject["lineage"]["source_uri"].endswith("garbage.bin")
    offset, length = reject["lineage"]["byte_offset"], reject["lineage"]["byte_length"]
    assert reject["raw"] == (drops / "garbage.bin").read_bytes()[offset : offset + length]


def test_manifest_counts_add_up_and_name_inputs_and_outputs(batch):
    _, _drops, lake = batch
    manifest = only_manifest(lake)
    counts = manifest["counts"]
    assert manifest["status"] == "succeeded"
    assert (counts["drops"], counts["segments"], counts["articles"], counts["rejects"]) == (
        2,
        11,
        10,
        1,
    )
    assert counts["segments"] == counts["articles"] + counts["duplicates"] + counts["rejects"]
    sample = next(i for i in manifest["inputs"] if i["uri"].endswith(SAMPLE_DROP.name))
    assert sample["size"] == SAMPLE_DROP.stat().st_size
    assert len(sample["sha256"]) == 64
    assert (sample["segments"], sample["articles"], sample["rejects"]) == (10, 10, 0)
    written = {}
    for output in manifest["outputs"]:
        written[output["kind"]] = written.get(output["kind"], 0) + output["records"]
    # The index: an ids block and one near block for the one published day; the catalog: an
    # entry for each of the two drops read.
    assert written == {"articles": 10, "rejects": 1, "_index": 2, "_catalog": 2}
    for output in manifest["outputs"]:
        assert Path(output["path"]).is_file()


def test_lake_holds_no_staging_or_partial_files(batch):
    _, _, lake = batch
    names = {p.name for p in lake.rglob("*")}
    assert not any(n.startswith(".") or n.endswith(".partial") for n in names)
    assert not (lake / "_staging").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--drops", "/no/such/file.txt"], "matches no file"),
        (["run", "--reference-date", "29/08/2025"], "YYYY-MM-DD"),
        (["run", "--no-such-flag"], "unknown option --no-such-flag"),
        (["explode"], "unknown command"),
    ],
)
def test_usage_errors_exit_2_and_say_what_to_fix(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_console_script_runs_the_bundled_sample_and_prints_json(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--lake", str(tmp_path / "lake"), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    manifest = json.loads(completed.stdout)
    assert manifest["counts"]["articles"] == 10
    assert manifest["inputs"][0]["year_from"] == "drop_name"


def test_validate_reports_a_clean_drop_and_exits_0(capsys):
    assert main(["validate", str(SAMPLE_DROP)]) == 0
    out = capsys.readouterr().out
    assert "10 articles, 0 rejects" in out
    assert "end markers:    –0– ×8, -0- ×2" in out
    assert "segment ends:   footer ×10" in out


def test_validate_names_rejects_with_offsets_exits_1_and_writes_nothing(tmp_path, capsys):
    data = SAMPLE_DROP.read_bytes()
    cut = data.index(b"Source:", data.index(b"Namibia launches"))
    drop = tmp_path / "milosi-2025-08-29.txt"
    drop.write_bytes(data[:cut])
    assert main(["validate", str(drop), "--json"]) == 1
    (report,) = json.loads(capsys.readouterr().out)
    assert report["articles"] == 5 and report["rejects_by_reason"] == {"no_body": 1}
    assert report["rejects"][0]["offset"] == data.index(b"Namibia launches")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["milosi-2025-08-29.txt"]
