"""Drops as the world sends them, through `feedlake run` and `feedlake validate`: compressed
past Beam's 16 MiB read, odd names, links, a lake inside the drop folder, files that are not
drops. Each input ends read whole and once, or skipped and said so; never lost in silence."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from benchmarks.corpus import generate
from pipeline.cli import main
from tests.conftest import ROOT, SAMPLE_DROP
from tests.support.lake import manifests, read_lake

pytestmark = pytest.mark.e2e


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


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``feedlake ARGV`` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    """A drop folder as found: odd names, a link out, a feed, a temporary file, and the lake
    itself inside it; run twice with --drops 'inbox/**' and a feed list naming the feed."""
    root = tmp_path_factory.mktemp("inbox")
    inbox, lake = root / "inbox", root / "inbox" / "lake"
    inbox.mkdir()
    shutil.copy(SAMPLE_DROP, inbox / "milosi[1]-2025-08-29.txt")
    (inbox / "milosi1-2025-08-29.txt").write_text(
        next(iter(generate(3, exact_rate=0, near_rate=0, seed=8).drops.values()))
    )
    (root / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (inbox / "passwd").symlink_to(root / "passwd")
    shutil.copy(ROOT / "samples" / "feeds" / "milosi-2025-08-29.rss", inbox / "a.rss")
    (inbox / "milosi-2025-08-30.txt.part").write_text("half a drop")
    shutil.copy(ROOT / "README.md", inbox / "README.md")
    (root / "feeds.txt").write_text("inbox/a.rss\n")
    argv = ["run", "--drops", str(inbox / "**"), "--feeds", str(root / "feeds.txt")]
    return root, [run_cli([*argv, "--lake", str(lake)]) for _ in range(2)]


def test_odd_names_are_read_as_themselves_and_each_file_once(inbox):
    root, runs = inbox
    assert [code for code, _, _ in runs] == [0, 0]
    first = manifests(root / "inbox" / "lake")[0]
    assert first["status"] == "succeeded"
    drops = {Path(i["uri"]).name: i["segments"] for i in first["inputs"] if i["type"] == "drop"}
    assert drops == {
        "README.md": 1,
        "milosi[1]-2025-08-29.txt": 10,
        "milosi1-2025-08-29.txt": 3,
    }
    (feed,) = [i for i in first["inputs"] if i["type"] == "feed"]
    assert feed["uri"] == str(root / "inbox" / "a.rss")  # read once, as the feed it is listed as
    assert "skip " + str(root / "inbox" / "a.rss") + ": listed in --feeds too" in runs[0][2]


def test_a_link_out_of_the_folder_is_skipped_and_said_so(inbox):
    root, runs = inbox
    titles = [a["title"] for a in read_lake(root / "inbox" / "lake", "articles")]
    assert not [t for t in titles if t.startswith("root:")]
    assert f"skip {root / 'inbox' / 'passwd'}: a link to {root / 'passwd'}, outside" in runs[0][2]
    assert f"skip {root / 'inbox' / 'milosi-2025-08-30.txt.part'}: a temporary name" in runs[0][2]


def test_the_lake_inside_the_drop_folder_is_never_read_as_drops(inbox):
    root, runs = inbox
    lake = root / "inbox" / "lake"
    # The second run read only the feed again, whose items the lake holds: nothing new, so
    # no manifest; none of the lake's own files was taken for a drop.
    assert len(manifests(lake)) == 1 and "nothing new" in runs[1][1]
    assert runs[1][2].count("inside the lake") == 1  # one line for all the lake's files
    uris = {
        r["lineage"]["source_uri"]
        for kind in ("articles", "rejects")
        for r in read_lake(lake, kind)
    }
    assert not [uri for uri in uris if uri.startswith(str(lake))]


def test_a_run_whose_every_file_is_skipped_is_a_usage_error_that_says_why(tmp_path):
    (tmp_path / "milosi-2025-08-29.txt.part").write_text("half a drop")
    code, _, err = run_cli(["run", "--drops", str(tmp_path), "--lake", str(tmp_path / "lake")])
    assert code == 2
    assert "every file matched is skipped (1)" in err and "a temporary name" in err
    assert not (tmp_path / "lake").exists()


def test_validate_reads_a_utf16_drop_as_text(tmp_path, capsys):
    drop = tmp_path / "milosi-2025-08-29.txt"
    drop.write_bytes(SAMPLE_DROP.read_text(encoding="utf-8").encode("utf-16"))
    assert main(["validate", str(drop), "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert (report["articles"], report["encodings"]) == (10, {"utf-16-le": 10})


def test_a_file_that_is_not_a_drop_is_one_reject_holding_all_its_bytes(inbox):
    root, _ = inbox
    lake = root / "inbox" / "lake"
    (reject,) = read_lake(lake, "rejects")
    assert (reject["reason"], reject["raw"]) == ("not_a_drop", (ROOT / "README.md").read_bytes())
    assert not [a for a in read_lake(lake, "articles") if a["lineage"]["source_uri"].endswith("md")]


def test_validate_says_a_readme_and_a_feed_are_not_drops(capsys):
    feed = ROOT / "samples" / "feeds" / "milosi-2025-08-29.rss"
    assert main(["validate", str(ROOT / "README.md"), str(feed), "--json"]) == 1
    reports = json.loads(capsys.readouterr().out)
    assert [(r["articles"], r["rejects_by_reason"]) for r in reports] == [
        (0, {"not_a_drop": 1}),
        (0, {"not_a_drop": 1}),
    ]
