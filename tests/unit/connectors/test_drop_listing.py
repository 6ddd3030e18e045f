"""Which files are drops: patterns matched once into names, one read per file, and what is
skipped (links out of the folder, the lake, temporary names) said with its reason."""

from __future__ import annotations

import os

import pytest

from connectors.drop_listing import Settling, also_feeds, as_glob, list_drops
from connectors.drops import file_metadata, read_drop


def test_folders_expand_to_their_files(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b.txt").write_text("y")
    listing = list_drops([str(tmp_path)])
    assert listing.matched == {as_glob(str(tmp_path)): 2}
    assert [p.rsplit("/", 1)[1] for p in listing.names] == ["a.txt", "b.txt"]
    assert list_drops([str(tmp_path / "none*.txt")]).matched == {str(tmp_path / "none*.txt"): 0}


def test_a_matched_name_is_never_a_pattern_again(tmp_path):
    odd = tmp_path / "milosi[1]-2025-08-29.txt"
    odd.write_bytes(b"the bracketed file")
    (tmp_path / "milosi1-2025-08-29.txt").write_bytes(b"its neighbour")
    (tmp_path / "what?*.txt").write_bytes(b"stars and marks")
    listing = list_drops([str(tmp_path)])
    assert [os.path.basename(p) for p in listing.names] == [
        "milosi1-2025-08-29.txt",
        "milosi[1]-2025-08-29.txt",
        "what?*.txt",
    ]
    assert read_drop(str(odd)).data == b"the bracketed file"
    assert file_metadata([str(odd)])[str(odd)][0] == len(b"the bracketed file")
    assert list_drops([str(odd)]).names == [str(odd)]  # an existing file's exact name


def test_one_file_reached_by_several_spellings_is_listed_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / "a.txt").write_text("one drop")
    (tmp_path / "drops" / "also-a.txt").symlink_to(tmp_path / "drops" / "a.txt")
    os.link(tmp_path / "drops" / "a.txt", tmp_path / "drops" / "hard-a.txt")
    patterns = ["drops", "./drops/a.txt", "drops/../drops/a.txt", "drops/*.txt"]
    assert list_drops(patterns).names == [str(tmp_path / "drops" / "a.txt")]


def test_a_link_out_of_its_folder_is_skipped_unless_links_are_followed(tmp_path):
    secret = tmp_path / "elsewhere" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "milosi-2025-08-29.txt").write_text("a drop")
    (drops / "passwd").symlink_to(secret)
    listing = list_drops([str(drops)])
    assert listing.names == [str(drops / "milosi-2025-08-29.txt")]
    skip = listing.skipped[str(drops / "passwd")]
    assert skip.reason == "outside"
    assert str(secret) in skip.message and "--follow-symlinks" in skip.message
    followed = list_drops([str(drops)], follow_symlinks=True)
    assert (followed.names, followed.skipped) == (sorted(map(str, drops.iterdir())), {})
    assert list_drops([str(drops / "passwd")]).names == [str(drops / "passwd")]  # named exactly


def test_nothing_under_the_lake_is_a_drop(tmp_path):
    drops, lake = tmp_path / "drops", tmp_path / "drops" / "lake"
    (lake / "_runs").mkdir(parents=True)
    (lake / "_runs" / "r1.json").write_text("{}")
    (lake / "articles" / "dt=2025-08-29").mkdir(parents=True)
    (lake / "articles" / "dt=2025-08-29" / "r1-00000-of-00001.avro").write_bytes(b"Obj\x01")
    (drops / "milosi-2025-08-29.txt").write_text("a drop")
    (drops / "index.avro").symlink_to(lake / "_runs" / "r1.json")  # a way in from outside
    for follow in (False, True):
        listing = list_drops([str(drops / "**")], lake=str(lake), follow_symlinks=follow)
        assert listing.names == [str(drops / "milosi-2025-08-29.txt")]
        assert {skip.reason for skip in listing.skipped.values()} == {"in_lake"}
        assert len(listing.skipped) == 3
    named = list_drops([str(lake / "_runs" / "r1.json")], lake=str(lake))
    assert (named.names, list(named.skipped)) == ([], [str(lake / "_runs" / "r1.json")])


@pytest.mark.parametrize(
    "name", [".milosi-2025-08-29.txt", "milosi.txt.tmp", "milosi.txt.part", ".cache/drop.txt"]
)
def test_temporary_names_a_wildcard_matched_are_skipped(tmp_path, name):
    (tmp_path / "milosi-2025-08-29.txt").write_text("a drop")
    (tmp_path / name).parent.mkdir(exist_ok=True)
    (tmp_path / name).write_text("being written")
    listing = list_drops([str(tmp_path / "**")])
    assert listing.names == [str(tmp_path / "milosi-2025-08-29.txt")]
    assert {p: s.reason for p, s in listing.skipped.items()} == {str(tmp_path / name): "temporary"}
    assert list_drops([str(tmp_path / name)]).names == [str(tmp_path / name)]  # named exactly


def test_a_file_listed_as_a_feed_too_is_not_a_drop(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.rss").write_text("<rss/>")
    names = list_drops([str(tmp_path)]).names
    assert list(also_feeds(names, ["./a.rss", "https://example.org/a.rss"])) == names
    assert also_feeds(names, ["https://example.org/a.rss"]) == {}


def test_a_file_is_taken_once_it_has_stopped_changing_for_the_settle_time():
    settling = Settling(quiet_seconds=10)
    t = 1_000_000.0
    # A drop being written: its size and time change at every poll.
    for step in range(5):
        size, mtime = 1000 * (step + 1), t + 4 * step
        assert settling.take({"/d/a.txt": (size, mtime)}, now=mtime + 1) == []
    # Written out: the same size and time at each poll from now on.
    done = (5000, t + 16)
    assert settling.take({"/d/a.txt": done}, now=t + 20) == []  # quiet 4 s
    assert settling.take({"/d/a.txt": done}, now=t + 24) == []  # quiet 8 s
    assert settling.take({"/d/a.txt": done}, now=t + 28) == ["/d/a.txt"]  # quiet 12 s


def test_a_file_already_quiet_when_first_seen_is_taken_at_once():
    settling = Settling(quiet_seconds=10)
    assert settling.take({"/d/old.txt": (5, 500.0), "/d/new.txt": (5, 995.0)}, now=1000.0) == [
        "/d/old.txt"
    ]


def test_a_file_dated_in_the_future_settles_by_the_watchers_own_clock():
    settling = Settling(quiet_seconds=10)  # the file server's clock runs an hour ahead
    stamp = (5, 1000.0 + 3600)
    assert settling.take({"/d/a.txt": stamp}, now=1000.0) == []
    assert settling.take({"/d/a.txt": stamp}, now=1005.0) == []
    assert settling.take({"/d/a.txt": stamp}, now=1010.0) == ["/d/a.txt"]


def test_a_change_starts_the_wait_again():
    settling = Settling(quiet_seconds=10)
    assert settling.take({"/d/a.txt": (5, 2000.0)}, now=1000.0) == []  # future: watch it
    assert settling.take({"/d/a.txt": (6, 2000.0)}, now=1009.0) == []  # grew: start again
    assert settling.take({"/d/a.txt": (6, 2000.0)}, now=1015.0) == []
    assert settling.take({"/d/a.txt": (6, 2000.0)}, now=1019.0) == ["/d/a.txt"]
    with pytest.raises(ValueError, match="quiet_seconds"):
        Settling(quiet_seconds=-1)
