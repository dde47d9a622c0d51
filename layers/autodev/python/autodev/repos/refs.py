"""Resolving a ref (branch, tag or commit) of a repository before anything runs on it.

A local repository is asked with git; a hosted one through its host's API (so the process
that starts a workflow needs no git). Either way the answer is the commit and whether the ref
is a branch (a pull request's base must be one).
"""

from __future__ import annotations

from pathlib import Path

from autodev.repos import hosts
from autodev.repos.credentials import GitCredential, read_credential
from autodev.repos.git import resolve_local_ref
from autodev.repos.models import Repository, RepositoryError, ResolvedRef
from autodev.repos.urls import local_path


def credential_of(repository: Repository) -> GitCredential | None:
    if not repository.credentials_secret_arn:
        return None
    return read_credential(repository.credentials_secret_arn, repository.provider, repository.name)


def resolve(repository: Repository, ref: str, scratch: Path) -> ResolvedRef | None:
    """What ``ref`` names in ``repository``; None when it names nothing there."""
    path = local_path(repository.url) if repository.is_local else None
    if path is not None:
        if not path.is_dir():
            raise RepositoryError(
                f"repository {repository.name}: {path} is not there any more", retryable=False
            )
        return resolve_local_ref(path, ref, repository.name, scratch)
    host = hosts.host_for(repository, credential_of(repository))
    if host is None:
        raise RepositoryError(f"repository {repository.name} has no host API to ask")
    return host.resolve(ref)


def resolve_ref(repository: Repository, ref: str, scratch: Path) -> str | None:
    found = resolve(repository, ref, scratch)
    return found.commit if found else None
