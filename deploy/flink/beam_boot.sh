#!/bin/sh
# The command of Beam's PROCESS environment (--environment_config '{"command": "THIS FILE"}'):
# each TaskManager runs it, with --id and --provision_endpoint, to start a Python SDK worker
# from feedlake's environment. FEEDLAKE_PYTHON names that environment's python; by default,
# the .venv of the checkout this file is in.
here=$(cd "$(dirname "$0")" && pwd)
exec "${FEEDLAKE_PYTHON:-$here/../../.venv/bin/python}" "$here/sdk_boot.py" "$@"
