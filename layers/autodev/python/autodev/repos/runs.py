"""The repository of each workflow (table ``workflow_repositories``, this package's own):
chosen and checked when the workflow starts, pushed to by its steps, turned into a pull
request when it ends.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from autodev.db import in_transaction
from autodev.errors import InvalidInput
from autodev.observability import Metric, child_logger, count
from autodev.repos import hosts, refs, registry
from autodev.repos.models import (
    BRANCH_PREFIX,
    Conflict,
    PullRequest,
    Repository,
    RepositoryError,
    WorkflowRepository,
)
from autodev.repos.report import WorkflowReport
from autodev.repos.report import body as report_body
from autodev.repos.report import title as report_title
from autodev.repos.urls import redact

log = child_logger(__name__)
Conn = psycopg.Connection[Any]
SHORT_ID_LENGTH = 8


@dataclass(frozen=True)
class Plan:
    """The repository a workflow is about to start on, its ref checked."""

    repository: Repository
    ref: str
    base_branch: str
    base_commit: str
    # A run started on a workflow's branch (``ref=autodev/...``, a follow-up in its Slack
    # thread) goes on on that branch, and its pull request is that branch's.
    branch: str | None = None


def short_id(workflow_id: str) -> str:
    return uuid.UUID(str(workflow_id)).hex[:SHORT_ID_LENGTH]


def workflow_branch(template: str, workflow_id: str) -> str:
    """``autodev/<template>/<short id>``: the one branch a workflow's changes go to."""
    return f"{BRANCH_PREFIX}{template}/{short_id(workflow_id)}"


def plan(workflow_input: Mapping[str, Any]) -> Plan | None:
    """The repository and ref the input asks for (``repo``, ``ref``; else the default
    repository and its branch), checked before anything starts; None when the workflow works
    on a copy of a plain directory (no repository is registered or configured).

    InvalidInput names an unknown repository (with the known ones) or a ref it does not have.
    """
    name = workflow_input.get("repo")
    ref = workflow_input.get("ref")
    repository: Repository | None = (
        registry.get_repository(str(name)) if name is not None else registry.default_repository()
    )
    if repository is None:
        if ref is not None:
            raise InvalidInput(
                "`ref` needs a repository, and none is registered as the default: "
                "give `repo` (autodev repo list)"
            )
        return None
    ref = registry.check_branch_name(str(ref), "ref") if ref else repository.default_branch
    with tempfile.TemporaryDirectory(prefix="autodev-ref-") as scratch:
        found = refs.resolve(repository, ref, Path(scratch))
    if found is None:
        raise InvalidInput(f"repository {repository.name} has no branch, tag or commit {ref!r}")
    if found.is_branch and ref.startswith(BRANCH_PREFIX):
        earlier = _base_of_branch(repository.name, ref)
        return Plan(repository, ref, earlier or repository.default_branch, found.commit, ref)
    base = ref if found.is_branch else repository.default_branch
    return Plan(repository, ref, base, found.commit)


def _base_of_branch(repository: str, branch: str) -> str | None:
    """The branch the workflow that made ``branch`` started from (its pull request's base)."""
    with in_transaction(None) as conn:
        row = conn.execute(
            """SELECT base_branch FROM workflow_repositories
               WHERE repository = %s AND branch = %s ORDER BY created_at LIMIT 1""",
            (repository, branch),
        ).fetchone()
    return str(row["base_branch"]) if row is not None else None


