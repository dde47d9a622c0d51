"""What the repository registry holds and what a workflow's repository record says.

Plain frozen dataclasses, safe to show: a repository carries the ARN of its credentials
secret, never a token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from autodev.errors import AutodevError

Provider = Literal["github", "gitlab", "local"]
PROVIDERS: tuple[Provider, ...] = ("github", "gitlab", "local")
# Every branch autodev writes starts with this; nothing else is ever pushed.
BRANCH_PREFIX = "autodev/"
# The repository AUTODEV_SFDX_REPO names, when set and no repository is registered as default.
ENV_DEFAULT_NAME = "default"


class RepositoryError(AutodevError):
    """A git or host operation on a repository failed; the message names the repository and
    carries git's (or the host's) own words, with any credential stripped."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class RepositoryTooLarge(RepositoryError):
    """The checkout passed AUTODEV_REPO_MAX_MB."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass(frozen=True)
class Repository:
    """A registered repository (or the one AUTODEV_SFDX_REPO names)."""

    name: str
    url: str
    default_branch: str
    provider: Provider
    project: str  # owner/name on the host (GitLab: group/subgroup/name); local/<name> if local
    credentials_secret_arn: str | None = None
    api_url: str | None = None  # None: the host's own (github.com's, GHE's /api/v3, GitLab's)
    is_default: bool = False
    added_by: str = ""
    added_at: datetime | None = None
    from_environment: bool = False  # AUTODEV_SFDX_REPO, not a registration

    @property
    def is_local(self) -> bool:
        return self.provider == "local"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "default_branch": self.default_branch,
            "provider": self.provider,
            "project": self.project,
            "credentials_secret_arn": self.credentials_secret_arn,
            "api_url": self.api_url,
            "is_default": self.is_default,
            "from_environment": self.from_environment,
        }


@dataclass(frozen=True)
class Conflict:
    """Changes of one step (a Map iteration) that could not be merged into the workflow's
    branch; they stay on their own branch for a person to merge."""

    step: str
    branch: str
    files: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "branch": self.branch, "files": list(self.files)}


@dataclass(frozen=True)
class WorkflowRepository:
    """The repository a workflow works on, as registered when it started, and where it got."""

    workflow_id: str
    repository: Repository
    ref: str  # as asked: a branch, tag or commit
    base_branch: str  # the pull request's base
    base_commit: str  # what ``ref`` resolved to at the start
    branch: str  # autodev/<template>/<short id>
    template: str
    requested_by: str
    head_commit: str | None = None
    conflicts: tuple[Conflict, ...] = field(default=())
    pull_request_url: str | None = None
    pull_request_number: int | None = None
    pull_request_error: str | None = None

    @property
    def changed(self) -> bool:
        """Whether any step pushed changes to the workflow's branch."""
        return self.head_commit is not None and self.head_commit != self.base_commit


@dataclass(frozen=True)
class ResolvedRef:
    """What a ref named when it was looked up."""

    commit: str
    is_branch: bool


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str  # the page a person opens
    diff_url: str  # the page of its changes
    head: str
    base: str
    draft: bool
