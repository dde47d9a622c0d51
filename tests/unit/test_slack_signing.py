"""Slack's secrets come from the environment or, in AWS, from the secret an ARN names."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from autodev.slack import signing


@pytest.fixture(autouse=True)
def _aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AUTODEV_STATE_DIR", str(tmp_path))


def test_secrets_named_by_arn_are_read_plain_or_from_one_json_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with mock_aws():
        manager = boto3.client("secretsmanager", region_name="us-east-1")
        plain = manager.create_secret(Name="autodev/test/signing", SecretString="plain-signing")
        both = manager.create_secret(
            Name="autodev/test/slack",
            SecretString=json.dumps({"signing_secret": "json-signing", "bot_token": "xoxb-json"}),
        )
        monkeypatch.setenv("SLACK_SIGNING_SECRET_ARN", plain["ARN"])
        monkeypatch.setenv("SLACK_BOT_TOKEN_ARN", both["ARN"])
        assert signing.signing_secret() == "plain-signing"
        assert signing.bot_token() == "xoxb-json"
        monkeypatch.setenv("SLACK_SIGNING_SECRET_ARN", both["ARN"])
        assert signing.signing_secret() == "json-signing"


def test_the_environment_wins_and_nothing_configured_means_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLACK_SIGNING_SECRET_ARN", raising=False)
    monkeypatch.delenv("SLACK_BOT_TOKEN_ARN", raising=False)
    assert signing.signing_secret() is None
    assert signing.bot_token() is None
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "from-env")
    monkeypatch.setenv("SLACK_SIGNING_SECRET_ARN", "arn:aws:secretsmanager:never-read")
    assert signing.signing_secret() == "from-env"
