"""Reading a lake back in the tests, with fastavro: records, manifests, and what it holds."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import fastavro

from tests.conftest import PUBLISHED


def records(lake: Path, kind: str, run_id: str = "") -> list[dict]:
    """Every record of one kind (``articles``, ``duplicates``, ``rejects``, ``_index``), each
    with its folder below the lake as ``_partition``; only one run's files with ``run_id``."""
    found = []
    for path in sorted(lake.glob(f"{kind}/**/{run_id}*.avro")):
        partition = path.parent.relative_to(lake).as_posix()
        with path.open("rb") as fh:
            found += [{**r, "_partition": partition} for r in fastavro.reader(fh)]
    return found


def index_ids(lake: Path, run_id: str = "") -> list[str]:
    """The content ids the lake's index holds (its ``_index/ids`` files; one run's with
    ``run_id``), once per entry."""
    found = []
    for block in records(lake, "_index/ids", f"L*-{run_id}" if run_id else ""):
        keys = block["keys"]
        found += [keys[n : n + 16].hex() for n in range(0, len(keys), 16)]
    return found


def manifests(lake: Path) -> list[dict]:
    """The lake's manifests in the order they were written (two run ids of the same second
    sort by their random suffix, so names alone do not say)."""
    found = [json.loads(p.read_text()) for p in (lake / "_runs").glob("*.json")]
    return sorted(found, key=lambda m: (m.get("finished", ""), m["run_id"]))


def committed_manifests(lake: Path) -> list[dict]:
    """The manifests of the lake's committed runs: those in ``_runs/`` that succeeded, and
    those a run's decision in ``_commits/`` holds before its writer wrote them there."""
    found = [m for m in manifests(lake) if m["status"] == "succeeded"]
    recorded = {m["run_id"] for m in found}
    for path in sorted((lake / "_commits").glob("*.json")):
        decision = json.loads(path.read_text())
        manifest = decision.get("manifest")
        if decision["decision"] == "committed" and manifest["run_id"] not in recorded:
            found.append(manifest)
    return found


def content(lake: Path, run_id: str = "") -> Counter:
    """What a lake (or one run of it) holds, without what differs between runs."""
    held = Counter(("_index", "", key, None, None, "null") for key in index_ids(lake, run_id))
    for kind in PUBLISHED[:-1]:
        for r in records(lake, kind, run_id):
            lineage = r.get("lineage") or {}
            held[
                (
                    kind,
                    r["_partition"].split("/", 1)[-1] if kind != "_index" else "",
                    r["id"],
                    lineage.get("source_uri"),
                    lineage.get("segment_index"),
                    json.dumps(r.get("dedup"), sort_keys=True),
                )
            ] += 1
    return held


def assert_whole(lake: Path, remote: str | None = None) -> None:
    """The promises a lake keeps whatever happened to its writers: no article id twice,
    every duplicate names an article of the lake, the index knows exactly the articles,
    nothing left in staging, and every committed manifest's files are there. ``lake`` may be
    a copy of a lake on an object store whose root is ``remote``."""
    articles = [r["id"] for r in records(lake, "articles")]
    assert len(articles) == len(set(articles)), "an article id is in articles/ twice"
    held = set(articles)
    orphans = [d for d in records(lake, "duplicates") if d["dedup"]["duplicate_of"] not in held]
    assert not orphans, f"{len(orphans)} duplicates point at no article of the lake"
    assert set(index_ids(lake)) == held
    assert not (lake / "_staging").exists(), list((lake / "_staging").rglob("*"))
    replaced = {path for manifest in manifests(lake) for path in manifest.get("replaced", [])}
    for manifest in manifests(lake):
        if manifest["status"] == "succeeded":
            for output in manifest["outputs"]:
                path = output["path"]
                if remote is not None and path.startswith(remote + "/"):
                    path = str(lake / path[len(remote) + 1 :])
                assert output["path"] in replaced or Path(path).is_file(), output


def stories_corpus(
    folder: Path, articles: int, per_drop: int, seed: int = 21
) -> tuple[list[Path], dict[tuple[str, int], int]]:
    """Generated drops in ``folder/drops`` (a quarter of the articles exact copies, some across
    drops), and each segment's story: its own id for an original, the original's for a copy."""
    from benchmarks.corpus import generate, write

    generated = generate(articles, exact_rate=0.25, near_rate=0.0, seed=seed, per_drop=per_drop)
    write(generated, folder)
    stories = {
        (t["drop"], t["position"]): t["id"] if t["original"] is None else t["original"]
        for t in generated.truth
    }
    return sorted((folder / "drops").iterdir()), stories


def stories_once(lake: Path, stories: dict[tuple[str, int], int]) -> None:
    """Every story of a generated corpus is in the lake's articles once, and every copy of
    one among its duplicates. ``stories``: each segment's story, by (drop name, position)."""

    def story(record: dict) -> int:
        lineage = record["lineage"]
        return stories[lineage["source_uri"].rsplit("/", 1)[1], lineage["segment_index"]]

    kept = sorted(story(r) for r in records(lake, "articles"))
    assert kept == sorted(set(stories.values()))  # every story, once
    duplicates = records(lake, "duplicates")
    assert len(kept) + len(duplicates) == len(stories)  # and every copy accounted for


def read_lake(lake: Path, kind: str) -> list[dict]:
    """Every record of one kind, as fastavro reads it (no ``_partition``)."""
    records = []
    for path in sorted(lake.glob(f"{kind}/**/*.avro")):
        with path.open("rb") as fh:
            records.extend(fastavro.reader(fh))
    return records


def staged_as_published(staging: Path) -> Path:
    """What a run staged (its ``files/`` folder), laid out in ``staging/published/`` as the
    lake will hold it once the run commits."""
    published, staged = staging / "published", staging / "files"
    for path in [p for p in staged.rglob("*") if p.is_file()]:
        target = published / path.relative_to(staged)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return published
