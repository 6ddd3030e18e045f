"""The deployment files parse, and name only what feedlake and Beam understand."""

from __future__ import annotations

import ast
import configparser
import json

import pytest
import yaml

from pipeline.cli.batch import watch_parser as _watch_parser
from pipeline.cli.prepare import run_parser as _run_parser
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def flags(parser=None) -> set[str]:
    parser = parser or _run_parser()
    return {option for action in parser._actions for option in action.option_strings}


def test_kubernetes_cronjob_is_valid_and_forbids_overlap():
    (job,) = list(yaml.safe_load_all((DEPLOY / "k8s" / "cronjob.yaml").read_text()))
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "CronJob")
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["feedlake"] and container["args"][0] == "run"
    assert {a for a in container["args"] if a.startswith("--")} <= flags()


def test_kubernetes_watcher_is_probed_on_its_metrics_port_and_never_doubled():
    (deployment,) = list(yaml.safe_load_all((DEPLOY / "k8s" / "watch-deployment.yaml").read_text()))
    spec = deployment["spec"]
    assert (spec["replicas"], spec["strategy"]["type"]) == (1, "Recreate")
    (container,) = spec["template"]["spec"]["containers"]
    args = container["args"]
    assert args[0] == "watch" and {a for a in args if a.startswith("--")} <= flags(_watch_parser())
    port = args[args.index("--metrics-port") + 1]
    assert args[args.index("--log-format") + 1] == "json"
    assert container["ports"] == [{"name": "metrics", "containerPort": int(port)}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert spec["template"]["metadata"]["annotations"]["prometheus.io/port"] == port


def test_flex_template_parameters_are_run_options():
    metadata = json.loads((DEPLOY / "flex-template" / "metadata.json").read_text())
    assert {f"--{p['name']}" for p in metadata["parameters"]} <= flags()
    assert any(p["name"] == "lake" and not p.get("isOptional") for p in metadata["parameters"])
    ast.parse((DEPLOY / "flex-template" / "main.py").read_text())


@pytest.mark.parametrize("unit", ["feedlake.service", "feedlake-watch.service", "feedlake.timer"])
def test_systemd_units_parse(unit):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string((DEPLOY / "systemd" / unit).read_text())
    assert parser.has_section("Unit")
    if unit.endswith(".service"):
        command = parser["Service"]["ExecStart"].split()
        assert command[0].endswith("/feedlake") and command[1] in ("run", "watch")
        known = flags(_watch_parser() if command[1] == "watch" else _run_parser())
        assert {a for a in command if a.startswith("--")} <= known


def test_dockerfile_installs_feedlake_on_beams_sdk_image():
    text = (DEPLOY / "Dockerfile").read_text()
    assert "FROM apache/beam_python3.11_sdk:2.77.0" in text
    assert "FLEX_TEMPLATE_PYTHON_PY_FILE" in text and "pip install" in text


def test_airflow_dag_imports_where_airflow_is_installed():
    source = (DEPLOY / "airflow" / "feedlake_dag.py").read_text()
    tree = ast.parse(source)
    calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and hasattr(n.func, "id")]
    assert "BeamRunPythonPipelineOperator" in calls
    pytest.importorskip("airflow.providers.apache.beam")
    namespace: dict = {}
    exec(compile(source, "feedlake_dag.py", "exec"), namespace)
    assert namespace["dag"].dag_id == "feedlake"
