"""Airflow: an hourly feedlake batch on Dataflow with BeamRunPythonPipelineOperator.

Needs apache-airflow-providers-apache-beam (and -google for Dataflow). feedlake enforces one
writer per lake with its lease, exclusive on gs:// (generation preconditions), so runs of this
DAG may overlap: a run that finds the lake being written waits for it (wait-for-lock) instead
of failing. A retry of a task reuses its run id (airflow-{{ ts_nodash }}): after a committed
attempt it does nothing, after a failed one it redoes the run.
"""

from __future__ import annotations

import datetime as dt

from airflow import DAG
from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator

LAKE = "gs://BUCKET/lake"

with DAG(
    dag_id="feedlake",
    schedule="@hourly",
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=10)},
    tags=["feedlake", "ingestion"],
) as dag:
    BeamRunPythonPipelineOperator(
        task_id="feedlake_run",
        py_file="gs://BUCKET/feedlake/main.py",  # deploy/flex-template/main.py
        runner="DataflowRunner",
        py_requirements=["feedlake==0.1.0"],
        py_system_site_packages=False,
        pipeline_options={
            "drops": "gs://BUCKET/drops/*.txt",
            "feeds": "gs://BUCKET/feeds.txt",
            "lake": LAKE,
            "run-id": "airflow-{{ ts_nodash }}",
            "wait-for-lock": "1800",
            "project": "PROJECT",
            "region": "europe-west1",
            "temp_location": "gs://BUCKET/tmp",
            "sdk_container_image": "REGION-docker.pkg.dev/PROJECT/REPO/feedlake:0.1.0",
        },
    )
