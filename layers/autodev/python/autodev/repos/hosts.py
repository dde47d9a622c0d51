"""The repository's host, behind one small interface: resolve a ref, open a pull request.

GitHub (github.com and GitHub Enterprise Server) through PyGithub, GitLab (gitlab.com and
self-managed) through python-gitlab: maintained client libraries, not hand-written HTTP.
``AUTODEV_GIT_HOST_API_URL``, when set, is where every host call goes instead (the local
stack points it at its stand-in for the host's API, so the real clients run against it);
a local repository has a host only then.
"""

from __future__ import annotations

from typing import Any, Protocol

from autodev.config import get_settings
from autodev.errors import NotFound
from autodev.repos.credentials import GitCredential
from autodev.repos.models import PullRequest, Repository, RepositoryError, ResolvedRef
from autodev.repos.urls import redact

# The pull request is opened within the workflow's last state (60 s): bounded well below it.
_TIMEOUT_SECONDS = 10
_RETRIES = 1


class GitHost(Protocol):
    """What autodev asks of a repository's host."""

    def resolve(self, ref: str) -> ResolvedRef | None:
        """The commit a branch, tag or commit id names (and whether it is a branch); None
        when it names none."""
        ...

    def open_pull_request(
        self, *, head: str, base: str, title: str, body: str, draft: bool
    ) -> PullRequest:
        """Open a pull request from ``head`` into ``base``; the open one when it exists."""
        ...


def api_url(repository: Repository) -> str | None:
    """Where the host's API is for this repository (the override first)."""
    override = get_settings().autodev_git_host_api_url
    if override:
        base = override.rstrip("/")
        return f"{base}/api/v3" if repository.provider in ("github", "local") else base
    return repository.api_url


def host_for(repository: Repository, credential: GitCredential | None) -> GitHost | None:
    """The host of ``repository``; None when it has none (a local repository off the stack)."""
    base = api_url(repository)
    if base is None:
        return None
    if repository.provider == "gitlab":
        return GitLabHost(repository, base, credential)
    return GitHubHost(repository, base, credential)


def _explain(
    repository: Repository, what: str, error: Exception, token: str | None
) -> RepositoryError:
    status = getattr(error, "status", None) or getattr(error, "response_code", None)
    text = redact(str(error), (token,) if token else ())[:500]
    refused = status in (401, 403)
    return RepositoryError(
        f"repository {repository.name}: {what} failed at {repository.provider}"
        + (f" (HTTP {status})" if status else "")
        + f": {text}",
        retryable=not refused,
    )


class GitHubHost:
    def __init__(
        self, repository: Repository, base_url: str, credential: GitCredential | None
    ) -> None:
        from github import Auth, Github

        self.repository = repository
        self._token = credential.token.get_secret_value() if credential else None
        self._client = Github(
            base_url=base_url,
            auth=Auth.Token(self._token) if self._token else None,
            timeout=_TIMEOUT_SECONDS,
            retry=_RETRIES,
            seconds_between_requests=None,
            seconds_between_writes=None,
            lazy=True,  # no call until one is needed
        )
        self._repo = self._client.get_repo(repository.project)

    def resolve(self, ref: str) -> ResolvedRef | None:
        from github import GithubException, UnknownObjectException

        try:
            try:
                branch = self._repo.get_branch(ref).raw_data
                return ResolvedRef(str(branch["commit"]["sha"]), True)
            except UnknownObjectException:
                pass
            # raw_data fetches it: a lazy object's sha would be the ref itself, unchecked.
            return ResolvedRef(str(self._repo.get_commit(ref).raw_data["sha"]), False)
        except UnknownObjectException:
            return None
        except GithubException as error:
            if error.status == 422:  # "No commit found for SHA"
                return None
            raise _explain(self.repository, f"looking up {ref!r}", error, self._token) from None
        except Exception as error:  # unreachable host: requests' own errors
            raise _explain(self.repository, f"looking up {ref!r}", error, self._token) from None

    def open_pull_request(
        self, *, head: str, base: str, title: str, body: str, draft: bool
    ) -> PullRequest:
        from github import GithubException

        try:
            pull = self._repo.create_pull(base=base, head=head, title=title, body=body, draft=draft)
        except GithubException as error:
            if error.status != 422:
                raise _explain(
                    self.repository, "opening a pull request", error, self._token
                ) from None
            # 422: one is open already for this branch (a finish that ran twice).
            owner = self.repository.project.split("/", 1)[0]
            found = list(self._repo.get_pulls(state="open", head=f"{owner}:{head}", base=base))
            if not found:
                raise _explain(
                    self.repository, "opening a pull request", error, self._token
                ) from None
            pull = found[0]
            if (pull.body or "") != body:
                # Another run on the branch (a follow-up): its report is a comment, and the
                # description stays the first run's.
                pull.create_issue_comment(body)
        except Exception as error:
            raise _explain(self.repository, "opening a pull request", error, self._token) from None
        url = str(pull.html_url)
        return PullRequest(
            number=int(pull.number),
            url=url,
            diff_url=f"{url}/files",
            head=head,
            base=base,
            draft=bool(pull.draft),
        )


