"""Fencing, named after its promise: of a writer committing a staged run and a later writer
abandoning it, exactly one wins, whatever the order or the overlap; an abandoned run stays
abandoned, and a committed one's decision holds its manifest until it is forgotten."""

from __future__ import annotations

import json
import threading

import pytest

from pipeline.lake import fencing
from pipeline.lake.confine import DamagedLakeFile

MANIFEST = {"run_id": "r", "status": "succeeded", "outputs": []}


def test_a_run_abandoned_first_cannot_be_committed(tmp_path):
    lake = str(tmp_path)
    assert fencing.abandon(lake, "r@1") is None
    with pytest.raises(fencing.Abandoned, match=r"abandoned run r@1 at .*_commits/r@1\.json"):
        fencing.commit(lake, "r@1", MANIFEST)
    assert fencing.decision_of(lake, "r@1")["decision"] == "abandoned"


def test_a_run_committed_first_cannot_be_abandoned_and_its_manifest_is_kept(tmp_path):
    lake = str(tmp_path)
    fencing.commit(lake, "r@1", MANIFEST)
    found = fencing.abandon(lake, "r@1")
    assert found["decision"] == "committed" and found["manifest"] == MANIFEST
    fencing.forget_commit(lake, "r@1")
    assert fencing.decision_of(lake, "r@1") is None


def test_decisions_on_two_stagings_of_one_run_are_apart(tmp_path):
    lake = str(tmp_path)
    assert fencing.abandon(lake, "r@1") is None
    fencing.commit(lake, "r@2", MANIFEST)  # a retry of the same run id under a later lease
    assert fencing.decision_of(lake, "r@2")["decision"] == "committed"


def test_of_a_commit_and_an_abandon_racing_exactly_one_wins(tmp_path):
    for attempt in range(40):
        lake, staged = str(tmp_path), f"r@{attempt}"
        results: dict[str, object] = {}
        start = threading.Barrier(2)

        def committing(lake=lake, staged=staged, results=results, start=start) -> None:
            start.wait()
            try:
                fencing.commit(lake, staged, MANIFEST)
                results["commit"] = True
            except fencing.Abandoned:
                results["commit"] = False

        def abandoning(lake=lake, staged=staged, results=results, start=start) -> None:
            start.wait()
            results["abandon"] = fencing.abandon(lake, staged) is None

        threads = [threading.Thread(target=committing), threading.Thread(target=abandoning)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results["commit"] != results["abandon"]
        decided = fencing.decision_of(lake, staged)["decision"]
        assert decided == ("committed" if results["commit"] else "abandoned")


def test_a_decision_that_is_not_json_is_damaged_naming_its_file(tmp_path):
    lake = str(tmp_path)
    (tmp_path / "_commits").mkdir()
    (tmp_path / "_commits" / "r@1.json").write_bytes(b'{"decision": "comm')
    with pytest.raises(DamagedLakeFile, match=r"_commits/r@1\.json.*not a commit decision"):
        fencing.decision_of(lake, "r@1")


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"decision": ["committed"]}, r"it decides \['committed'\]"),
        ({"staging": "r@1"}, "it decides None"),
        ({"decision": "committed"}, "committed, with no manifest"),
        ({"decision": "committed", "manifest": "r"}, "committed, with no manifest"),
    ],
)
def test_a_decision_that_decides_nothing_is_damaged_never_read_as_abandoned(
    tmp_path, document, problem
):
    """Read as abandoned, a committed run's staged files would be removed."""
    path = tmp_path / "_commits" / "r@1.json"
    path.parent.mkdir()
    path.write_text(json.dumps(document))
    with pytest.raises(DamagedLakeFile, match=f"r@1.json is not a commit decision \\({problem}"):
        fencing.abandon(str(tmp_path), "r@1")
    with pytest.raises(DamagedLakeFile, match=f"repair --lake {tmp_path}'"):
        fencing.read_decision(str(path))


def test_a_run_decided_again_is_committed_with_its_manifest_or_abandoned(tmp_path):
    lake = str(tmp_path)
    assert fencing.decide_again(lake, "r@1", MANIFEST) == "committed"
    assert fencing.decision_of(lake, "r@1")["manifest"] == MANIFEST
    assert fencing.decide_again(lake, "r@2", None) == "abandoned"
    with pytest.raises(fencing.Abandoned):
        fencing.commit(lake, "r@2", MANIFEST)
    assert fencing.decide_again(lake, "r@2", MANIFEST) == "abandoned", "a decision stands"
