"""A Flink standalone session cluster on loopback for development and tests: one JobManager
and N TaskManagers (one slot each, small memory, free ports), all in a folder of its own, and
stopped by the process ids it recorded there.

    python deploy/flink/local_cluster.py start --flink-home .cache/flink/flink-1.19.3 \\
        --dir build/flink --taskmanagers 2      # prints the REST address when all are up
    python deploy/flink/local_cluster.py stop --dir build/flink

Only the standard library: it runs from any Python 3.11.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

STATE = "cluster.json"
START_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def config(rpc_port: int, rest_port: int, folder: Path, taskmanagers: int) -> str:
    """Flink's config.yaml: everything on 127.0.0.1, one slot per TaskManager."""
    settings = {
        "jobmanager.rpc.address": "127.0.0.1",
        "jobmanager.rpc.port": rpc_port,
        "jobmanager.bind-host": "127.0.0.1",
        "jobmanager.memory.process.size": "1024m",
        "taskmanager.host": "127.0.0.1",
        "taskmanager.bind-host": "127.0.0.1",
        "taskmanager.memory.process.size": "1536m",
        "taskmanager.numberOfTaskSlots": 1,
        "parallelism.default": taskmanagers,
        "rest.address": "127.0.0.1",
        "rest.bind-address": "127.0.0.1",
        "rest.port": rest_port,
        "blob.server.port": "0",
        "taskmanager.rpc.port": "0",
        "taskmanager.data.port": 0,
        "heartbeat.timeout": 20000,
        "io.tmp.dirs": str(folder / "tmp"),
        "web.tmpdir": str(folder / "tmp"),
    }
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items())


def write_conf(flink_home: Path, folder: Path, rpc_port: int, rest_port: int, tms: int) -> Path:
    conf = folder / "conf"
    shutil.copytree(flink_home / "conf", conf, dirs_exist_ok=True)
    (conf / "flink-conf.yaml").unlink(missing_ok=True)
    (conf / "config.yaml").write_text(config(rpc_port, rest_port, folder, tms))
    (folder / "tmp").mkdir(exist_ok=True)
    (folder / "log").mkdir(exist_ok=True)
    return conf


def launch(flink_home: Path, folder: Path, script: str, name: str) -> int:
    """One Flink process in the foreground of its own session; its output in log/NAME.out."""
    environment = dict(
        os.environ, FLINK_CONF_DIR=str(folder / "conf"), FLINK_LOG_DIR=str(folder / "log")
    )
    with open(folder / "log" / f"{name}.out", "ab") as out:
        process = subprocess.Popen(
            [str(flink_home / "bin" / script), "start-foreground"],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return process.pid


def overview(rest: str) -> dict:
    with urllib.request.urlopen(f"{rest}/overview", timeout=5) as answer:
        return json.load(answer)


def wait_until_up(rest: str, taskmanagers: int, pids: dict[str, int]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for name, pid in pids.items():
            if not alive(pid):
                raise SystemExit(f"flink {name} (pid {pid}) exited while starting; see its log")
        try:
            if overview(rest)["taskmanagers"] >= taskmanagers:
                return
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit(f"flink cluster at {rest} not up after {START_TIMEOUT:.0f} s")


def start(flink_home: Path, folder: Path, taskmanagers: int) -> dict:
    if (folder / STATE).exists():
        raise SystemExit(f"{folder / STATE} exists: stop that cluster first")
    if not (flink_home / "bin" / "jobmanager.sh").is_file():
        raise SystemExit(
            f"--flink-home {flink_home} holds no bin/jobmanager.sh; run make flink-deps"
        )
    folder.mkdir(parents=True, exist_ok=True)
    rpc_port, rest_port = free_port(), free_port()
    write_conf(flink_home, folder, rpc_port, rest_port, taskmanagers)
    pids = {"jobmanager": launch(flink_home, folder, "jobmanager.sh", "jobmanager")}
    for number in range(1, taskmanagers + 1):
        name = f"taskmanager-{number}"
        pids[name] = launch(flink_home, folder, "taskmanager.sh", name)
    address = f"127.0.0.1:{rest_port}"
    state = {"rest": f"http://{address}", "master": address, "pids": pids}
    (folder / STATE).write_text(json.dumps(state, indent=1))
    try:
        wait_until_up(state["rest"], taskmanagers, pids)
    except SystemExit:
        stop(folder)
        raise
    return state


def alive(pid: int) -> bool:
    """The process is there and not a zombie (one this process started and has not reaped)."""
    try:
        return not Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def of_cluster(pid: int, folder: Path) -> bool:
    """The process is a Flink process of this folder's cluster (its command line names the
    folder's log), not another that took a recorded id later."""
    try:
        return str(folder / "log") in Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    except OSError:
        return False


def end(pid: int) -> None:
    """SIGTERM to the process's group, SIGKILL if it is still there after STOP_TIMEOUT."""
    for sig, grace in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not alive(pid):
            return


def stop(folder: Path) -> None:
    state_file = folder / STATE
    if not state_file.exists():
        return
    state = json.loads(state_file.read_text())
    for pid in reversed(list(state["pids"].values())):
        if of_cluster(pid, folder):
            end(pid)
    state_file.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    begin = commands.add_parser("start", help="start a cluster and wait until it is up")
    begin.add_argument("--flink-home", type=Path, required=True, help="Flink's bin/, conf/, lib/")
    begin.add_argument("--dir", type=Path, required=True, help="folder of the cluster's files")
    begin.add_argument("--taskmanagers", type=int, default=2)
    halt = commands.add_parser("stop", help="stop the cluster the folder's cluster.json names")
    halt.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "start":
        print(start(args.flink_home.resolve(), args.dir.resolve(), args.taskmanagers)["rest"])
    else:
        stop(args.dir.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
