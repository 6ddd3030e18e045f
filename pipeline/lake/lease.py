"""The writer lease: one writer per lake at a time, enforced.

Guarantees: while a :class:`WriterLease` is held, no other feedlake process holds the lease of
the same lake (on local disk, S3 and GCS; other object stores: see docs/operating.md); a holder
renews it with a heartbeat and checks, before it commits, that it still holds it (:meth:`check`),
so a writer whose lease was taken over never commits. A lease left by a process that died is taken
over: at once when the holder ran on this host, in this boot and in this PID namespace (so
that its pid names the same process here) and its process is gone, else once its heartbeat
has expired and has been seen not to move for one heartbeat interval (a clock that
jumps cannot take a live lease). A lease file feedlake cannot read is refused with its path
and what to do, never guessed at.

Layout: ``<lake>/_lease/lease-<generation>.json``, one JSON document per generation. The
highest generation is the lease; taking it, fresh or over a stale holder, is creating the next
generation with an exclusive create (:func:`pipeline.lake.documents.create_json_exclusive`), so
of two writers racing for the same lease exactly one wins. Only its holder rewrites a
generation (heartbeats, release); the holder of a new generation deletes the older ones. On
GCS every write of a generation carries a generation precondition: it is created only where
none is, and rewritten only while it is as its holder last wrote it, so a holder whose file
someone else changed or deleted learns it at its next heartbeat and never writes it again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import getpass
import logging
import math
import os
import socket
import threading
import time
import uuid
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.lake.confine import check_root
from pipeline.lake.documents import (
    create_json_exclusive,
    create_json_generation,
    read_json,
    replace_json_generation,
    write_json,
)
from pipeline.lake.storage import delete_exactly, files_below

__all__ = [
    "HEARTBEAT_SECONDS",
    "LEASE_FOLDER",
    "TTL_SECONDS",
    "LeaseError",
    "LeaseHeld",
    "LeaseLost",
    "WriterLease",
    "holder_of",
]

LEASE_FOLDER = "_lease"
TTL_SECONDS = 60.0  # a heartbeat older than this has expired
HEARTBEAT_SECONDS = 15.0  # how often the holder renews it
TTL_VARIABLE = "FEEDLAKE_LEASE_TTL"  # for tests: a shorter expiry, and a heartbeat a quarter of it
_FORMAT = "feedlake-writer-lease/1"
_LOG = logging.getLogger("feedlake")


class LeaseError(RuntimeError):
    """The lease cannot be taken or judged; the message names the lake and what to do."""


class LeaseHeld(LeaseError):
    """Another writer holds the lake's lease."""


class LeaseLost(LeaseError):
    """This writer's lease was taken over (or could not be renewed): it must not commit."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _read_proc(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _where_pids_are_comparable() -> dict[str, str | None]:
    """What makes two processes' pids comparable: the host, the boot and the PID namespace."""
    try:
        namespace: str | None = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = None
    return {
        "host": socket.gethostname(),
        "boot_id": _read_proc("/proc/sys/kernel/random/boot_id"),
        "pid_namespace": namespace,
    }


def _pid_is_comparable(holder: dict[str, Any]) -> bool:
    """Whether the holder's pid names a process here: same host, boot and PID namespace,
    each known (a holder in a container with the host's name has another namespace)."""
    here = _where_pids_are_comparable()
    return all(here[key] is not None and holder.get(key) == here[key] for key in here)


def _ttl_given() -> tuple[float, float] | None:
    """The expiry and heartbeat the tests set with ``FEEDLAKE_LEASE_TTL``, if they do."""
    given = os.environ.get(TTL_VARIABLE)
    if not given:
        return None
    ttl = float(given)
    return ttl, min(HEARTBEAT_SECONDS, ttl / 4)


