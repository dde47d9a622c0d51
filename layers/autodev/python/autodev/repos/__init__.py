"""Repositories in, pull requests out.

Repositories are registered by name (``registry``; ``autodev repo add|list|remove``,
``/workflow repos``). A workflow names one with ``repo`` and a ``ref`` (else the default and
its branch), checked before anything starts (``runs.plan``). Each agent step's worker clones
the step's starting point into the workspace and, after the agent exits, commits and pushes
its changes to the workflow's branch ``autodev/<template>/<short id>`` (``checkout``); Map
iterations merge into it, a conflict is reported. When the workflow ends having changed
files, a pull request is opened on the repository's host (``hosts``: GitHub through
PyGithub, GitLab through python-gitlab), whose link goes into the workflow's result.

Credentials: only the ARN of a Secrets Manager secret is stored (``credentials``); the worker
gives the token to git through a credential helper on its own command lines (``git``), never
to the agent.
"""

from autodev.repos.models import (
    BRANCH_PREFIX,
    Conflict,
    PullRequest,
    Repository,
    RepositoryError,
    RepositoryTooLarge,
    WorkflowRepository,
)
from autodev.repos.registry import (
    add_repository,
    default_repository,
    get_repository,
    list_repositories,
    remove_repository,
)
from autodev.repos.report import WorkflowReport
from autodev.repos.runs import (
    Plan,
    attach,
    links,
    open_pull_request,
    plan,
    propose,
    workflow_branch,
    workflow_repository,
)

__all__ = [
    "BRANCH_PREFIX",
    "Conflict",
    "Plan",
    "PullRequest",
    "Repository",
    "RepositoryError",
    "RepositoryTooLarge",
    "WorkflowReport",
    "WorkflowRepository",
    "add_repository",
    "attach",
    "default_repository",
    "get_repository",
    "links",
    "list_repositories",
    "open_pull_request",
    "plan",
    "propose",
    "remove_repository",
    "workflow_branch",
    "workflow_repository",
]
