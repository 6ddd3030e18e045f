"""Damaged metadata found and moved aside: what ``feedlake repair`` does before it rebuilds.

Guarantees: :func:`survey` reads every metadata file of the lake as the commands read it
(``_lake.json``, each manifest, each folder in ``_staging`` and its marker, the feed state,
each index and catalog file block by block) and changes nothing; a file that does not read
back, or names a path outside the lake or a run id feedlake never makes, and every symbolic
link below the lake's root (feedlake makes none; :func:`links`), is a :class:`Damage` saying
what the file was and what is lost without it. :func:`move_aside`
moves those files, never deleting one, to ``<lake>/_damaged/<stamp>/`` under their own
paths, with ``repair.json`` listing them; no command reads that folder. Data files
(``articles/``, ``duplicates/``, ``rejects/``) are never moved; a link is moved as a link,
and what it points to is never touched. Call :func:`move_aside` under the writer lease, except
for links in the lake's root, which keep every writer from taking the lease.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Iterator
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.lake import fencing
from pipeline.lake.commit import RUNNING_MARKER, STAGING, check_staged, manifest_path, staged_runs
from pipeline.lake.confine import DamagedLakeFile, check_manifest, linked
from pipeline.lake.description import LAKE_FILE, read_description
from pipeline.lake.documents import read_document, read_json, write_json
from pipeline.lake.feed_state import load_feed_state, state_path
from pipeline.lake.fileops import is_local, make_folder
from pipeline.lake.history import (
    CATALOG_FOLDER,
    INDEX_FOLDER,
    TIER_FILES,
    catalog_file,
    legacy_index_files,
    read_blocks,
    read_index_file,
)
from pipeline.lake.names import parse_staging_name
from pipeline.lake.storage import files_below

__all__ = [
    "DAMAGED_FOLDER",
    "Damage",
    "check_damaged_folder",
    "decide_again",
    "links",
    "move_aside",
    "survey",
]

DAMAGED_FOLDER = "_damaged"


@dataclasses.dataclass(frozen=True)
class Damage:
    """A metadata file (or a staging folder) that no command can use."""

    path: str
    what: str  # what the file was
    problem: str  # why it cannot be used
    lost: str  # what the lake no longer knows once it is moved aside
    # "index" or "catalog": repair rebuilds it from the lake; "decision": decides it again
    rebuild: str | None = None

    def relative(self, lake: str) -> str:
        return self.path[len(lake) :].strip("/")


_LOST = {
    "link": "nothing of the lake: feedlake makes no link; what it points to is left as it is",
    "description": "the lake's description: the next run finds the partition keys from the "
    "article folders and writes it again",
    "manifest": "the record of that run: inspect no longer lists it (its data files, index "
    "entries and drop catalog entries stay)",
    "staging": "what an unfinished run staged: it is not a committed run, nothing of it is in "
    "the lake",
    "decision": "whether its run committed, as its writer decided: repair decides again, "
    "committed when the run's manifest in _runs/ says so (recovery then publishes the run), "
    "else abandoned (what the run staged is kept here), so that its writer never commits it",
    "staged_commit": "the files a run staged whose manifest is damaged: kept here, not "
    "published, in case the run had committed",
    "feed_state": "each feed's ETag and Last-Modified: conditional GET starts over (the next "
    "fetch of every feed is a full one); items already in the lake are still recognised",
    "ids": "the ids of the articles it listed: exact copies of them are not found until the "
    "index is rebuilt (repair rebuilds it from the articles)",
    "links": "the feed items it listed: those items would be ingested again until the index is "
    "rebuilt (repair rebuilds it from the articles and duplicates)",
    "near": "the near-copy sketches of the articles it listed: near copies of them are not "
    "found until the index is rebuilt (repair rebuilds it from the articles)",
    "catalog": "which drops committed runs read: a drop it listed would be read again until "
    "the catalog is rebuilt (repair rebuilds it from the manifests)",
}


def _problem(error: DamagedLakeFile) -> str:
    return getattr(error, "problem", str(error))


def _checked(path: str, what: str, lost: str, read: Callable[[], Any], rebuild=None):
    try:
        read()
    except DamagedLakeFile as error:
        return Damage(path, what, _problem(error), _LOST[lost], rebuild)
    return None


def survey(lake: str) -> list[Damage]:
    """Every metadata file of ``lake`` no command can use, with what each was and what is
    lost; reads only.

    Raises:
        NewerLakeFormat: the lake is of a format this feedlake does not know.
    """
    planted = links(lake)
    if any("/" not in damage.relative(lake) for damage in planted):
        return planted  # the rest is read through them: surveyed once they are moved aside
    found = [
        *planted,
        _checked(
            FileSystems.join(lake, LAKE_FILE),
            "the lake's description",
            "description",
            lambda: read_description(lake),
        ),
        *_manifests(lake),
        *_decisions(lake),
        *_staging(lake),
        _checked(
            state_path(lake),
            "the feeds' conditional-GET state",
            "feed_state",
            lambda: load_feed_state(lake),
        ),
        *_tiered(lake),
    ]
    unique = {damage.path: damage for damage in found if damage is not None}
    return sorted(unique.values(), key=lambda damage: damage.path)


def links(lake: str, root_only: bool = False) -> list[Damage]:
    """Every symbolic link below the local ``lake`` (in its root only, with ``root_only``),
    never followed; none on object stores. ``_damaged/`` is not looked in."""
    if not is_local(lake):
        return []
    root = lake.rstrip("/")
    found, folders = [], [root]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as entries:
                listed = list(entries)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in listed:
            if entry.is_symlink():
                problem = _problem(linked(entry.path, lake))
                found.append(Damage(entry.path, "a symbolic link", problem, _LOST["link"]))
            elif (
                entry.is_dir(follow_symlinks=False)
                and not root_only
                and (folder != root or entry.name != DAMAGED_FOLDER)
            ):
                folders.append(entry.path)
    return sorted(found, key=lambda damage: damage.path)


def _manifests(lake: str) -> Iterator[Damage | None]:
    for metadata in files_below(FileSystems.join(lake, "_runs"), "*.json"):
        path = metadata.path
        damage = _checked(
            path,
            "a run manifest",
            "manifest",
            lambda path=path: check_manifest(lake, read_document(path, "a run manifest"), path),
        )
        yield damage
        run_id = path.rsplit("/", 1)[-1].removesuffix(".json")
        if damage is None:
            continue
        for folder in _staging_folders(lake, run_id):
            yield Damage(
                folder,
                "a staging folder",
                f"belongs to the damaged manifest {path}",
                _LOST["staged_commit"],
            )


def _decisions(lake: str) -> Iterator[Damage | None]:
    for metadata in files_below(FileSystems.join(lake, fencing.COMMITS), "*.json"):
        path = metadata.path
        damage = _checked(
            path,
            "a commit decision",
            "decision",
            lambda path=path: fencing.read_decision(path),
            "decision",
        )
        yield damage
        staged = path.rsplit("/", 1)[-1].removesuffix(".json")
        if damage is not None and _recorded_manifest(lake, staged) is None:
            folder = FileSystems.join(lake, STAGING, staged)
            if _files_below(lake, folder):
                yield Damage(
                    folder,
                    "a staging folder",
                    f"belongs to the damaged commit decision {path}",
                    _LOST["staged_commit"],
                )


def _recorded_manifest(lake: str, staged: str) -> dict[str, Any] | None:
    """The manifest its writer recorded in ``_runs/`` for the staged run ``staged``
    (``<run>@<generation>``) when it says the run committed, else None."""
    run_id, generation = parse_staging_name(staged) or (None, None)
    path = manifest_path(lake, run_id) if run_id else None
    if path is None or not FileSystems.exists(path):
        return None
    try:
        manifest = check_manifest(lake, read_document(path, "a run manifest"), path)
    except DamagedLakeFile:
        return None  # surveyed as a damaged manifest
    committed = manifest.get("status") == "succeeded"
    return manifest if committed and manifest.get("lease_generation") == generation else None


def decide_again(lake: str, damages: list[Damage]) -> None:
    """Decide again each staged run whose damaged decision :func:`move_aside` moved: committed
    when its writer's manifest in ``_runs/`` says so and its staging is there (recovery then
    publishes it), abandoned when no manifest says so (its staging was moved aside too); a
    run whose staging is gone is finished, and needs none."""
    for damage in damages:
        if damage.rebuild != "decision":
            continue
        staged = damage.path.rsplit("/", 1)[-1].removesuffix(".json")
        if parse_staging_name(staged) is None:
            continue  # no run's decision: a file feedlake never wrote
        manifest = _recorded_manifest(lake, staged)
        if manifest is None or _files_below(lake, FileSystems.join(lake, STAGING, staged)):
            fencing.decide_again(lake, staged, manifest)


def _staging(lake: str) -> Iterator[Damage | None]:
    for name in staged_runs(lake):
        folder = FileSystems.join(lake, STAGING, name)
        try:
            run_id, _ = check_staged(lake, name)
        except DamagedLakeFile as error:
            yield Damage(folder, "an entry of _staging", _problem(error), _LOST["staging"])
            continue
        marker = FileSystems.join(folder, RUNNING_MARKER)
        if FileSystems.exists(marker) and not _committed(manifest_path(lake, run_id)):
            yield _checked(
                folder,
                "a staging folder",
                "staging",
                lambda marker=marker: read_document(marker, "a run's marker"),
            )


def _tiered(lake: str) -> Iterator[Damage | None]:
    index = FileSystems.join(lake, INDEX_FOLDER)
    for metadata in files_below(index, TIER_FILES):
        kind = metadata.path[len(index) :].strip("/").split("/", 1)[0]
        yield _checked(
            metadata.path,
            f"an index file ({kind})",
            kind if kind in ("ids", "links", "near") else "ids",
            lambda path=metadata.path: list(read_blocks(path)),
            "index",
        )
    for path in legacy_index_files(lake):
        yield _checked(
            path, "an index file (format 1)", "ids", lambda p=path: read_index_file(p), "index"
        )
    for metadata in files_below(FileSystems.join(lake, CATALOG_FOLDER), TIER_FILES):
        yield _checked(
            metadata.path,
            "a drop catalog file",
            "catalog",
            lambda path=metadata.path: list(catalog_file(path)),
            "catalog",
        )


def _committed(path: str) -> bool:
    """Whether the manifest at ``path`` says its run committed (a damaged one is surveyed as
    a manifest, and its staging moved aside with it)."""
    try:
        return FileSystems.exists(path) and read_document(path, "").get("status") == "succeeded"
    except DamagedLakeFile:
        return True


def _files_below(lake: str, folder: str) -> list[str]:
    """Every file below ``folder``, a folder of ``lake``, listed without taking its name as a
    pattern (it may hold ``*`` or ``[``); local disk: the folder itself when it has none."""
    if is_local(folder):
        return [folder] if os.path.isdir(folder) else []
    return [m.path for m in files_below(folder)]


def _staging_folders(lake: str, run_id: str) -> list[str]:
    """The staging folders of run ``run_id`` that hold something: of today's protocol
    (``<run id>@<generation>``) or an earlier one (``<run id>``)."""
    named = [
        name
        for name in staged_runs(lake)
        if name == run_id or (parse_staging_name(name) or ("", None))[0] == run_id
    ]
    folders = [FileSystems.join(lake, STAGING, name) for name in named]
    return [folder for folder in folders if _files_below(lake, folder)]


def check_damaged_folder(lake: str) -> None:
    """Refuse a ``_damaged`` that is a symbolic link: what is moved aside would go through it.

    Raises:
        OutsideLake: naming the link and how to remove it (repair cannot move it aside
            into itself).
    """
    path = FileSystems.join(lake, DAMAGED_FOLDER)
    if is_local(lake) and os.path.islink(path):
        raise linked(
            path,
            lake,
            f"remove the link (rm {path}) and run again: feedlake repair moves what it moves "
            "aside into this folder",
        )


def move_aside(lake: str, damages: list[Damage], now: dt.datetime | None = None) -> str:
    """Move each damaged file or folder to ``<lake>/_damaged/<stamp>/``, under its path
    below the lake, and list them there in ``repair.json``; the folder.

    Raises:
        DamagedLakeFile: ``_damaged`` is a symbolic link (:func:`check_damaged_folder`).
    """
    check_damaged_folder(lake)
    now = now or dt.datetime.now(dt.timezone.utc)
    folder = FileSystems.join(lake, DAMAGED_FOLDER, f"{now:%Y%m%dT%H%M%S}{now.microsecond:06d}Z")
    for damage in damages:
        _move(lake, damage.path, FileSystems.join(folder, *damage.relative(lake).split("/")))
    listing = FileSystems.join(folder, "repair.json")
    earlier = read_json(listing)["moved"] if FileSystems.exists(listing) else []  # same `now`
    moved = [{**dataclasses.asdict(damage), "path": damage.relative(lake)} for damage in damages]
    write_json(listing, {"repaired": now.isoformat(), "lake": lake, "moved": earlier + moved})
    return folder


def _move(lake: str, source: str, target: str) -> None:
    """Rename a file, or every file of a folder, to ``target``; nothing is deleted."""
    if is_local(source):
        make_folder(os.path.dirname(target))
        os.rename(source, target)
        return
    for path in _files_below(lake, source) or [source]:
        moved = target + path[len(source) :]
        make_folder(moved.rsplit("/", 1)[0])
        FileSystems.rename([path], [moved])
