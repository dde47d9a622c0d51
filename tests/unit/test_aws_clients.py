"""autodev.aws: cached clients that follow the environment, sharing botocore's loaded data."""

from __future__ import annotations

import pytest

from autodev import aws


@pytest.fixture(autouse=True)
def _environment(fake_aws_env: pytest.MonkeyPatch) -> None:
    fake_aws_env.setenv("AWS_REGION", "eu-west-1")


def test_a_client_is_made_once_and_anew_after_the_environment_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4001")
    first = aws.client("sqs")
    assert aws.client("sqs") is first
    assert first.meta.endpoint_url == "http://127.0.0.1:4001"
    assert first.meta.region_name == "eu-west-1"

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4002")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "other")
    aws.reset_clients()
    second = aws.client("sqs")
    assert second is not first
    assert second.meta.endpoint_url == "http://127.0.0.1:4002"
    assert second._request_signer._credentials.access_key == "other"


def test_clients_share_the_data_botocore_loads() -> None:
    # Each client's session would otherwise read and parse the endpoints and models again.
    assert aws.client("sqs")._loader is aws.probe_client("lambda")._loader
    aws.reset_clients()
    assert aws.client("sqs")._loader is aws.probe_client("sqs")._loader
