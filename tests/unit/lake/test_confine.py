"""Paths and run ids read from the lake's own files are taken only inside the lake."""

from __future__ import annotations

import pickle

import pytest

from pipeline.lake.confine import (
    DamagedLakeFile,
    OutsideLake,
    check_manifest,
    check_root,
    check_run_name,
    confined,
    damaged,
    is_run_name,
    lake_of,
    real_folder,
)

LAKE = "/data/lake"
SOURCE = "/data/lake/_runs/r1.json"


@pytest.mark.parametrize(
    "path",
    [
        "/data/lake/articles/dt=2025-08-29/r1-00000-of-00001.avro",
        "/data/lake/_index/ids/L0-r1.avro",
    ],
)
def test_a_path_below_the_lake_is_taken(path):
    assert confined(LAKE, path, SOURCE) == path


@pytest.mark.parametrize(
    "path",
    [
        "/data/victim/keep.txt",  # absolute, elsewhere
        "/data/lake/../victim/keep.txt",  # climbs out
        "/data/lake/articles/../../victim",
        "/data/lake/./articles/x.avro",
        "/data/lake//articles/x.avro",
        "/data/lake",  # the lake itself
        "/data/lake/",
        "/data/lakeside/x.avro",  # a sibling whose name starts like the lake's
        "gs://bucket/lake/articles/x.avro",  # another store
        "",
        None,
        ["/data/lake/x"],
    ],
)
def test_a_path_outside_the_lake_is_refused_naming_the_file(path):
    with pytest.raises(OutsideLake, match=r"/data/lake/_runs/r1\.json names"):
        confined(LAKE, path, SOURCE)


def test_on_an_object_store_another_bucket_is_outside():
    lake = "gs://bucket/lake"
    assert confined(lake, "gs://bucket/lake/articles/x.avro", "gs://bucket/lake/_runs/r.json")
    for path in ("gs://other/lake/articles/x.avro", "s3://bucket/lake/articles/x.avro"):
        with pytest.raises(OutsideLake):
            confined(lake, path, "gs://bucket/lake/_runs/r.json")


@pytest.mark.parametrize(
    "name", ["20261207T050008123Z-1a2b3c4d", "20261207T050008123Z-compact-1a2b3c4d", "r1", "a.b_c"]
)
def test_run_ids_feedlake_makes_are_run_names(name):
    assert is_run_name(name)


@pytest.mark.parametrize(
    "name", ["", ".", "..", "*", "[a]", "a/b", "../x", ".hidden", "-x", "a b", "a\nb", "x" * 201, 7]
)
def test_paths_patterns_and_odd_names_are_no_run_names(name):
    assert not is_run_name(name)
    with pytest.raises(OutsideLake, match="no run id feedlake makes"):
        check_run_name(name, "/data/lake/_staging/x")


def manifest(**fields):
    return {"run_id": "r1", "status": "succeeded", "outputs": [], "replaced": [], **fields}


def test_a_manifest_inside_the_lake_is_taken():
    whole = manifest(
        outputs=[{"path": "/data/lake/articles/dt=2025-08-29/r1-00000-of-00001.avro"}],
        replaced=["/data/lake/articles/dt=2025-08-29/old.avro"],
    )
    assert check_manifest(LAKE, whole, SOURCE) == whole


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"replaced": ["/data/victim/keep.txt"]}, OutsideLake),
        ({"outputs": [{"path": "/data/lake/../victim/x.avro"}]}, OutsideLake),
        ({"outputs": [{"kind": "articles"}]}, OutsideLake),
        ({"run_id": "../../victim"}, OutsideLake),
        ({"run_id": "r2"}, OutsideLake),  # not the run its file name gives
        ({"outputs": {"path": "x"}}, DamagedLakeFile),
        ({"outputs": ["x"]}, DamagedLakeFile),
    ],
)
def test_a_manifest_naming_anything_outside_is_refused(fields, error):
    with pytest.raises(error, match=r"r1\.json"):
        check_manifest(LAKE, manifest(**fields), SOURCE)


def test_a_manifest_that_is_not_an_object_is_damaged():
    with pytest.raises(DamagedLakeFile, match="not a run manifest"):
        check_manifest(LAKE, ["r1"], SOURCE)


def test_the_message_says_which_lake_to_repair():
    error = damaged("/data/lake/_index/near/dt=2025-08-29/L0-r1.avro", "is cut short")
    assert "'feedlake repair --lake /data/lake'" in str(error)
    assert lake_of("/data/lake/_state/feeds.json") == "/data/lake"
    assert lake_of("gs://b/my_runs/lake/_runs/r.json") == "gs://b/my_runs/lake"


def test_the_error_survives_a_runner_re_raising_it():
    error = damaged("/data/lake/_state/feeds.json", "is not JSON")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is DamagedLakeFile and str(again) == str(error)
    assert str(type(error)(str(error) + " [while running 'x']")).endswith("[while running 'x']")


def test_a_manifest_of_a_lake_since_moved_is_read_below_the_new_root():
    written = manifest(
        lake="/old/lake",
        outputs=[{"path": "/old/lake/articles/dt=2025-08-29/r1-00000-of-00001.avro"}],
        replaced=["/old/lake/_index/ids/L0-r0.avro"],
    )
    checked = check_manifest(LAKE, written, SOURCE)
    assert checked["outputs"] == [{"path": f"{LAKE}/articles/dt=2025-08-29/r1-00000-of-00001.avro"}]
    assert checked["replaced"] == [f"{LAKE}/_index/ids/L0-r0.avro"]


def test_a_moved_root_never_carries_a_path_out_of_the_lake():
    for fields in (
        {"lake": "/", "replaced": ["/etc/../../data/victim"]},
        {"lake": "/old/lake", "replaced": ["/old/lake/../victim"]},
        {"lake": "/old/lake", "replaced": ["/data/victim/keep.txt"]},
    ):
        with pytest.raises(OutsideLake):
            check_manifest(LAKE, manifest(**fields), SOURCE)


def test_a_folder_is_a_real_folder_a_missing_one_or_a_file_is_not_and_a_link_is_refused(
    tmp_path,
):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "folder", target_is_directory=True)
    assert real_folder(str(tmp_path / "folder"))
    assert not real_folder(str(tmp_path / "missing"))
    assert not real_folder(str(tmp_path / "file"))
    assert not real_folder(str(tmp_path / "file" / "below"))
    with pytest.raises(OutsideLake, match=r"link is a symbolic link \(to '.*folder'\)"):
        real_folder(str(tmp_path / "link"), str(tmp_path))


def test_a_lake_may_be_a_link_but_nothing_in_its_root_may(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "lake").symlink_to(tmp_path / "real", target_is_directory=True)
    check_root(str(tmp_path / "lake"))
    check_root(str(tmp_path / "missing"))
    (tmp_path / "real" / "_runs").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(OutsideLake) as refused:
        check_root(str(tmp_path / "lake"))
    assert f"feedlake repair --lake {tmp_path / 'lake'}'" in str(refused.value)
    assert str(tmp_path / "lake" / "_runs") in str(refused.value)
