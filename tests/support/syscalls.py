"""What a process did to the disk, read from ``strace``, and what a power cut could leave of it.

:func:`traced` runs a command under ``strace -f -y`` (every thread and child; file
descriptors printed with their paths) recording the calls that create, write, rename, remove
or sync files; :func:`calls` reads the record back, each call with the place of its first and
of its last line (a call another thread interrupts is split over two lines), so that "A had
finished before B started" is ``a.done < b.start``.

:class:`Disk` replays those calls on a model of a journaling file system after a power cut, as
POSIX allows it to be: a file's content is on the disk only if it was synced (``fsync``,
``fdatasync``, ``syncfs``, ``sync``) after it was last written, and a change to a folder's
entries (a file made, renamed in or out, removed) only if that folder was synced after it
(``fsync`` of the folder, ``syncfs``, ``sync``). :meth:`Disk.crashed` lays out, from the lake
as the process left it, the lake such a disk could hold: every file whose content was never
synced empty, and every name whose folder entry was never synced undone (a rename undone in
each of its two folders on its own) or, with ``names_kept``, every name kept, as when the file
system's journal committed the names on its own but not the data (ext4's zero-length files).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from pathlib import Path

__all__ = ["Call", "Disk", "calls", "strace_missing", "traced"]

TRACED = (
    "open,openat,creat,write,pwrite64,writev,ftruncate,truncate,fsync,fdatasync,syncfs,sync,"
    "rename,renameat,renameat2,link,linkat,unlink,unlinkat,mkdir,mkdirat,rmdir"
)
_LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<rest>.*)$")
_START = re.compile(r"^(?P<name>\w+)\((?P<args>.*?)(?: <unfinished \.\.\.>)?$")
_RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>(?P<args>.*)$")
_RESULT = re.compile(r"\)\s+=\s+(?P<ret>-?\d+)(?:<(?P<path>[^>]*)>)?")
_FD = re.compile(r"^(?P<fd>-?\d+|AT_FDCWD)(?:<(?P<path>[^>]*)>)?$")


def strace_missing() -> str | None:
    """Why system calls cannot be traced here, or None when they can."""
    if shutil.which("strace") is None:
        return "needs strace (apt-get install strace; .ci/run installs it)"
    probe = subprocess.run(["strace", "-o", os.devnull, "true"], capture_output=True)
    if probe.returncode != 0:
        return f"strace cannot trace here: {probe.stderr.decode(errors='replace').strip()}"
    return None


def traced(argv: list[str], log: Path, **kwargs) -> subprocess.CompletedProcess:
    """``argv`` run under strace, its file-system calls recorded in ``log``."""
    command = ["strace", "-f", "-y", "-qq", "-s", "0", "-e", f"trace={TRACED}", "-o", str(log)]
    return subprocess.run([*command, *argv], capture_output=True, text=True, **kwargs)


@dataclasses.dataclass
class Call:
    name: str
    args: list[str]  # as strace printed them, split at top-level commas
    ret: int
    ret_path: str | None  # the path strace printed with a returned file descriptor
    start: int  # the line where the call began
    done: int  # the line where it returned

    def fd_path(self, position: int = 0) -> str | None:
        """The path of the file descriptor argument at ``position``."""
        match = _FD.match(self.args[position]) if len(self.args) > position else None
        return match.group("path") if match else None

    def path(self, position: int, dir_position: int | None = None) -> str:
        """The path argument at ``position``, resolved against the directory descriptor at
        ``dir_position`` when it is relative."""
        path = _unquote(self.args[position])
        if not path.startswith("/") and dir_position is not None:
            folder = self.fd_path(dir_position)
            if folder:
                path = f"{folder}/{path}"
        return os.path.normpath(path)


def _split(args: str) -> list[str]:
    parts, depth, current, quoted = [], 0, "", False
    for char in args:
        if char == '"' and not current.endswith("\\"):
            quoted = not quoted
        if not quoted and char in "[{(":
            depth += 1
        elif not quoted and char in "]})":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def _unquote(arg: str) -> str:
    return arg.strip().removesuffix("...").strip('"')


def calls(log: Path) -> list[Call]:
    """The calls of a :func:`traced` log, in the order they returned."""
    pending: dict[tuple[str, str], tuple[int, str]] = {}
    found: list[Call] = []
    for number, line in enumerate(log.read_text(errors="replace").splitlines()):
        match = _LINE.match(line)
        if not match:
            continue
        pid, rest = match.group("pid"), match.group("rest")
        if resumed := _RESUMED.match(rest):
            name = resumed.group("name")
            start, head = pending.pop((pid, name), (number, ""))
            text = head + resumed.group("args")
        elif started := _START.match(rest):
            name = started.group("name")
            if rest.endswith("<unfinished ...>"):
                pending[(pid, name)] = (number, started.group("args"))
                continue
            start, text = number, started.group("args")
        else:
            continue
        result = _RESULT.search(text)
        if not result:
            continue
        args = _split(text[: result.start()])
        found.append(
            Call(name, args, int(result.group("ret")), result.group("path"), start, number)
        )
    return found


@dataclasses.dataclass
class _Node:
    folder: bool
    written: int | None = None  # the line its last write returned on; None: on the disk
    initial: Path | None = None  # where the content it had before the trace was copied

    def sync(self, before: int) -> None:
        """A sync that began on line ``before`` put what was written until then on the disk."""
        if self.written is not None and self.written < before:
            self.written = None


class Disk:
    """The lake's files as a disk holds them after a power cut at the end of a trace.

    Args:
        root: the lake.
        before: a copy of the lake as it was before the traced process started (every file
            of it on the disk).
    """

    def __init__(self, root: Path, before: Path) -> None:
        self.root = str(root)
        self.nodes: dict[int, _Node] = {}
        self.live: dict[str, int] = {}  # path -> node, as the process saw the lake
        # A folder's entries belong to the folder (its node), wherever it is renamed to.
        self.durable: dict[int, dict[str, int]] = {}  # folder -> the entries on the disk
        self.pending: dict[int, list[tuple[int, str, int | None]]] = {}  # folder -> changes
        self.top = self._add(self.root, folder=True)
        for folder, folders, files in os.walk(before):
            here = os.path.normpath(os.path.join(self.root, os.path.relpath(folder, before)))
            for name in folders:
                self._add(os.path.join(here, name), folder=True)
            for name in files:
                node = self._add(os.path.join(here, name), folder=False)
                self.nodes[node].initial = Path(folder) / name

    def _add(self, path: str, folder: bool, at: int | None = None) -> int:
        """A new node at ``path``: on the disk already (``at`` None), or made on line ``at``."""
        node = len(self.nodes)
        self.nodes[node] = _Node(folder)
        self.live[path] = node
        parent, name = os.path.split(path)
        if folder:
            self.durable.setdefault(node, {})
        if path != self.root:
            if at is None:
                self.durable.setdefault(self.live[parent], {})[name] = node
            else:
                self._change(parent, name, node, at)
        return node

    def _change(self, folder: str, name: str, node: int | None, at: int) -> None:
        if folder in self.live:
            self.pending.setdefault(self.live[folder], []).append((at, name, node))

    def _within(self, path: str | None) -> bool:
        return bool(path) and (path == self.root or path.startswith(self.root + "/"))

    def replay(self, traced_calls: list[Call]) -> Disk:
        """Apply the calls, in the order they returned."""
        for call in traced_calls:
            if call.ret < 0 and call.name not in ("sync",):
                continue
            getattr(self, f"_{call.name}", self._ignore)(call)
        return self

    def _ignore(self, call: Call) -> None:
        pass

    # Content
    def _written(self, path: str | None, done: int) -> None:
        if self._within(path) and path in self.live:
            self.nodes[self.live[path]].written = done

    def _write(self, call: Call) -> None:
        self._written(call.fd_path(0), call.done)

    _pwrite64 = _writev = _ftruncate = _write

    def _opened(self, path: str, flags: str, done: int) -> None:
        if not self._within(path):
            return
        if path not in self.live and "O_CREAT" in flags:
            node = self._add(path, folder=False, at=done)
            self.nodes[node].written = done
        elif "O_TRUNC" in flags:
            self._written(path, done)

    def _openat(self, call: Call) -> None:
        path = os.path.normpath(call.ret_path or call.path(1, 0))
        self._opened(path, call.args[2] if len(call.args) > 2 else "", call.done)

    def _open(self, call: Call) -> None:
        path = call.ret_path or call.path(0)
        self._opened(path, call.args[1] if len(call.args) > 1 else "", call.done)

    # Syncs: each covers what had returned before it started
    def _fsync(self, call: Call) -> None:
        path = call.fd_path(0)
        if not self._within(path) or path not in self.live:
            return
        node = self.nodes[self.live[path]]
        if node.folder:
            self._sync_folder(self.live[path], call.start)
        else:
            node.sync(call.start)

    _fdatasync = _fsync

    def _sync_folder(self, folder: int, before: int) -> None:
        changes = self.pending.get(folder, [])
        entries = self.durable.setdefault(folder, {})
        keep = []
        for at, name, node in changes:
            if at < before:
                if node is None:
                    entries.pop(name, None)
                else:
                    entries[name] = node
            else:
                keep.append((at, name, node))
        self.pending[folder] = keep

    def _syncfs(self, call: Call) -> None:
        for folder in list(self.pending):
            self._sync_folder(folder, call.start)
        for node in self.nodes.values():
            node.sync(call.start)

    _sync = _syncfs

    # Names
    def _moved(self, old: str, new: str, done: int) -> None:
        if not self._within(old) and not self._within(new):
            return
        node = self.live.pop(old, None)
        if node is None:
            return
        for path in [p for p in self.live if p.startswith(old + "/")]:  # a folder moved
            self.live[new + path[len(old) :]] = self.live.pop(path)
        self._change(os.path.dirname(old), os.path.basename(old), None, done)
        self.live[new] = node
        self._change(os.path.dirname(new), os.path.basename(new), node, done)

    def _rename(self, call: Call) -> None:
        self._moved(call.path(0), call.path(1), call.done)

    def _renameat(self, call: Call) -> None:
        self._moved(call.path(1, 0), call.path(3, 2), call.done)

    _renameat2 = _renameat

    def _linked(self, old: str, new: str, done: int) -> None:
        if self._within(new) and old in self.live:
            self.live[new] = self.live[old]
            self._change(os.path.dirname(new), os.path.basename(new), self.live[new], done)

    def _link(self, call: Call) -> None:
        self._linked(call.path(0), call.path(1), call.done)

    def _linkat(self, call: Call) -> None:
        self._linked(call.path(1, 0), call.path(3, 2), call.done)

    def _removed(self, path: str, done: int) -> None:
        if self._within(path) and self.live.pop(path, None) is not None:
            self._change(os.path.dirname(path), os.path.basename(path), None, done)

    def _unlink(self, call: Call) -> None:
        self._removed(call.path(0), call.done)

    def _unlinkat(self, call: Call) -> None:
        self._removed(call.path(1, 0), call.done)

    _rmdir = _unlink

    def _made(self, path: str, done: int) -> None:
        if self._within(path) and path not in self.live:
            self._add(path, folder=True, at=done)

    def _mkdir(self, call: Call) -> None:
        self._made(call.path(0), call.done)

    def _mkdirat(self, call: Call) -> None:
        self._made(call.path(1, 0), call.done)

    def crashed(self, out: Path, names_kept: bool = False) -> Path:
        """Lay out in ``out`` the lake the disk holds after a power cut now: the names whose
        folders were synced, or with ``names_kept`` every name the process left."""
        where = {node: path for path, node in self.live.items()}
        entries = self.durable
        if names_kept:
            entries = {}
            for path, node in self.live.items():
                if path != self.root:
                    parent = self.live[os.path.dirname(path)]
                    entries.setdefault(parent, {})[os.path.basename(path)] = node
        self._lay(self.top, out, where, entries, set())
        return out

    def _lay(
        self, folder: int, out: Path, where: dict[int, str], entries: dict, laid: set[int]
    ) -> None:
        out.mkdir(parents=True, exist_ok=True)
        laid.add(folder)
        for name, node in sorted(entries.get(folder, {}).items()):
            if self.nodes[node].folder:
                if node not in laid:  # a folder in two places: each name undone on its own
                    self._lay(node, out / name, where, entries, laid)
                continue
            content = b""
            if self.nodes[node].written is None:
                now = where.get(node)
                if now is not None and os.path.isfile(now):
                    content = Path(now).read_bytes()
                elif self.nodes[node].initial is not None:
                    content = self.nodes[node].initial.read_bytes()
            (out / name).write_bytes(content)
