"""Repositories without a database or a network: addresses, redaction, secret ARNs, branch
safety, the templates' repository fields, Slack's ``/workflow repos`` and result message,
and the pull request's report."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from autodev.callbacks.slack_message import OPEN_DIFF, OPEN_PULL_REQUEST, result_blocks
from autodev.errors import InvalidInput
from autodev.repos.checkout import UnsafeBranch, _check_branch
from autodev.repos.credentials import GitCredential, check_secret_arn
from autodev.repos.git import Git
from autodev.repos.report import WorkflowReport, body, title
from autodev.repos.urls import parse_address, redact
from autodev.slack.commands import Action, UsageError, parse
from autodev.workflows.catalog import list_templates

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:autodev/dev/repositories/app-AbCdEf"


@pytest.mark.parametrize(
    ("url", "provider", "project", "api"),
    [
        ("https://github.com/acme/app.git", "github", "acme/app", "https://api.github.com"),
        (
            "https://github.acme.com/team/app",
            "github",
            "team/app",
            "https://github.acme.com/api/v3",
        ),
        ("https://gitlab.com/acme/sub/app.git", "gitlab", "acme/sub/app", "https://gitlab.com"),
        ("https://gitlab.acme.com/acme/app", "gitlab", "acme/app", "https://gitlab.acme.com"),
        ("https://code.acme.com/acme/app.git", None, "acme/app", None),
        ("http://127.0.0.1:8080/acme/app.git", None, "acme/app", None),
    ],
)
def test_an_address_tells_its_host(
    url: str, provider: str | None, project: str, api: str | None
) -> None:
    address = parse_address(url, "app")
    assert (address.provider, address.project, address.api_url) == (provider, project, api)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("git@github.com:acme/app.git", "is an SSH address"),
        ("ssh://git@github.com/acme/app.git", "is an SSH address"),
        ("https://x-access-token:ghp_secret@github.com/acme/app", "carries credentials"),
        ("http://github.com/acme/app", "plain http"),
        ("https://github.com/app", "names no repository"),
        ("ftp://example.com/acme/app", "is not a repository address"),
        ("/nonexistent/repository.git", "is not a directory"),
    ],
)
def test_a_bad_address_is_refused_saying_what_to_give(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        parse_address(url, "app")
    assert "ghp_secret" not in str(refused.value)


def test_a_local_address_must_be_a_git_repository(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="is not a git repository"):
        parse_address(str(tmp_path), "app")
    for part in ("objects", "refs"):
        (tmp_path / part).mkdir()
    (tmp_path / "HEAD").write_text("ref: refs/heads/main\n")
    address = parse_address(f"file://{tmp_path}", "app")
    assert (address.provider, address.project, address.url) == (
        "local",
        "local/app",
        f"file://{tmp_path}",
    )


def test_credentials_are_stripped_from_anything_git_or_a_host_says() -> None:
    token = "tok-3f9a1c"
    text = (
        f"fatal: unable to access 'https://x-access-token:{token}@github.com/a/b.git/': 403\n"
        "Authorization: Bearer ghp_abcdefghijklmnopqrstuvwxyz012345\n"
        f"password={token} glpat-abcdefghijklmnopqrstu"
    )
    cleaned = redact(text, (token,))
    assert token not in cleaned
    assert "ghp_" not in cleaned
    assert "glpat-" not in cleaned
    assert "https://***@github.com/a/b.git/" in cleaned


def test_git_s_error_names_the_repository_and_a_refused_credential_is_not_retried(
    tmp_path: Path,
) -> None:
    git = Git("app", scratch=tmp_path, credential=GitCredential("x", SecretStr("tok-55")))
    refused = git.failure(
        "pushing autodev/x", "remote: denied tok-55\nfatal: Authentication failed for 'https://h/a'"
    )
    assert str(refused).startswith("repository app: pushing autodev/x failed: ")
    assert "tok-55" not in str(refused)
    assert refused.retryable is False
    unreachable = git.failure("fetching", "fatal: unable to access: Could not resolve host: h")
    assert unreachable.retryable is True


def test_a_secret_arn_is_checked_and_must_be_under_the_prefix_workers_may_read() -> None:
    assert check_secret_arn(ARN, "autodev/dev/repositories/") == ARN
    assert check_secret_arn(ARN, None) == ARN
    with pytest.raises(InvalidInput, match="must start with 'autodev/prod/repositories/'"):
        check_secret_arn(ARN, "autodev/prod/repositories/")
    with pytest.raises(InvalidInput, match="is not a Secrets Manager secret ARN"):
        check_secret_arn("ghp_not_an_arn", None)


@pytest.mark.parametrize("branch", ["main", "release/1.0", "refs/heads/autodev", "autodevx/a"])
def test_nothing_outside_autodev_is_ever_pushed(branch: str) -> None:
    with pytest.raises(UnsafeBranch):
        _check_branch(branch)
    assert _check_branch("autodev/bug-fix/1a2b3c4d") == "autodev/bug-fix/1a2b3c4d"


def test_every_template_takes_a_repository_and_a_ref() -> None:
    for info in list_templates():
        accepted = info.validate_input({**info.example_input, "repo": "app", "ref": "develop"})
        assert (accepted["repo"], accepted["ref"]) == ("app", "develop")
        with pytest.raises(InvalidInput, match="at repo"):
            info.validate_input({**info.example_input, "repo": "Not A Name"})


def test_slash_workflow_repos_lists_the_repositories() -> None:
    assert parse("/workflow", "repos").action is Action.REPOS
    with pytest.raises(UsageError, match="takes no arguments"):
        parse("/workflow", "repos app")
    started = parse("/workflow", "start bug-fix repo=app ref=develop NPE on insert")
    assert started.input == {"repo": "app", "ref": "develop", "request": "NPE on insert"}


def test_the_result_message_links_the_pull_request_and_the_diff_and_shows_conflicts() -> None:
    envelope = {
        "data": {
            "status": "succeeded",
            "target_id": "wf-1",
            "target_kind": "workflow",
            "result_id": "r-1",
            "result": {
                "template": "bug-fix",
                "summary": "fixed",
                "branch": "autodev/bug-fix/1a2b3c4d",
                "pull_request_url": "https://github.com/acme/app/pull/7",
                "diff_url": "https://github.com/acme/app/pull/7/files",
                "conflicts": [
                    {"step": "Implement fix #2", "branch": "autodev/x-item-2", "files": ["a.cls"]}
                ],
            },
        }
    }
    _, blocks = result_blocks(envelope)
    buttons = {
        element["action_id"]: element.get("url")
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    }
    assert buttons[OPEN_PULL_REQUEST] == "https://github.com/acme/app/pull/7"
    assert buttons[OPEN_DIFF] == "https://github.com/acme/app/pull/7/files"
    context = " ".join(
        element["text"]
        for block in blocks
        if block["type"] == "context"
        for element in block["elements"]
    )
    assert "Branch: `autodev/bug-fix/1a2b3c4d`" in context
    assert "Implement fix #2 conflicts in `a.cls`" in context


def test_the_pull_request_carries_the_report_and_links_the_execution() -> None:
    report = WorkflowReport(
        workflow_id="00000000-0000-0000-0000-000000000001",
        template_title="Bug fix",
        execution_name="bug-fix-00000000",
        execution_url="https://console.example/states/bug-fix-00000000",
        requested_by="U0CAROL",
        request="AccountTrigger throws on bulk insert",
        summary='Verification passed.\n\n```json\n{"passed": true}\n```',
        steps=[("Implement the fix", "Fixed the trigger.\nmore"), ("Verify the fix", "Passed.")],
    )
    assert title(report) == "[autodev] Bug fix: AccountTrigger throws on bulk insert"
    text = body(
        report,
        repository="app",
        ref="main",
        base_commit="0123456789abcdef",
        conflicts=[{"step": "Implement fix #2", "branch": "autodev/x-item-2", "files": ["a.cls"]}],
    )
    assert "Verification passed." in text
    assert '"passed"' not in text  # the JSON block is for the workflow, not for people
    assert "- **Implement the fix**: Fixed the trigger." in text
    assert "([execution](https://console.example/states/bug-fix-00000000))" in text
    assert "Slack thread: none" in text
    assert "Requested by: U0CAROL" in text
    assert "its changes are on `autodev/x-item-2`" in text


def test_workflow_result_names_the_branch_the_pull_request_and_the_diff(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from autodev.cli.workflow import _print_changes

    _print_changes(
        {
            "repository": "app",
            "branch": "autodev/bug-fix/1a2b3c4d",
            "pull_request_url": "https://github.com/acme/app/pull/7",
            "diff_url": "https://github.com/acme/app/pull/7/files",
            "conflicts": [{"step": "Implement fix #2", "branch": "b2", "files": ["a.cls"]}],
        }
    )
    printed = capsys.readouterr().out
    assert "branch:        autodev/bug-fix/1a2b3c4d" in printed
    assert "pull request:  https://github.com/acme/app/pull/7" in printed
    assert "diff:          https://github.com/acme/app/pull/7/files" in printed
    assert "not merged:    Implement fix #2 conflicts in a.cls; its changes are on b2" in printed
