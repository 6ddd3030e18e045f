"""File operations on the lake, each done the cheapest correct way for the store it is on.

Guarantees: on local disk (a path without ``scheme://``), a folder is made with one ``mkdir``
when its parent exists, a staged file is opened and renamed with one system call each and
never looked at first, and a file is durable when :func:`sync_lake` or :func:`sync_file`
returns: its content and its name are on the disk, not only in the page cache. On object
stores (``gs://``, ``s3://``, ...) every operation goes through Beam's filesystems, and a
completed PUT is already durable, so the syncs do nothing there.

Why one ``syncfs`` and not an ``fsync`` a file: a run writes thousands of files in thousands
of folders (a year's backfill: about 5,000 of each); syncing each file's content and each
folder's entry costs a journal commit each, where one ``syncfs`` of the lake's file system
commits them all at once (docs/operating.md, "Durability", has the measurements). Where
``syncfs`` is missing (not Linux), :func:`os.sync` does the same for every file system.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import functools
import io
import logging
import os
import struct
from typing import BinaryIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.lake.storage import delete_exactly, files_below

__all__ = [
    "is_local",
    "is_top_folder",
    "local_files",
    "make_folder",
    "make_top_folder",
    "open_new",
    "open_read",
    "publish",
    "remove_files",
    "remove_folder",
    "sync_file",
    "sync_folder",
    "sync_lake",
]

_LOG = logging.getLogger(__name__)
_BUFFER = 1 << 16  # given explicitly, so that opening a file asks no isatty() of it
# The local folders this process made or found (open_new), forgotten past a bound: a watcher
# stages into new folders every batch.
_MADE: set[str] = set()
_MADE_LIMIT = 100_000
# linux/fs.h: the inode flags ioctls and the Orlov allocator's top-of-hierarchy flag
_GET_FLAGS, _SET_FLAGS, _TOPDIR = 0x80086601, 0x40086602, 0x00020000


def is_local(path: str) -> bool:
    """Whether ``path`` is on local disk (no ``scheme://``)."""
    return "://" not in path


def make_folder(folder: str, made: set[str] | None = None) -> None:
    """Create ``folder`` and its parents unless it exists; another worker creating it at the
    same time is fine. On local disk an existing folder costs one ``mkdir``, and so does a new
    one whose parent is in ``made``: the folders the caller made or found so far, which this
    adds to; with ``made``, missing parents are made from the nearest one in it down, never
    tried first and refused."""
    if made is not None and folder in made:
        return
    if is_local(folder):
        parent = os.path.dirname(folder)
        if made is not None and parent not in made and parent != folder:
            make_folder(parent, made)  # from the nearest folder known to be there, down
        try:
            os.mkdir(folder)
        except (FileExistsError, PermissionError):  # an existing folder of another owner, too
            if not os.path.isdir(folder):
                raise
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
        if made is not None:
            while folder not in made and folder not in ("", "/"):
                made.add(folder)
                folder = os.path.dirname(folder)
        return
    if not FileSystems.get_filesystem(folder).has_dirs() or FileSystems.exists(folder):
        return  # S3 and GCS have no folders: nothing to create, nothing to ask
    try:
        FileSystems.mkdirs(folder)
    except OSError:  # Beam's local mkdirs raises a plain IOError; other file systems BeamIOError
        if not FileSystems.exists(folder):  # not a race with another worker: a real failure
            raise


def make_top_folder(folder: str) -> None:
    """Create ``folder`` when missing (as :func:`make_folder`) and mark it, on local disk, as
    the top of a hierarchy of folders for the block allocator (see the module's doc); where
    the file system has no such flag (not ext2/3/4, or not the folder's owner) it stays a
    plain folder."""
    make_folder(folder)
    if not is_local(folder):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = _inode_flags(fd)
        if not flags & _TOPDIR:
            fcntl.ioctl(fd, _SET_FLAGS, struct.pack("l", flags | _TOPDIR))
    except OSError as error:  # ENOTTY, EOPNOTSUPP, EPERM...: a hint the file system ignores
        _LOG.debug("%s stays a plain folder for the allocator: %s", folder, error)
    finally:
        os.close(fd)


def is_top_folder(folder: str) -> bool:
    """Whether ``folder`` (local disk) carries the allocator's top-of-hierarchy flag."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return bool(_inode_flags(fd) & _TOPDIR)
    except OSError:
        return False
    finally:
        os.close(fd)


def _inode_flags(fd: int) -> int:
    """The inode flags of the open file ``fd`` (``lsattr``'s); OSError where there are none."""
    (flags,) = struct.unpack("l", fcntl.ioctl(fd, _GET_FLAGS, struct.pack("l", 0)))
    return flags


def open_new(path: str) -> BinaryIO:
    """A new file at ``path``, open for writing; its folder is made when it is missing (on
    local disk once per process: :data:`_MADE` remembers it, so that the thousands of files
    a run stages in a tree cost one ``mkdir`` a folder and one ``open`` a file)."""
    if is_local(path):
        folder = os.path.dirname(path)
        if folder not in _MADE:
            if len(_MADE) > _MADE_LIMIT:
                _MADE.clear()
            make_folder(folder, _MADE)
        try:
            return open(path, "wb", buffering=_BUFFER)
        except FileNotFoundError:  # removed since this process made it
            _MADE.clear()
            make_folder(folder, _MADE)
            return open(path, "wb", buffering=_BUFFER)
    make_folder(path.rsplit("/", 1)[0])
    return FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED)


def open_read(path: str) -> BinaryIO:
    """The file at ``path``, open for reading as stored (never inflated)."""
    if is_local(path):
        return open(path, "rb", buffering=_BUFFER)
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def publish(staged: str, target: str, made: set[str] | None = None) -> None:
    """Rename ``staged`` to ``target``, creating ``target``'s folder; done already when only
    ``target`` is there. ``made`` remembers the folders this caller made or found, so that
    each is made once."""
    make_folder(target.rsplit("/", 1)[0], made)
    if is_local(target):
        try:
            os.rename(staged, target)
        except FileNotFoundError:
            if not os.path.exists(target) or os.path.exists(staged):
                raise FileNotFoundError(
                    f"{staged} is missing and {target} was never published"
                ) from None
        return
    if not FileSystems.exists(staged):
        if not FileSystems.exists(target):
            raise FileNotFoundError(f"{staged} is missing and {target} was never published")
        return
    FileSystems.rename([staged], [target])
    if not FileSystems.exists(target):
        raise OSError(f"{staged} was renamed to {target} but it does not exist")


def local_files(folder: str) -> list[str]:
    """Every file below the local ``folder`` (a symbolic link counts as a file, never
    followed); none when it is missing."""
    found, folders = [], [folder]
    while folders:
        for entry in _entries(folders.pop()):
            (folders if entry.is_dir(follow_symlinks=False) else found).append(entry.path)
    return found


def remove_files(folder: str) -> None:
    """Remove every file below ``folder``, leaving its folders (local disk)."""
    if is_local(folder):
        for path in local_files(folder):
            _unlink(path)
        return
    delete_exactly(metadata.path for metadata in files_below(folder))


def remove_folder(folder: str) -> None:
    """Remove ``folder`` and everything in it, if it is there (object stores have no folders:
    :func:`remove_files` removed it)."""
    if not is_local(folder):
        return
    for entry in _entries(folder):
        if entry.is_dir(follow_symlinks=False):
            remove_folder(entry.path)
        else:
            _unlink(entry.path)
    with contextlib.suppress(FileNotFoundError):  # removed already: a repeated cleanup
        os.rmdir(folder)


def _entries(folder: str) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except FileNotFoundError:
        return []


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):  # removed already: a repeated cleanup
        os.unlink(path)


@functools.cache
def _syncfs():
    """libc's ``syncfs``, or None where there is none."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name, use_errno=True) if name else None
    call = getattr(libc, "syncfs", None)
    if call is not None:
        call.argtypes = [ctypes.c_int]
    return call


def sync_lake(lake: str) -> None:
    """Make everything written so far on the lake's file system durable: every file's content
    and every folder's entries (local disk: one ``syncfs``; object stores: nothing to do)."""
    if not is_local(lake):
        return
    call = _syncfs()
    if call is None:
        os.sync()
        return
    fd = os.open(lake, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if call(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"syncfs of {lake}: {os.strerror(error)}")
    finally:
        os.close(fd)


def sync_file(fh: io.BufferedWriter | BinaryIO, path: str) -> None:
    """Flush ``fh`` and make its content durable (local disk; nothing on object stores)."""
    fh.flush()
    if is_local(path):
        os.fsync(fh.fileno())


def sync_folder(folder: str) -> None:
    """Make ``folder``'s entries durable: the names created, renamed or removed in it."""
    if not is_local(folder):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
