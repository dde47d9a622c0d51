"""The stand-in git host opens a pull request only between branches its repository has.

Over loopback HTTP, as autodev's host clients call it (GitHub's and GitLab's REST shapes).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from autodev.local.git_host import LocalGitHost, read_git
from autodev.orchestrator.workspace import REPO_ROOT

PROJECT = "acme/app"


@pytest.fixture
def host(tmp_path: Path) -> Iterator[LocalGitHost]:
    with LocalGitHost(tmp_path / "host") as running:
        repository = running.create_repository(PROJECT, REPO_ROOT / "examples")
        read_git(repository, "branch", "fix/one", "main")
        # A branch under the one asked for is not that branch.
        read_git(repository, "branch", "feature/x", "main")
        yield running


def _post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - the loopback stand-in host
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _github(host: LocalGitHost, head: str, base: str) -> tuple[int, Any]:
    url = f"{host.url}/api/v3/repos/{PROJECT}/pulls"
    return _post(url, {"head": head, "base": base, "title": "t", "body": "b"})


def _gitlab(host: LocalGitHost, head: str, base: str) -> tuple[int, Any]:
    url = f"{host.url}/api/v4/projects/{quote(PROJECT, safe='')}/merge_requests"
    return _post(url, {"source_branch": head, "target_branch": base, "title": "t"})


def test_a_pull_request_names_the_branch_that_is_missing_and_records_nothing(
    host: LocalGitHost,
) -> None:
    for head, base, missing in (
        ("nope", "main", "nope"),
        ("fix/one", "gone", "gone"),
        ("feature", "main", "feature"),
        ("", "main", ""),
    ):
        status, body = _github(host, head, base)
        assert status == 422, body
        assert body["errors"][0]["message"] == f"no branch {missing!r}"
        status, body = _gitlab(host, head, base)
        assert (status, body["message"]) == (400, f"no branch {missing!r}")
    assert host.pull_requests == []


def test_a_pull_request_between_two_branches_is_opened_once(host: LocalGitHost) -> None:
    status, body = _github(host, "fix/one", "main")
    assert status == 201, body
    assert (body["head"]["ref"], body["base"]["ref"]) == ("fix/one", "main")
    assert _github(host, "fix/one", "main")[0] == 422
    assert _gitlab(host, "feature/x", "main")[0] == 201
    assert [(p["head"], p["base"]) for p in host.pull_requests] == [
        ("fix/one", "main"),
        ("feature/x", "main"),
    ]