def attach(
    conn: Conn, workflow_id: str, template: str, requested_by: str, planned: Plan
) -> WorkflowRepository:
    """Record the workflow's repository (a copy of its registration) and its branch."""
    repo = planned.repository
    branch = planned.branch or workflow_branch(template, workflow_id)
    conn.execute(
        """INSERT INTO workflow_repositories (workflow_id, repository, url,
               credentials_secret_arn, provider, api_url, project, ref, base_branch,
               base_commit, branch, template, requested_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            workflow_id,
            repo.name,
            repo.url,
            repo.credentials_secret_arn,
            repo.provider,
            repo.api_url,
            repo.project,
            planned.ref,
            planned.base_branch,
            planned.base_commit,
            branch,
            template,
            requested_by,
        ),
    )
    found = workflow_repository(workflow_id, conn=conn)
    assert found is not None
    return found


def _from_row(row: Mapping[str, Any]) -> WorkflowRepository:
    repository = Repository(
        name=str(row["repository"]),
        url=str(row["url"]),
        default_branch=str(row["base_branch"]),
        provider=row["provider"],
        project=str(row["project"]),
        credentials_secret_arn=row["credentials_secret_arn"],
        api_url=row["api_url"],
    )
    conflicts = row["conflicts"] or []
    if isinstance(conflicts, str):
        conflicts = json.loads(conflicts)
    return WorkflowRepository(
        workflow_id=str(row["workflow_id"]),
        repository=repository,
        ref=str(row["ref"]),
        base_branch=str(row["base_branch"]),
        base_commit=str(row["base_commit"]),
        branch=str(row["branch"]),
        template=str(row["template"]),
        requested_by=str(row["requested_by"]),
        head_commit=row["head_commit"],
        conflicts=tuple(
            Conflict(str(c["step"]), str(c["branch"]), tuple(c.get("files") or ()))
            for c in conflicts
        ),
        pull_request_url=row["pull_request_url"],
        pull_request_number=row["pull_request_number"],
        pull_request_error=row["pull_request_error"],
    )


def workflow_repository(workflow_id: str, *, conn: Conn | None = None) -> WorkflowRepository | None:
    """The workflow's repository record; None when it works on no repository."""
    with in_transaction(conn, autocommit=True) as tx:
        row = tx.execute(
            "SELECT * FROM workflow_repositories WHERE workflow_id = %s", (workflow_id,)
        ).fetchone()
    return _from_row(row) if row is not None else None


def record_push(workflow_id: str, commit: str) -> None:
    """The workflow's branch is at ``commit`` now (a worker pushed it)."""
    with in_transaction(autocommit=True) as tx:
        tx.execute(
            """UPDATE workflow_repositories SET head_commit = %s, pushed_at = now()
               WHERE workflow_id = %s""",
            (commit, workflow_id),
        )


def record_conflict(workflow_id: str, conflict: Conflict) -> None:
    with in_transaction() as tx:
        tx.execute(
            """UPDATE workflow_repositories SET conflicts = conflicts || %s
               WHERE workflow_id = %s""",
            (Jsonb([conflict.to_json()]), workflow_id),
        )


def compare_url(run: WorkflowRepository) -> str | None:
    """A page of the branch's changes on the host, when the host has pages."""
    repo = run.repository
    if repo.is_local:
        return None
    web = repo.url.removesuffix(".git")
    if repo.provider == "gitlab":
        return f"{web}/-/compare/{run.base_branch}...{run.branch}"
    return f"{web}/compare/{run.base_branch}...{run.branch}"


def links(workflow_id: str, *, conn: Conn | None = None) -> dict[str, Any]:
    """What a workflow's result says about its repository: the repository and ref, and when
    it changed files, the branch, the pull request and where to see the diff."""
    run = workflow_repository(workflow_id, conn=conn)
    if run is None:
        return {}
    found: dict[str, Any] = {"repository": run.repository.name, "ref": run.ref}
    if run.changed:
        found["branch"] = run.branch
        found["diff_url"] = compare_url(run)
    if run.pull_request_url:
        found["pull_request_url"] = run.pull_request_url
        found["diff_url"] = _pull_request_diff(run)
    if run.pull_request_error:
        found["pull_request_error"] = run.pull_request_error
    if run.conflicts:
        found["conflicts"] = [conflict.to_json() for conflict in run.conflicts]
    return found


def _pull_request_diff(run: WorkflowRepository) -> str:
    assert run.pull_request_url
    suffix = "/diffs" if run.repository.provider == "gitlab" else "/files"
    return run.pull_request_url + suffix


def open_pull_request(
    workflow_id: str, *, title: str, body: str, draft: bool
) -> PullRequest | str | None:
    """Open the pull request of a workflow that changed files: the pull request, or why it
    could not be opened (also recorded), or None when there is nothing to propose.

    Safe to call twice: the one already opened is returned.
    """
    run = workflow_repository(workflow_id)
    if run is None or not run.changed:
        return None
    if run.pull_request_url and run.pull_request_number is not None:
        return PullRequest(
            run.pull_request_number,
            run.pull_request_url,
            _pull_request_diff(run),
            run.branch,
            run.base_branch,
            draft,
        )
    try:
        host = hosts.require_host(run.repository, refs.credential_of(run.repository))
        opened = host.open_pull_request(
            head=run.branch, base=run.base_branch, title=title, body=body, draft=draft
        )
    except Exception as error:  # recorded and reported: the workflow's outcome stands
        reason = redact(
            str(error) if isinstance(error, RepositoryError) else f"{type(error).__name__}: {error}"
        )[:1000]
        log.warning("pull request not opened", extra={"workflow_id": workflow_id, "error": reason})
        count(Metric.PULL_REQUESTS_FAILED, provider=run.repository.provider)
        with in_transaction() as tx:
            tx.execute(
                "UPDATE workflow_repositories SET pull_request_error = %s WHERE workflow_id = %s",
                (reason, workflow_id),
            )
        return reason
    with in_transaction() as tx:
        tx.execute(
            """UPDATE workflow_repositories SET pull_request_url = %s,
                   pull_request_number = %s, pull_request_error = NULL
               WHERE workflow_id = %s""",
            (opened.url, opened.number, workflow_id),
        )
    return opened


def propose(report: WorkflowReport, *, draft: bool) -> PullRequest | str | None:
    """The pull request of a finished workflow that changed files, with the workflow's report
    as its body (see ``open_pull_request``)."""
    run = workflow_repository(report.workflow_id)
    if run is None or not run.changed:
        return None
    return open_pull_request(
        report.workflow_id,
        title=report_title(report),
        body=report_body(
            report,
            repository=run.repository.name,
            ref=run.ref,
            base_commit=run.base_commit,
            conflicts=[conflict.to_json() for conflict in run.conflicts],
        ),
        draft=draft,
    )
