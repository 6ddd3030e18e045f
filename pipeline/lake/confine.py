"""The lake's own files are input: what they name is taken only inside the lake.

Guarantees: a path read from a file of the lake (a manifest's ``outputs`` and ``replaced``,
a staging folder's files) is used only when it lies below the lake's root, on the same store,
with no empty, ``.`` or ``..`` segment (:func:`confined`); a run id read from the lake (the
name of a folder in ``_staging``, a manifest's ``run_id``) only when it is a name feedlake
could have made (:func:`is_run_name`); a folder feedlake writes into or deletes in (each entry
of the lake's root, a staging folder, a partition folder) only when it is a folder, never a
symbolic link, which would carry those writes and deletes to where it points
(:func:`check_root`, :func:`real_folder`). Anything else raises :class:`OutsideLake`, naming
the file it came from, before anything is written or deleted: whoever can write one file in
a shared lake can make the next writer stop, never write or delete outside the lake.

A file of the lake that cannot be read as what it should be (cut short, garbled, not the JSON
object or the Avro records it must hold) raises :class:`DamagedLakeFile`, which says which
file and that ``feedlake repair`` moves it aside (docs/operating.md, "Damaged metadata").
A lake of a newer format than this feedlake knows is :class:`NewerLakeFormat`
(:mod:`pipeline.lake.description`). None of these imports Beam: the command line catches
them without loading the pipeline.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from pipeline.lake.names import is_run_id

__all__ = [
    "DamagedLakeFile",
    "NewerLakeFormat",
    "OutsideLake",
    "check_manifest",
    "check_root",
    "check_run_name",
    "confined",
    "damaged",
    "is_run_name",
    "lake_of",
    "linked",
    "real_folder",
    "root_links",
]

# The lake's own folders and files, whose names end the lake's root in a path below it.
_LAKE_ENTRIES = (
    "_runs",
    "_staging",
    "_commits",
    "_index",
    "_catalog",
    "_state",
    "_lease",
    "_damaged",
    "_lake.json",
)


class DamagedLakeFile(ValueError):
    """A file of the lake is not what it must be; the message names it and what to do.

    One argument, the message, so that the exception survives pickling and a runner's
    re-raising unchanged.
    """


class NewerLakeFormat(ValueError):
    """The lake is of a format newer than this feedlake knows: a usage error (exit 2)."""


class OutsideLake(DamagedLakeFile):
    """A file of the lake names a path outside the lake, or a run id feedlake never makes."""


def lake_of(path: str) -> str:
    """The lake's root, from the path of one of its metadata files."""
    cut = max(path.rfind(f"/{entry}") for entry in _LAKE_ENTRIES)
    return path[:cut] if cut > 0 else path.rsplit("/", 1)[0]


def damaged(path: str, problem: str) -> DamagedLakeFile:
    """The error for a metadata file of the lake that cannot be read: ``problem`` says how."""
    error = DamagedLakeFile(f"{path} {problem}; {_what_to_do(path)}")
    error.problem = problem  # for feedlake repair's report (lost when pickled)
    return error


def _what_to_do(path: str, lake: str | None = None) -> str:
    return (
        f"run 'feedlake repair --lake {lake or lake_of(path)}' to move it aside and see what is "
        "lost (docs/operating.md, Damaged metadata)"
    )


def _outside(
    source: str, problem: str, lake: str | None = None, what_to_do: str | None = None
) -> OutsideLake:
    error = OutsideLake(
        f"{source} {problem}, refused: nothing outside the lake is written or deleted; "
        f"{what_to_do or _what_to_do(source, lake)}"
    )
    error.problem = problem
    return error


def linked(path: str, lake: str | None = None, what_to_do: str | None = None) -> OutsideLake:
    """The error for a symbolic link at ``path``, where a folder (or file) of the lake
    ``lake`` belongs: feedlake makes none, and writing or deleting through it would reach
    wherever it points. ``what_to_do`` replaces the advice to run ``feedlake repair``."""
    try:
        target = os.readlink(path)
    except OSError:  # gone or replaced since: still no folder of the lake's
        target = "?"
    problem = f"is a symbolic link (to {target!r}) where the lake's own folder belongs"
    return _outside(path, problem, lake, what_to_do)


