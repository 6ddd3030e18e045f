"""The writer lease, named after its promises: one holder at a time, a second writer refused
or kept waiting, a dead holder's lease taken over, a live one never (whatever the clocks say),
a writer that lost its lease unable to commit, and a lease file nobody can read refused."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline.lake.documents import create_json_exclusive
from pipeline.lake.lease import LeaseError, LeaseHeld, LeaseLost, WriterLease
from tests.conftest import ROOT


def lease_files(lake: Path) -> list[Path]:
    return sorted((lake / "_lease").glob("lease-*.json"))


def foreign_lease(lake: Path, heartbeat: dt.datetime, beats: int = 0, **holder) -> Path:
    """A lease held by a process on another host, as its file says."""
    path = lake / "_lease" / "lease-000000000001.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "format": "feedlake-writer-lease/1",
        "generation": 1,
        "token": "elsewhere",
        "holder": {"command": "run", "run_id": "r0", "host": "other-host", "pid": 4242, **holder},
        "acquired": heartbeat.isoformat(),
        "heartbeat": heartbeat.isoformat(),
        "beats": beats,
        "ttl_seconds": 60.0,
        "heartbeat_seconds": 0.3,
        "released": None,
    }
    path.write_text(json.dumps(document))
    return path


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    with WriterLease(str(tmp_path), "run", "first") as first:
        first.acquire()
        second = WriterLease(str(tmp_path), "run", "second")
        with pytest.raises(LeaseHeld, match=r"feedlake run \(run first, pid \d+ on .*--wait-for"):
            second.acquire(wait=0)
        assert first.held and not second.held
    assert json.loads(lease_files(tmp_path)[-1].read_text())["released"]


def test_a_second_writer_waits_for_the_first_to_finish(tmp_path):
    first = WriterLease(str(tmp_path), "run", "first")
    first.acquire()
    threading.Timer(0.5, first.release).start()
    second = WriterLease(str(tmp_path), "run", "second")
    started = time.monotonic()
    second.acquire(wait=10)
    assert second.held and 0.4 < time.monotonic() - started < 5
    second.release()
    assert len(lease_files(tmp_path)) == 1  # the older generation is gone


def test_of_writers_racing_for_a_free_lake_exactly_one_wins(tmp_path):
    leases = [WriterLease(str(tmp_path), "run", f"r{n}") for n in range(8)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(leases))

    def race(lease: WriterLease) -> None:
        barrier.wait()
        try:
            lease.acquire(wait=0)
            outcomes.append("held")
        except LeaseHeld:
            outcomes.append("refused")

    threads = [threading.Thread(target=race, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["held"] + ["refused"] * 7
    for lease in leases:
        lease.release()


def test_the_lease_of_a_killed_process_on_this_host_is_taken_over_at_once(tmp_path):
    script = (
        "import os, signal; from pipeline.lake.lease import WriterLease; "
        f"WriterLease({str(tmp_path)!r}, 'run', 'killed').acquire(); "
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=False)
    (left,) = lease_files(tmp_path)
    assert not json.loads(left.read_text())["released"]
    lease = WriterLease(str(tmp_path), "run", "next")
    started = time.monotonic()
    lease.acquire(wait=0)
    assert lease.held and time.monotonic() - started < 2
    lease.release()


def test_an_expired_lease_of_another_host_is_taken_once_seen_not_to_move(tmp_path):
    foreign_lease(tmp_path, now() - dt.timedelta(minutes=10))
    lease = WriterLease(str(tmp_path), "run", "next")
    started = time.monotonic()
    lease.acquire(wait=0)  # confirming the expiry takes its heartbeat interval, whatever wait
    assert lease.held and time.monotonic() - started >= 1.3
    lease.release()


def test_a_live_lease_of_another_host_is_not_taken(tmp_path):
    foreign_lease(tmp_path, now() - dt.timedelta(seconds=5))
    with pytest.raises(LeaseHeld, match="other-host"):
        WriterLease(str(tmp_path), "run", "next").acquire(wait=0.5)


def test_a_clock_that_jumps_cannot_take_a_live_lease(tmp_path):
    # The holder's clock is ten minutes behind ours: its heartbeats look expired here, but
    # they keep coming.
    path = foreign_lease(tmp_path, now() - dt.timedelta(minutes=10))
    stop = threading.Event()

    def renew() -> None:
        beats = 0
        while not stop.wait(0.1):
            beats += 1
            document = json.loads(path.read_text())
            renewed = path.with_name(".renewed")  # renamed in, as a holder writes it
            renewed.write_text(json.dumps({**document, "beats": beats}))
            renewed.replace(path)

    renewing = threading.Thread(target=renew)
    renewing.start()
    try:
        with pytest.raises(LeaseHeld, match="clocks disagree"):
            WriterLease(str(tmp_path), "run", "next").acquire(wait=2)
    finally:
        stop.set()
        renewing.join()


def test_a_heartbeat_from_the_future_is_reported_as_clocks_that_disagree(tmp_path):
    foreign_lease(tmp_path, now() + dt.timedelta(hours=2))
    with pytest.raises(LeaseHeld, match="ahead of this machine's clock"):
        WriterLease(str(tmp_path), "run", "next").acquire(wait=0)


@pytest.mark.parametrize("text", ["{not json", '{"holder": "me"}', json.dumps({"format": 1})])
def test_a_lease_file_edited_by_hand_is_refused_with_what_to_do(tmp_path, text):
    path = tmp_path / "_lease" / "lease-000000000003.json"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(LeaseError, match=f"{tmp_path}.*{path.name}.*delete that file") as caught:
        WriterLease(str(tmp_path), "run", "next").acquire(wait=0)
    assert not isinstance(caught.value, LeaseHeld)
    assert path.read_text() == text  # nothing is guessed, nothing removed


def test_a_writer_whose_lease_was_taken_over_cannot_commit(tmp_path):
    lease = WriterLease(str(tmp_path), "run", "paused")
    lease.acquire()
    lease.check()
    newer = tmp_path / "_lease" / "lease-000000000002.json"
    assert create_json_exclusive(str(newer), {"taken": "over"})
    with pytest.raises(LeaseLost, match="took it over"):
        lease.check()
    with pytest.raises(LeaseLost):
        lease.renew()
    lease.release()
    assert json.loads(newer.read_text()) == {"taken": "over"}  # the new holder's, untouched


def test_the_heartbeat_moves_while_the_lease_is_held(tmp_path):
    lease = WriterLease(str(tmp_path), "watch", ttl=2, heartbeat=0.2)
    lease.acquire()
    (path,) = lease_files(tmp_path)
    first = json.loads(path.read_text())
    time.sleep(0.7)
    later = json.loads(path.read_text())
    assert later["beats"] >= 2 and later["heartbeat"] > first["heartbeat"]
    lease.release()


def test_an_exclusive_create_refuses_a_name_that_exists(tmp_path):
    path = str(tmp_path / "x" / "doc.json")
    assert create_json_exclusive(path, {"n": 1})
    assert not create_json_exclusive(path, {"n": 2})
    assert json.loads(Path(path).read_text()) == {"n": 1}
    assert [p.name for p in Path(path).parent.iterdir()] == ["doc.json"]


def here(**changes) -> dict:
    """This host, boot and PID namespace, as a holder records them, with ``changes``."""
    with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
        boot_id = fh.read().strip()
    where = {
        "host": socket.gethostname(),
        "boot_id": boot_id,
        "pid_namespace": os.readlink("/proc/self/ns/pid"),
    }
    return {**where, **changes}


def a_pid_that_is_gone() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(done.stdout)


@pytest.mark.parametrize(
    "changes",
    [{"pid_namespace": "pid:[1]"}, {"boot_id": "another-boot"}, {"pid_namespace": None}, {}],
)
def test_a_pid_is_judged_gone_only_when_host_boot_and_namespace_are_ours(tmp_path, changes):
    holder = here(**changes) if changes else {"host": socket.gethostname()}  # {}: old record
    foreign_lease(tmp_path, now() - dt.timedelta(seconds=1), pid=a_pid_that_is_gone(), **holder)
    with pytest.raises(LeaseHeld):  # not comparable: its fresh heartbeat keeps it
        WriterLease(str(tmp_path), "run", "next").acquire(wait=0)


def test_a_holder_of_this_host_boot_and_namespace_whose_pid_is_gone_is_taken_at_once(tmp_path):
    foreign_lease(tmp_path, now() - dt.timedelta(seconds=1), pid=a_pid_that_is_gone(), **here())
    lease = WriterLease(str(tmp_path), "run", "next")
    lease.acquire(wait=0)
    assert lease.held
    lease.release()


@pytest.mark.parametrize(
    "fields",
    [
        {"heartbeat": "2026-01-01T00:00:00"},  # no time zone: cannot be compared with now
        {"beats": "many"},
        {"ttl_seconds": "nan"},
        {"ttl_seconds": -5},
        {"holder": ["run"]},
        {"heartbeat_seconds": "soon"},
    ],
)
def test_a_lease_field_that_parses_but_is_not_what_it_must_be_is_refused(tmp_path, fields):
    """An expired lease (a day old) is judged on every field: each must read as what it is."""
    path = foreign_lease(tmp_path, now() - dt.timedelta(days=1))
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))
    with pytest.raises(LeaseError, match=f"{path.name}.*delete that file") as caught:
        WriterLease(str(tmp_path), "run", "next").acquire(wait=0)
    assert not isinstance(caught.value, LeaseHeld)
