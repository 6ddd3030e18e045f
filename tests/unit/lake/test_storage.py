"""Beam's S3 filesystem makes a boto3 client for every operation: feedlake lets them share
botocore's service descriptions, and the clients must be those botocore makes alone."""

from __future__ import annotations


def test_boto3_clients_sharing_botocores_service_data_are_the_clients_it_makes_alone():
    import boto3
    import botocore.session

    from pipeline.lake.storage import share_s3_service_data

    def made() -> tuple:
        client = boto3.session.Session().client(
            "s3", region_name="eu-west-1", endpoint_url="http://127.0.0.1:9", aws_access_key_id="k",
            aws_secret_access_key="s",
        )
        model = client.meta.service_model
        return (
            client.meta.endpoint_url,
            client.meta.region_name,
            sorted(model.operation_names),
            [model.operation_model(name).input_shape.members.keys() for name in ("PutObject", "DeleteObjects")],
        )

    alone = made()
    real = botocore.session.create_loader
    try:
        share_s3_service_data()
        assert made() == alone
        first, second = (boto3.session.Session()._session.get_component("data_loader") for _ in "ab")
        assert first is second  # one loader: the service files are read once
    finally:
        botocore.session.create_loader = real