def real_folder(path: str, lake: str | None = None) -> bool:
    """Whether a folder is at the local ``path`` (below ``lake``): False when nothing, or a
    file, is there; one ``lstat``, so the link itself is what is looked at.

    Raises:
        OutsideLake: a symbolic link is there.
    """
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    if stat.S_ISLNK(mode):
        raise linked(path, lake)
    return stat.S_ISDIR(mode)


def root_links(lake: str) -> list[str]:
    """The symbolic links among the entries of the local lake's root (none on object stores,
    which have no links): the lake itself may be a link, nothing in it may."""
    if "://" in lake:
        return []
    try:
        with os.scandir(lake) as entries:
            return sorted(entry.path for entry in entries if entry.is_symlink())
    except (FileNotFoundError, NotADirectoryError):
        return []


def check_root(lake: str) -> None:
    """Refuse a lake whose root holds a symbolic link (``_runs``, ``_staging``, ``_lease``,
    ``articles``... each a folder a writer writes into): call it before writing anything.

    Raises:
        OutsideLake: naming the first link.
    """
    if found := root_links(lake):
        raise linked(found[0], lake)


def is_run_name(name: Any) -> bool:
    """Whether ``name`` is a run id feedlake could have made (and so a safe folder name)."""
    return isinstance(name, str) and is_run_id(name)


def check_run_name(name: Any, source: str) -> str:
    """``name``, a run id read from ``source``; :class:`OutsideLake` when feedlake never makes
    such a name."""
    if not is_run_name(name):
        raise _outside(
            source,
            f"names the run {name!r}, which is no run id feedlake makes "
            "(it could lead outside the lake)",
        )
    return name


def confined(lake: str, path: Any, source: str) -> str:
    """``path``, read from ``source``, when it lies inside ``lake``; else :class:`OutsideLake`."""
    inside = isinstance(path, str) and path.startswith(lake.rstrip("/") + "/")
    segments = path[len(lake.rstrip("/")) + 1 :].split("/") if inside else []
    if not inside or any(segment in ("", ".", "..") for segment in segments):
        raise _outside(source, f"names {path!r}, outside the lake {lake}")
    return path


def check_manifest(lake: str, manifest: Any, source: str) -> dict[str, Any]:
    """A manifest read from ``source``, checked before anything acts on it: a JSON object
    whose run id is the one its file name gives, and whose outputs and replaced files all lie
    inside ``lake``. A manifest written where the lake was before it was moved or copied
    (its ``lake`` is another root) is read with its paths below that root taken below
    ``lake``.

    Raises:
        DamagedLakeFile: it is not a manifest.
        OutsideLake: it names a run id feedlake never makes, or a path outside the lake.
    """
    if not isinstance(manifest, dict):
        raise damaged(source, "is not a run manifest (not a JSON object)")
    run_id = check_run_name(manifest.get("run_id"), source)
    if source.rsplit("/", 1)[-1] != f"{run_id}.json":
        raise _outside(source, f"holds the run {run_id!r}, not the run its name gives")
    outputs, replaced = manifest.get("outputs", []), manifest.get("replaced", [])
    if not isinstance(outputs, list) or not isinstance(replaced, list):
        raise damaged(source, "is not a run manifest (outputs or replaced is not a list)")
    if not all(isinstance(output, dict) for output in outputs):
        raise damaged(source, "is not a run manifest (an output is not an object)")
    moved = _moved(lake, manifest.get("lake"))
    outputs = [{**output, "path": moved(output.get("path"))} for output in outputs]
    replaced = [moved(path) for path in replaced]
    for path in [output["path"] for output in outputs] + replaced:
        confined(lake, path, source)
    return {**manifest, "outputs": outputs, "replaced": replaced}


def _moved(lake: str, recorded: Any):
    """What a path of a manifest written at the root ``recorded`` is at the root ``lake``."""
    if not isinstance(recorded, str) or recorded.rstrip("/") in ("", lake.rstrip("/")):
        return lambda path: path
    old = recorded.rstrip("/") + "/"

    def moved(path: Any) -> Any:
        if isinstance(path, str) and path.startswith(old):
            return f"{lake.rstrip('/')}/{path[len(old) :]}"
        return path

    return moved