def _process_start(pid: int) -> str | None:
    """When ``pid`` started, in clock ticks since boot, with the boot's id; None if no such
    process runs here (a pid reused by another process gives another value)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            started = fh.read().rsplit(")", 1)[1].split()[19]
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            boot = fh.read().strip()
    except (OSError, IndexError):
        return None
    return f"{boot}:{started}"


def _is_running(pid: int, started: str | None) -> bool:
    if started is not None and os.path.exists("/proc/self/stat"):
        return _process_start(pid) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


@dataclasses.dataclass(frozen=True)
class _Generation:
    path: str
    number: int
    document: dict[str, Any] | None  # None: not readable as a lease
    error: str | None = None


def _lease_path(lake: str, number: int) -> str:
    return FileSystems.join(lake, LEASE_FOLDER, f"lease-{number:012d}.json")


def _generations(lake: str) -> list[tuple[int, str]]:
    found = []
    for metadata in files_below(FileSystems.join(lake, LEASE_FOLDER), "lease-*.json"):
        digits = metadata.path.rsplit("/", 1)[-1].removeprefix("lease-").removesuffix(".json")
        if digits.isdigit():
            found.append((int(digits), metadata.path))
    return sorted(found)


def _read_generation(number: int, path: str) -> _Generation:
    try:
        document = read_json(path)
    except (OSError, ValueError) as error:
        return _Generation(path, number, None, f"{type(error).__name__}: {error}")
    required = ("format", "token", "holder", "heartbeat", "beats", "ttl_seconds")
    missing = [key for key in required if key not in document] if isinstance(document, dict) else []
    if not isinstance(document, dict) or missing or document.get("format") != _FORMAT:
        what = f"missing {', '.join(missing)}" if missing else "not a feedlake lease"
        return _Generation(path, number, None, what)
    try:
        _check_fields(document)
    except (KeyError, TypeError, ValueError) as error:
        return _Generation(path, number, None, f"a field is not readable: {error}")
    return _Generation(path, number, document)


def _check_fields(document: dict[str, Any]) -> None:
    """Every field a lease is judged on reads as what it is (ValueError, TypeError or
    KeyError when one does not): a lease is never judged on a guess."""
    if dt.datetime.fromisoformat(document["heartbeat"]).tzinfo is None:
        raise ValueError(f"heartbeat {document['heartbeat']!r} has no time zone")
    for key, default in (("ttl_seconds", None), ("heartbeat_seconds", HEARTBEAT_SECONDS)):
        seconds = float(document.get(key, default))
        if not 0 < seconds < math.inf:  # nan too
            raise ValueError(f"{key} {seconds} is not a positive number of seconds")
    int(document["beats"])
    int(document["holder"]["pid"])


def holder_of(document: dict[str, Any]) -> str:
    """Who holds a lease, for a person: command, run, host, pid and last heartbeat."""
    holder = document["holder"]
    run = f"run {holder['run_id']}, " if holder.get("run_id") else ""
    return (
        f"feedlake {holder.get('command', '?')} ({run}pid {holder['pid']} on "
        f"{holder.get('host', '?')}, last heartbeat {document['heartbeat']})"
    )


class WriterLease:
    """The lease on one lake's writing.

    Args:
        lake: the lake's root.
        command: what holds it (``run``, ``watch``, ``compact``), for the messages.
        run_id: the run it is held for, if any.
        ttl: seconds after its last heartbeat at which the lease expires.
        heartbeat: seconds between two heartbeats.
    """

    def __init__(
        self,
        lake: str,
        command: str,
        run_id: str | None = None,
        ttl: float = TTL_SECONDS,
        heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        ttl, heartbeat = _ttl_given() or (ttl, heartbeat)
        if not 0 < heartbeat < ttl:
            raise ValueError("WriterLease: heartbeat must be positive and shorter than ttl")
        self.lake = lake
        self.command = command
        self.run_id = run_id
        self.ttl = ttl
        self.heartbeat = heartbeat
        self.token = uuid.uuid4().hex
        self.generation: int | None = None
        self._document: dict[str, Any] | None = None
        self._stored: int | None = None  # on GCS: the object generation this writer last wrote
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Leases whose heartbeat expired by the clock: (path, beats) and when first seen so,
        # on this process's monotonic clock.
        self._expired_seen: dict[tuple[str, int], float] = {}

    @property
    def held(self) -> bool:
        return self.generation is not None and self._lost is None

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lease, waiting up to ``wait`` seconds for another holder to finish.

        Raises:
            LeaseHeld: another writer still holds it after ``wait`` seconds.
            LeaseError: a lease file is not readable as a lease.
            OutsideLake: the lake's root holds a symbolic link (``_lease`` one, say): a
                writer would write through it (:func:`pipeline.lake.confine.check_root`).
        """
        check_root(self.lake)
        deadline = time.monotonic() + max(wait, 0.0)
        announced = False
        while True:
            found = _generations(self.lake)
            number, path = found[-1] if found else (0, None)
            verdict = "free" if path is None else self._judge(_read_generation(number, path))
            if verdict == "free" or verdict.startswith("stale"):
                if self._create(number + 1):
                    if verdict != "free":
                        _LOG.warning("lake %s: took over the writer lease: %s", self.lake, verdict)
                    self._forget_older(found)
                    self._start_heartbeat()
                    return
                continue  # another writer took that generation first: judge it
            if verdict.startswith("confirming"):
                time.sleep(0.2)  # an expired lease must be seen not to move before it is taken
                continue
            if time.monotonic() >= deadline:
                raise LeaseHeld(
                    f"the lake {self.lake} is being written by {verdict}; one writer at a time: "
                    "try again when it ends, or pass --wait-for-lock SECONDS to wait for it"
                )
            if not announced:
                _LOG.info("lake %s is being written by %s; waiting", self.lake, verdict)
                announced = True
            time.sleep(min(1.0, max(deadline - time.monotonic(), 0.05)))

    def _judge(self, generation: _Generation) -> str:
        """``free``, ``stale: <why>``, ``confirming: <why>``, or who holds it (held)."""
        document = generation.document
        if document is None:
            raise LeaseError(
                f"the lake {self.lake} has a lease file feedlake cannot read, {generation.path} "
                f"({generation.error}); if no feedlake process is writing this lake, delete "
                "that file and run again"
            )
        if document.get("released"):
            return "free"
        holder = document["holder"]
        who = holder_of(document)
        if _pid_is_comparable(holder) and not _is_running(
            int(holder["pid"]), holder.get("pid_started")
        ):
            return f"stale: {who}: that process is gone"
        heartbeat = dt.datetime.fromisoformat(document["heartbeat"])
        age = (_now() - heartbeat).total_seconds()
        ttl = float(document["ttl_seconds"])
        if age < -ttl:
            return (
                f"{who}, whose heartbeat is {-age:.0f} s ahead of this machine's clock (the two "
                "clocks disagree: check NTP on both)"
            )
        if age <= ttl:
            return who
        seen = (generation.path, int(document["beats"]))
        first = self._expired_seen.setdefault(seen, time.monotonic())
        interval = float(document.get("heartbeat_seconds", HEARTBEAT_SECONDS))
        if time.monotonic() - first < interval + 1.0:
            if len(self._expired_seen) > 1 and any(
                path == generation.path and beats != seen[1] for path, beats in self._expired_seen
            ):
                return (
                    f"{who}, which still renews its lease although its heartbeat looks "
                    f"{age:.0f} s old here (the clocks disagree: check NTP on both)"
                )
            return f"confirming: {who}: heartbeat expired {age - ttl:.0f} s ago"
        return f"stale: {who}: its heartbeat stopped {age:.0f} s ago"

    def _create(self, number: int) -> bool:
        now = _now().isoformat()
        document = {
            "format": _FORMAT,
            "generation": number,
            "token": self.token,
            "holder": {
                "command": self.command,
                "run_id": self.run_id,
                **_where_pids_are_comparable(),
                "pid": os.getpid(),
                "pid_started": _process_start(os.getpid()),
                "user": getpass.getuser(),
            },
            "acquired": now,
            "heartbeat": now,
            "beats": 0,
            "ttl_seconds": self.ttl,
            "heartbeat_seconds": self.heartbeat,
            "released": None,
        }
        path = _lease_path(self.lake, number)
        if path.startswith("gs://"):
            self._stored = create_json_generation(path, document)
            if self._stored is None:
                return False
        elif not create_json_exclusive(path, document):
            return False
        self.generation, self._document, self._lost = number, document, None
        return True

    def _write_own(self, document: dict[str, Any]) -> None:
        """Rewrite this writer's generation; on GCS only while it is as this writer left it."""
        assert self.generation is not None
        path = _lease_path(self.lake, self.generation)
        if self._stored is None:
            write_json(path, document)
            return
        stored = replace_json_generation(path, document, self._stored)
        if stored is None:
            self._lost = f"its file {path} was changed or deleted by someone else"
            raise LeaseLost(f"lake {self.lake}: lost the writer lease: {self._lost}")
        self._stored = stored

    def _forget_older(self, found: list[tuple[int, str]]) -> None:
        delete_exactly(path for number, path in found if number < (self.generation or 0))

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._beat_until_stopped, name="feedlake-lease-heartbeat", daemon=True
        )
        self._thread.start()

    def _beat_until_stopped(self) -> None:
        last_renewed = time.monotonic()
        while not self._stop.wait(self.heartbeat):
            try:
                self.renew()
                last_renewed = time.monotonic()
            except LeaseLost as lost:  # the check before the commit says it as the error
                _LOG.info("%s; this writer will not commit", lost)
                return
            except OSError as error:  # keep trying until the lease would have expired
                _LOG.warning("lake %s: could not renew the writer lease: %s", self.lake, error)
                if time.monotonic() - last_renewed > self.ttl:
                    self._lost = f"it could not be renewed for {self.ttl:.0f} s ({error})"
                    return

    def renew(self) -> None:
        """One heartbeat: check the lease is still ours, then move its heartbeat on.

        Raises:
            LeaseLost: a newer generation exists (another writer took the lease over), or,
                on GCS, someone else changed or deleted this writer's file.
        """
        with self._lock:
            self._check_newest()
            assert self._document is not None and self.generation is not None
            self._document = {
                **self._document,
                "heartbeat": _now().isoformat(),
                "beats": self._document["beats"] + 1,
            }
            self._write_own(self._document)

    def _check_newest(self) -> None:
        if self.generation is None:
            raise LeaseLost(f"lake {self.lake}: this process does not hold the writer lease")
        if self._lost is None:
            found = _generations(self.lake)
            newest = found[-1][0] if found else None
            if newest != self.generation:
                self._lost = (
                    f"another writer took it over (generation {newest} after ours, "
                    f"{self.generation}): was this process paused longer than {self.ttl:.0f} s?"
                )
        if self._lost is not None:
            raise LeaseLost(f"lake {self.lake}: lost the writer lease: {self._lost}")

    def check(self) -> None:
        """Raise :class:`LeaseLost` unless this writer still holds the lease (before a commit)."""
        with self._lock:
            self._check_newest()
            assert self._document is not None and self.generation is not None
            current = _read_generation(self.generation, _lease_path(self.lake, self.generation))
            if current.document is None or current.document.get("token") != self.token:
                self._lost = f"its file {current.path} was changed by someone else"
                raise LeaseLost(f"lake {self.lake}: lost the writer lease: {self._lost}")

    def release(self) -> None:
        """Stop the heartbeat and mark the lease released, if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.generation is None:
            return
        try:
            self.check()
        except LeaseLost:
            pass  # nothing of ours to release
        else:
            released = {**(self._document or {}), "released": _now().isoformat()}
            with contextlib.suppress(LeaseLost):  # changed since the check: not ours to release
                self._write_own(released)
        self.generation, self._document, self._stored = None, None, None

    def __enter__(self) -> WriterLease:
        return self

    def __exit__(self, *_exc) -> None:
        self.release()
