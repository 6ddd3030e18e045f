"""Starts one Beam Python SDK worker in this process, as the boot program of Beam's SDK
container does: it asks the runner's provision service for the pipeline options and the
endpoints, then runs the harness with them, so that the worker reads the lake with the run's
own filesystem options."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import grpc
from apache_beam.portability.api import beam_provision_api_pb2, beam_provision_api_pb2_grpc
from apache_beam.runners.worker import sdk_worker_main
from google.protobuf import json_format, text_format

# Where the harness may keep files; one for every worker of this machine, since the runner
# ends workers with SIGTERM, which leaves no chance to remove a worker's own.
SCRATCH = Path(tempfile.gettempdir()) / "feedlake-beam-worker"


def provision_info(endpoint: str, worker_id: str):
    with grpc.insecure_channel(endpoint) as channel:
        service = beam_provision_api_pb2_grpc.ProvisionServiceStub(channel)
        request = beam_provision_api_pb2.GetProvisionInfoRequest()
        return service.GetProvisionInfo(request, metadata=[("worker_id", worker_id)]).info


def harness_environment(worker_id: str, info) -> dict[str, str]:
    """What ``sdk_worker_main`` reads from its environment."""
    return {
        "WORKER_ID": worker_id,
        "PIPELINE_OPTIONS": json_format.MessageToJson(info.pipeline_options),
        "LOGGING_API_SERVICE_DESCRIPTOR": text_format.MessageToString(info.logging_endpoint),
        "CONTROL_API_SERVICE_DESCRIPTOR": text_format.MessageToString(info.control_endpoint),
        "RUNNER_CAPABILITIES": " ".join(info.runner_capabilities),
        "SEMI_PERSISTENT_DIRECTORY": str(SCRATCH),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--id", required=True, help="The worker's id, given by the runner.")
    parser.add_argument("--provision_endpoint", required=True, help="HOST:PORT")
    args, _ = parser.parse_known_args()
    info = provision_info(args.provision_endpoint, args.id)
    SCRATCH.mkdir(exist_ok=True)
    os.environ.update(harness_environment(args.id, info))
    sdk_worker_main.main(sys.argv)


if __name__ == "__main__":
    main()
