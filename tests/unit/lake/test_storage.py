"""feedlake's own clients of S3 and GCS: one a store, for the options Beam was given last; and
Beam's S3 clients sharing botocore's service descriptions, the clients botocore makes alone."""

from __future__ import annotations


def test_boto3_clients_sharing_botocores_service_data_are_the_clients_it_makes_alone():
    import boto3
    import botocore.session

    from pipeline.lake.storage import share_s3_service_data

    def made() -> tuple:
        client = boto3.session.Session().client(
            "s3",
            region_name="eu-west-1",
            endpoint_url="http://127.0.0.1:9",
            aws_access_key_id="k",
            aws_secret_access_key="s",
        )
        model = client.meta.service_model
        return (
            client.meta.endpoint_url,
            client.meta.region_name,
            sorted(model.operation_names),
            [
                model.operation_model(name).input_shape.members.keys()
                for name in ("PutObject", "DeleteObjects")
            ],
        )

    alone = made()
    real = botocore.session.create_loader
    try:
        share_s3_service_data()
        assert made() == alone
        first, second = (
            boto3.session.Session()._session.get_component("data_loader") for _ in "ab"
        )
        assert first is second  # one loader: the service files are read once
    finally:
        botocore.session.create_loader = real


def test_one_client_a_store_is_kept_for_the_options_beam_was_given_last(monkeypatch):
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.lake import storage

    monkeypatch.setattr(storage, "_CLIENTS", {})
    made = []
    try:
        for _poll in range(3):  # a watcher sets new options at every poll
            FileSystems.set_options(PipelineOptions([]))
            clients = {
                id(storage._client("s3", lambda o: made.append(o) or object())) for _ in "ab"
            }
            assert len(clients) == 1
    finally:
        FileSystems.set_options(PipelineOptions([]))
    assert len(made) == 3 and len(storage._CLIENTS) == 1  # not one kept per poll


def test_a_folder_whose_path_holds_pattern_characters_is_listed_as_that_folder(tmp_path):
    from pipeline.lake.storage import files_below

    for folder in ("lake[1]", "lake1", "lake*", "lakeX"):
        (tmp_path / folder / "_runs" / "deeper").mkdir(parents=True)
        (tmp_path / folder / "_runs" / "a.json").write_text("{}")
        (tmp_path / folder / "_runs" / "deeper" / "b.json").write_text("{}")
    for folder in ("lake[1]", "lake*"):
        root = str(tmp_path / folder / "_runs")
        assert [m.path for m in files_below(root, "*.json")] == [f"{root}/a.json"]
        assert [m.path for m in files_below(root)] == [f"{root}/a.json", f"{root}/deeper/b.json"]
        assert len(files_below(root, "**.json", limit=1)) == 1
    assert files_below(str(tmp_path / "missing[1]"), "*.json") == []