class GitLabHost:
    def __init__(
        self, repository: Repository, base_url: str, credential: GitCredential | None
    ) -> None:
        import gitlab

        self.repository = repository
        self._token = credential.token.get_secret_value() if credential else None
        self._client = gitlab.Gitlab(
            base_url,
            private_token=self._token,
            timeout=_TIMEOUT_SECONDS,
            # Its retries back off for minutes; a person or the next finish tries again.
            retry_transient_errors=False,
            keep_base_url=True,
        )
        self._project: Any = self._client.projects.get(repository.project, lazy=True)

    def resolve(self, ref: str) -> ResolvedRef | None:
        from gitlab.exceptions import GitlabGetError

        try:
            try:
                branch = self._project.branches.get(ref)
                return ResolvedRef(str(branch.commit["id"]), True)
            except GitlabGetError as error:
                if error.response_code != 404:
                    raise
            return ResolvedRef(str(self._project.commits.get(ref).id), False)
        except GitlabGetError as error:
            if error.response_code == 404:
                return None
            raise _explain(self.repository, f"looking up {ref!r}", error, self._token) from None
        except Exception as error:
            raise _explain(self.repository, f"looking up {ref!r}", error, self._token) from None

    def open_pull_request(
        self, *, head: str, base: str, title: str, body: str, draft: bool
    ) -> PullRequest:
        from gitlab.exceptions import GitlabCreateError

        fields = {
            "source_branch": head,
            "target_branch": base,
            # GitLab marks a merge request as a draft by its title.
            "title": f"Draft: {title}" if draft else title,
            "description": body,
        }
        try:
            request = self._project.mergerequests.create(fields)
        except GitlabCreateError as error:
            if error.response_code != 409:  # 409: one is open already for this branch
                raise _explain(
                    self.repository, "opening a merge request", error, self._token
                ) from None
            found = self._project.mergerequests.list(
                source_branch=head, target_branch=base, state="opened", get_all=False
            )
            if not found:
                raise _explain(
                    self.repository, "opening a merge request", error, self._token
                ) from None
            request = found[0]
            if (request.description or "") != body:
                request.notes.create({"body": body})  # another run on the branch, as above
        except Exception as error:
            raise _explain(self.repository, "opening a merge request", error, self._token) from None
        url = str(request.web_url)
        return PullRequest(
            number=int(request.iid),
            url=url,
            diff_url=f"{url}/diffs",
            head=head,
            base=base,
            draft=bool(getattr(request, "draft", draft)),
        )


def require_host(repository: Repository, credential: GitCredential | None) -> GitHost:
    host = host_for(repository, credential)
    if host is None:
        raise NotFound(
            f"repository {repository.name} has no host to open a pull request on "
            "(a local repository has one on the local stack: AUTODEV_GIT_HOST_API_URL)"
        )
    return host
