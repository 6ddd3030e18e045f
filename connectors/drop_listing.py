"""Which files are drops: the patterns a person gives, matched once into names.

Guarantees: a pattern (a path, a glob or a folder, local or any Beam filesystem) is matched
once; from then on each matched path is a name, never a pattern again, so a file called
``milosi[1]-2025-08-29.txt`` is read as itself. A local path that names an existing file is
that file, even when it holds glob characters. One file reached by several spellings
(``a.txt`` and ``./a.txt``, a link in the folder to a file in it, a hard link) is listed once.

Skipped, each with the reason said, never in silence:

- ``outside``: a local file a wildcard or folder matched that resolves (through a symbolic
  link) outside the folder it was matched in, unless links are followed on purpose;
- ``in_lake``: anything under the lake's root, whatever the pattern: the lake's own files
  are never read as drops;
- ``temporary``: a name a wildcard or folder matched that is hidden (``.*``, or under a
  hidden folder) or ends ``.tmp`` or ``.part``: a file still being written, by convention;
- ``not_utf8_name``: a local file whose name is not valid UTF-8 (``milosi-\\xff.txt``): no
  record, manifest or Beam step can carry it; its message shows the bytes escaped.

A path named exactly (no wildcard) is taken as given, links included: the person chose it.

For a watcher, :class:`Settling` says which files have stopped changing: a file still being
written is taken only once it is whole.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import NamedTuple

from apache_beam.io.filesystems import FileSystems

__all__ = [
    "SKIP_REASONS",
    "DropListing",
    "Settling",
    "Skip",
    "also_feeds",
    "as_glob",
    "list_drops",
    "printable",
]

SKIP_REASONS = {
    "outside": "a link to {target}, outside {location} (--follow-symlinks reads it)",
    "in_lake": "inside the lake {lake}: the lake's own files are never drops",
    "temporary": "a temporary name (.*, *.tmp, *.part): rename it when it is complete",
    "also_a_feed": "listed in --feeds too: read once, as a feed",
    "not_utf8_name": "its name is not valid UTF-8 (such bytes are shown escaped, \\xff); "
    "rename it (convmv) and it is read at the next run",
}
_WILDCARD = re.compile(r"[\[*?]")
_TEMPORARY_SUFFIXES = (".tmp", ".part")


class Skip(NamedTuple):
    """Why a matched file is not read: a key of :data:`SKIP_REASONS` and the sentence."""

    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class DropListing:
    """What the patterns matched.

    Attributes:
        matched: each pattern (a folder written as ``folder/*``) and how many files it matched
            before any was skipped: a pattern that matched nothing is a usage error.
        names: the files to read, each once, sorted.
        skipped: file to why it is not read.
    """

    matched: dict[str, int]
    names: list[str]
    skipped: dict[str, Skip]


def as_glob(pattern: str) -> str:
    """A local pattern made absolute, and a folder (local, or a URI ending in /) as ``folder/*``."""
    if "://" in pattern:
        return pattern + "*" if pattern.endswith("/") else pattern
    if os.path.isdir(pattern):
        return os.path.join(os.path.abspath(pattern), "*")
    return os.path.abspath(pattern)


def _location(glob: str) -> str | None:
    """The folder a wildcard pattern matches in; None for a path named exactly."""
    if not (wildcard := _WILDCARD.search(glob)):
        return None
    prefix = glob[: wildcard.start()]
    return prefix[: prefix.rfind("/")] or "/"


def _matched(glob: str) -> tuple[list[str], str | None]:
    """The files ``glob`` matches, and the folder it matched them in (None: named exactly)."""
    if "://" not in glob and os.path.isfile(glob):
        return [glob], None  # an existing file's name, even one with [ ] * ? in it
    found = FileSystems.match([glob])[0].metadata_list
    return sorted(m.path for m in found if not m.path.endswith("/")), _location(glob)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _is_temporary(path: str, location: str) -> bool:
    parts = path[len(location) :].strip("/").split("/")
    return any(part.startswith(".") for part in parts) or parts[-1].endswith(_TEMPORARY_SUFFIXES)


def printable(path: str) -> str:
    """A path as text that prints anywhere: bytes of its name that are not UTF-8 (held by
    Python as surrogates) shown as ``\\xff``."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _skip(reason: str, **details: str) -> Skip:
    return Skip(reason, SKIP_REASONS[reason].format(**details))


def _skip_reason(
    path: str, location: str | None, lake: str | None, follow_symlinks: bool
) -> Skip | None:
    local = "://" not in path
    if local and printable(path) != path:
        return _skip("not_utf8_name")
    real = os.path.realpath(path) if local else path
    if lake is not None:
        lake_real = os.path.realpath(lake) if local and "://" not in lake else lake
        if _within(path, lake) or _within(real, lake_real):
            return _skip("in_lake", lake=lake)
    if location is None:
        return None
    if local and not follow_symlinks and not _within(real, os.path.realpath(location)):
        return _skip("outside", target=real, location=location)
    if _is_temporary(path, location):
        return _skip("temporary")
    return None


def _through_link(path: str) -> bool:
    return "://" not in path and os.path.realpath(path) != path


def _identity(path: str) -> tuple[int, int] | str:
    """What makes two spellings one file: device and inode locally, the URI elsewhere."""
    if "://" in path:
        return path
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


def list_drops(
    patterns: list[str], lake: str | None = None, follow_symlinks: bool = False
) -> DropListing:
    """Match each pattern once and decide which files are drops.

    Args:
        patterns: paths, globs or folders, local or URIs.
        lake: the lake's root; nothing under it is a drop.
        follow_symlinks: read a matched link that resolves outside its folder.
    """
    matched: dict[str, int] = {}
    candidates: dict[str, str | None] = {}  # path: the folder it was matched in
    for pattern in patterns:
        glob = as_glob(pattern)
        paths, location = _matched(glob)
        matched[glob] = len(paths)
        for path in paths:
            if path not in candidates or location is None:  # named exactly anywhere wins
                candidates[path] = location
    skipped: dict[str, Skip] = {}
    kept: dict[tuple[int, int] | str, str] = {}
    for path, location in sorted(candidates.items()):
        if reason := _skip_reason(path, location, lake, follow_symlinks):
            skipped[path] = reason
            continue
        identity = _identity(path)
        previous = kept.get(identity)
        if previous is None or (_through_link(previous) and not _through_link(path)):
            kept[identity] = path  # of two spellings, the first that is no link
    return DropListing(matched, sorted(kept.values()), skipped)


def also_feeds(names: list[str], feeds: list[str]) -> dict[str, Skip]:
    """The drop files that a feed list names too (local paths, any spelling): each is read
    once, as a feed, and skipped as a drop."""
    local = {os.path.realpath(feed) for feed in feeds if "://" not in feed}
    return {
        name: _skip("also_a_feed")
        for name in names
        if "://" not in name and os.path.realpath(name) in local
    }


class Settling:
    """Which files have settled: the same size and modification time for ``quiet_seconds``.

    A file is quiet since its modification time, or since this watcher first saw its current
    size and time, whichever is earlier: a file already old when first listed is taken at
    once; one being written waits until it stops; one dated ahead of this clock (a file
    server's clock) waits for the watcher's own seconds. Any change starts the wait again.
    """

    def __init__(self, quiet_seconds: float) -> None:
        if quiet_seconds < 0:
            raise ValueError("Settling: quiet_seconds must be 0 or more")
        self.quiet_seconds = quiet_seconds
        self._first_seen: dict[str, tuple[tuple[int, float], float]] = {}

    def take(self, stamps: dict[str, tuple[int, float]], now: float) -> list[str]:
        """The settled paths among ``stamps`` (path to size and modification time, seconds).

        Paths not listed are forgotten; ``now`` is the time in seconds since the epoch.
        """
        first_seen = {}
        for path, stamp in stamps.items():
            seen, since = self._first_seen.get(path, (stamp, now))
            first_seen[path] = (stamp, since if seen == stamp else now)
        self._first_seen = first_seen
        return sorted(
            path
            for path, ((_size, modified), since) in first_seen.items()
            if now - min(modified, since) >= self.quiet_seconds
        )
