"""The Slack client needs a bot token and goes where SLACK_API_URL says; nothing else."""

from __future__ import annotations

import threading

import pytest

from autodev.errors import ConfigError
from autodev.slack import client


@pytest.fixture
def no_slack_settings(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN_ARN", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_a_bot_token_the_client_refuses_and_starts_nothing(
    no_slack_settings: pytest.MonkeyPatch,
) -> None:
    threads = set(threading.enumerate())
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        client.web_client()
    assert set(threading.enumerate()) == threads  # no sink, no server of any kind


def test_the_base_url_is_slacks_own_unless_slack_api_url_says_otherwise(
    no_slack_settings: pytest.MonkeyPatch,
) -> None:
    no_slack_settings.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    assert client.web_client().base_url == "https://slack.com/api/"
    no_slack_settings.setenv("SLACK_API_URL", "http://127.0.0.1:8123/api")
    web = client.web_client()
    assert web.base_url == "http://127.0.0.1:8123/api/"
    assert web.token == "xoxb-test"
