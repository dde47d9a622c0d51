"""Settings: the spec's defaults, typed parsing, and one-line errors that never leak secrets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autodev.config import ConfigError, ModelProvider, load_settings

# Every setting under test, with a value other than its default; each test starts without any.
SAMPLE_VALUES = {
    "ORCHESTRATOR_MAX_INSTANCES": "9",
    "ORCHESTRATOR_TIMEOUT": "60000",
    "CONVERSATION_MAX_TOKENS": "2000",
    "CONVERSATION_SUMMARY_THRESHOLD": "1000",
    "ALERT_ERROR_RATE_THRESHOLD": "0.25",
    "ALERT_COOLDOWN": "1000",
    "ALERT_CHANNEL": "#ops",
    "DATABASE_URL": "postgresql://u:p@db/x",
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": "shh",
    "ANTHROPIC_API_KEY": "sk-ant-1",
    "AUTODEV_MODEL_PROVIDER": "bedrock",
    "AUTODEV_MODEL": "claude-test",
    "AUTODEV_STATE_DIR": "/tmp/state",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*SAMPLE_VALUES, "APPROVERS", "AUTODEV_PULL_REQUEST_DRAFT"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_specs() -> None:
    settings = load_settings()
    assert settings.orchestrator_max_instances == 5
    assert settings.orchestrator_timeout == 1_800_000
    assert settings.orchestrator_timeout_seconds == 1800
    assert settings.conversation_max_tokens == 100_000
    assert settings.conversation_summary_threshold == 50_000
    assert settings.alert_error_rate_threshold == 0.1
    assert settings.alert_cooldown == 300_000
    assert settings.alert_channel == "#dev-alerts"
    assert settings.database_url is None
    assert settings.autodev_state_dir == Path(".autodev")


def test_every_setting_reads_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SAMPLE_VALUES.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.orchestrator_max_instances == 9
    assert settings.orchestrator_timeout == 60_000
    assert settings.conversation_max_tokens == 2000
    assert settings.conversation_summary_threshold == 1000
    assert settings.alert_error_rate_threshold == 0.25
    assert settings.alert_cooldown_seconds == 1.0
    assert settings.alert_channel == "#ops"
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://u:p@db/x"
    assert settings.slack_bot_token is not None
    assert settings.slack_signing_secret is not None
    assert settings.model_provider is ModelProvider.BEDROCK
    assert settings.autodev_model == "claude-test"
    assert settings.autodev_state_dir == Path("/tmp/state")


def test_names_match_in_any_case_lists_split_on_commas_and_arguments_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("alert_channel", "#lower")
    monkeypatch.setenv("APPROVERS", " U1, U2 ,,arn:aws:iam::123456789012:user/ops ")
    monkeypatch.setenv("AUTODEV_PULL_REQUEST_DRAFT", "false")
    monkeypatch.setenv("ORCHESTRATOR_MAX_INSTANCES", "9")
    monkeypatch.setenv("NOT_A_SETTING", "ignored")
    settings = load_settings(orchestrator_max_instances=3)
    assert settings.alert_channel == "#lower"
    assert settings.approvers == ("U1", "U2", "arn:aws:iam::123456789012:user/ops")
    assert settings.autodev_pull_request_draft is False
    assert settings.orchestrator_max_instances == 3  # the argument, not the environment
    assert not hasattr(settings, "not_a_setting")


def test_provider_defaults_to_scripted_without_a_key_and_anthropic_with_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().model_provider is ModelProvider.SCRIPTED
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    assert load_settings().model_provider is ModelProvider.ANTHROPIC


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ORCHESTRATOR_MAX_INSTANCES", "abc", "a whole number from 1 to 1000"),
        ("ORCHESTRATOR_MAX_INSTANCES", "0", "a whole number from 1 to 1000"),
        ("ORCHESTRATOR_TIMEOUT", "-5", "milliseconds above 0"),
        ("ALERT_ERROR_RATE_THRESHOLD", "1.5", "a number from 0 to 1"),
        ("ALERT_COOLDOWN", "soon", "milliseconds, 0 or more"),
        ("AUTODEV_MODEL_PROVIDER", "openai", "one of anthropic, bedrock, scripted"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_form(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"{name} is not valid")
    assert expected in message
    assert "\n" not in message


def test_secrets_are_not_echoed_in_errors_or_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret-value")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-very-secret")
    settings = load_settings()
    assert "very-secret" not in repr(settings)
    assert "very-secret" not in str(settings.model_dump())


def test_a_bad_value_stops_the_cli_with_one_line_and_no_secret(tmp_path: Path) -> None:
    # A subprocess, so the real entry point's exit path is exercised; it opens no socket
    # because settings are validated before anything connects.
    env = {
        "PATH": "/usr/bin:/bin",
        "ORCHESTRATOR_MAX_INSTANCES": "abc",
        "SLACK_SIGNING_SECRET": "topsecret-signing",
        "AUTODEV_STATE_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "autodev.cli", "migrate", "status"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert lines == [
        "autodev: ORCHESTRATOR_MAX_INSTANCES is not valid (got 'abc'): "
        "expected a whole number from 1 to 1000"
    ]
    assert "topsecret" not in done.stdout + done.stderr


def test_secrets_named_by_arn_are_read_into_settings_not_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    import boto3
    from moto import mock_aws

    from autodev.config import with_secrets_from_arns

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="autodev/test/anthropic", SecretString="sk-ant-from-secrets-manager"
        )["ARN"]
        settings = with_secrets_from_arns(load_settings(), {"ANTHROPIC_API_KEY_ARN": arn})
    assert settings.anthropic_api_key is not None
    assert settings.anthropic_api_key.get_secret_value() == "sk-ant-from-secrets-manager"
    assert settings.model_provider is ModelProvider.ANTHROPIC
    assert "sk-ant-from-secrets-manager" not in os.environ.values()
    # Without an ARN nothing is looked up and the settings are returned as they are.
    plain = load_settings()
    assert with_secrets_from_arns(plain, {}) is plain
