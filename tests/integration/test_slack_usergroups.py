"""APPROVER_GROUP through Slack's user-group API (slack_sdk against a Web API on loopback):
members count as approvers, the answer is cached briefly, a lookup that fails denies."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from autodev import access
from autodev.config import get_settings, load_settings
from autodev.slack import usergroups


class SlackUserGroups:
    """Answers usergroups.list and usergroups.users.list as Slack's Web API does."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.members = ["UMEMBER1", "UMEMBER2"]
        self.failing = False
        groups = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                del format, args

            def do_POST(self) -> None:
                method = self.path.rsplit("/", 1)[-1]
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                groups.calls.append(method)
                if groups.failing:
                    answer: dict[str, Any] = {"ok": False, "error": "missing_scope"}
                elif method == "usergroups.list":
                    answer = {
                        "ok": True,
                        "usergroups": [
                            {"id": "S0OTHER", "handle": "everyone"},
                            {"id": "S0RELEASE", "handle": "release-managers"},
                        ],
                    }
                elif method == "usergroups.users.list":
                    answer = {"ok": True, "users": list(groups.members)}
                else:
                    answer = {"ok": False, "error": "unknown_method"}
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def __enter__(self) -> SlackUserGroups:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def slack_groups(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackUserGroups]:
    with SlackUserGroups() as api:
        monkeypatch.setenv("SLACK_API_URL", api.url)
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-placeholder")
        monkeypatch.setenv("APPROVERS", "")
        monkeypatch.setenv("APPROVER_GROUP", "@release-managers")
        get_settings.cache_clear()
        usergroups.forget()
        access.register_group_resolver(None)  # Slack's user groups, as in AWS
        yield api
    usergroups.forget()
    get_settings.cache_clear()


def test_members_of_the_group_are_approvers_and_the_answer_is_cached(
    slack_groups: SlackUserGroups,
) -> None:
    assert access.is_approver("UMEMBER1")
    assert not access.is_approver("UOUTSIDER")
    assert access.is_approver("UMEMBER2")
    # One lookup of the handle, one of the members, for three questions.
    assert slack_groups.calls == ["usergroups.list", "usergroups.users.list"]
    # An IAM principal or a local login is never in a Slack group: Slack is not asked.
    assert not access.is_approver("arn:aws:iam::123456789012:user/alice")
    assert not access.is_approver("cli:alice")
    assert len(slack_groups.calls) == 2


def test_a_membership_change_counts_once_the_cache_expires(
    slack_groups: SlackUserGroups,
) -> None:
    now = [1000.0]
    assert usergroups.is_member("UMEMBER1", "S0RELEASE", clock=lambda: now[0])
    slack_groups.members = ["UMEMBER2"]  # removed from the group in Slack
    now[0] += usergroups.CACHE_SECONDS / 2
    assert usergroups.is_member("UMEMBER1", "S0RELEASE", clock=lambda: now[0])  # still cached
    now[0] += usergroups.CACHE_SECONDS
    assert not usergroups.is_member("UMEMBER1", "S0RELEASE", clock=lambda: now[0])
    # A group given by its id needs no handle lookup.
    assert slack_groups.calls == ["usergroups.users.list", "usergroups.users.list"]


def test_a_lookup_that_fails_denies(slack_groups: SlackUserGroups) -> None:
    slack_groups.failing = True
    settings = load_settings(approver_group="release-managers")
    assert not access.is_approver("UMEMBER1", settings)
    assert slack_groups.calls == ["usergroups.list"]
