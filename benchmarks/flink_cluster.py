"""A Flink session cluster started by deploy/flink/local_cluster.py, its REST API, and the
flags that run feedlake on it through Beam's FlinkRunner, with SDK workers started by
deploy/flink/beam_boot.sh from this checkout's environment."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CACHE = ROOT / ".cache" / "flink"
FLINK_HOME = CACHE / "flink-1.19.3"
JOB_SERVER_JAR = CACHE / "beam-runners-flink-1.19-job-server-2.70.0.jar"
LOCAL_CLUSTER = ROOT / "deploy" / "flink" / "local_cluster.py"
BOOT = ROOT / "deploy" / "flink" / "beam_boot.sh"
RUN_TIMEOUT = 1200


class Cluster:
    """A running cluster: its folder, REST address and process ids."""

    def __init__(self, folder: Path, taskmanagers: int = 2):
        self.folder = folder
        subprocess.run(
            [
                *(sys.executable, str(LOCAL_CLUSTER), "start", "--flink-home", str(FLINK_HOME)),
                *("--dir", str(folder), "--taskmanagers", str(taskmanagers)),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        state = json.loads((folder / "cluster.json").read_text())
        self.rest, self.master, self.pids = state["rest"], state["master"], state["pids"]

    def stop(self) -> None:
        subprocess.run(
            [sys.executable, str(LOCAL_CLUSTER), "stop", "--dir", str(self.folder)],
            check=True,
            timeout=120,
        )

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.rest}{path}", timeout=30) as answer:
            return json.load(answer)

    def cancel(self, job_id: str) -> None:
        request = urllib.request.Request(f"{self.rest}/jobs/{job_id}?mode=cancel", method="PATCH")
        urllib.request.urlopen(request, timeout=30).close()

    def jobs(self) -> dict[str, dict]:
        return {job["jid"]: job for job in self.get("/jobs/overview")["jobs"]}

    def job_midway(self, known: set[str], timeout: float = RUN_TIMEOUT) -> str:
        """The id of a job not in ``known`` once it runs and some of its tasks finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for job_id, job in self.jobs().items():
                started = job_id not in known and job["state"] == "RUNNING"
                if started and job["tasks"]["finished"] >= 5:
                    return job_id
            time.sleep(0.5)
        raise AssertionError(f"no new job ran on {self.rest} within {timeout:.0f} s")

    def records_read_by_taskmanager(self, job_id: str, vertex_name: str) -> dict[str, int]:
        """Records the job's vertex whose name holds ``vertex_name`` read, per TaskManager."""
        (vertex,) = [v for v in self.get(f"/jobs/{job_id}")["vertices"] if vertex_name in v["name"]]
        taskmanagers = self.get(f"/jobs/{job_id}/vertices/{vertex['id']}/taskmanagers")
        return {
            tm["taskmanager-id"]: tm["metrics"]["read-records"]
            for tm in taskmanagers["taskmanagers"]
        }


def flink_flags(cluster: Cluster) -> list[str]:
    return [
        "--runner=FlinkRunner",
        f"--flink_master={cluster.master}",
        "--flink_version=1.19",
        f"--flink_job_server_jar={JOB_SERVER_JAR}",
        "--environment_type=PROCESS",
        f'--environment_config={{"command": "{BOOT}"}}',
        f"--parallelism={len(cluster.pids) - 1}",
    ]
