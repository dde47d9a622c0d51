"""The repositories registered by name (table ``repositories``, which this package alone
reads and writes), and the default one.

The default is the repository registered with ``--default``; without one, the git repository
``AUTODEV_SFDX_REPO`` names (an https URL or a local repository), under the name
``default``. When neither exists, workspaces are copies of a plain directory as before (see
``autodev.orchestrator.workspace``) and nothing is pushed.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg

from autodev.config import get_settings
from autodev.db import in_transaction
from autodev.errors import InvalidInput, NotFound
from autodev.repos.credentials import check_secret_arn
from autodev.repos.models import ENV_DEFAULT_NAME, PROVIDERS, Provider, Repository
from autodev.repos.urls import (
    Address,
    default_api_url,
    is_git_repository,
    local_path,
    parse_address,
)

Conn = psycopg.Connection[Any]
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_BRANCH = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)[A-Za-z0-9._/-]{1,200}(?<!/)(?<!\.lock)$")


def check_branch_name(branch: str, what: str = "branch") -> str:
    branch = branch.strip()
    if not _BRANCH.match(branch) or branch.startswith("-"):
        raise InvalidInput(f"{branch[:60]!r} is not a valid {what} name")
    return branch


def _row(row: Mapping[str, Any]) -> Repository:
    return Repository(
        name=str(row["name"]),
        url=str(row["url"]),
        default_branch=str(row["default_branch"]),
        provider=row["provider"],
        project=str(row["project"]),
        credentials_secret_arn=row["credentials_secret_arn"],
        api_url=row["api_url"],
        is_default=bool(row["is_default"]),
        added_by=str(row["added_by"]),
        added_at=row["added_at"],
    )


def environment_default() -> Repository | None:
    """The repository AUTODEV_SFDX_REPO names, when it is a git repository."""
    source = get_settings().autodev_sfdx_repo
    if not source:
        return None
    path = local_path(source)
    if path is not None and not (path.is_dir() and is_git_repository(path.resolve())):
        return None  # a plain directory: copied into workspaces, not a repository to push to
    try:
        address = parse_address(source, ENV_DEFAULT_NAME)
    except InvalidInput as error:
        raise InvalidInput(f"AUTODEV_SFDX_REPO: {error}") from None
    if address.provider is None:
        raise InvalidInput(
            f"AUTODEV_SFDX_REPO: cannot tell whether {address.host} is GitHub or GitLab; "
            "register it with `autodev repo add NAME URL --provider github|gitlab --default`"
        )
    branch = "main"
    if path is not None:
        branch = _local_head_branch(path.resolve()) or branch
    return Repository(
        name=ENV_DEFAULT_NAME,
        url=address.url,
        default_branch=branch,
        provider=address.provider,
        project=address.project,
        api_url=address.api_url,
        is_default=True,
        added_by="AUTODEV_SFDX_REPO",
        from_environment=True,
    )


def _local_head_branch(path: Path) -> str | None:
    head = path / "HEAD" if (path / "HEAD").is_file() else path / ".git" / "HEAD"
    try:
        text = head.read_text().strip()
    except OSError:
        return None
    return text.removeprefix("ref: refs/heads/") if text.startswith("ref: refs/heads/") else None


def list_repositories(*, conn: Conn | None = None) -> list[Repository]:
    """The registered repositories by name, and AUTODEV_SFDX_REPO's when it is the default."""
    with in_transaction(conn) as tx:
        rows = tx.execute("SELECT * FROM repositories ORDER BY name").fetchall()
    found = [_row(row) for row in rows]
    if not any(repo.is_default for repo in found):
        try:
            env = environment_default()
        except InvalidInput:
            env = None
        if env is not None:
            found.append(env)
    return found


def known_names(conn: Conn | None = None) -> str:
    names = [repo.name for repo in list_repositories(conn=conn)]
    return ", ".join(names) if names else "none is registered (autodev repo add NAME URL)"


def get_repository(name: str, *, conn: Conn | None = None) -> Repository:
    """The repository called ``name``; NotFound lists the known ones."""
    with in_transaction(conn, autocommit=True) as tx:  # reads: no transaction needed
        row = tx.execute("SELECT * FROM repositories WHERE name = %s", (name,)).fetchone()
        if row is not None:
            return _row(row)
        if name == ENV_DEFAULT_NAME:
            env = environment_default()
            if env is not None:
                return env
        known = known_names(tx)
    raise NotFound(f"no repository {name[:60]!r}; the repositories are: {known}")


def default_repository(*, conn: Conn | None = None) -> Repository | None:
    """The registered default, else AUTODEV_SFDX_REPO's repository, else None."""
    with in_transaction(conn, autocommit=True) as tx:
        row = tx.execute("SELECT * FROM repositories WHERE is_default").fetchone()
    if row is not None:
        return _row(row)
    return environment_default()


def add_repository(
    name: str,
    url: str,
    *,
    added_by: str,
    branch: str = "main",
    credentials: str | None = None,
    provider: str | None = None,
    api_url: str | None = None,
    default: bool = False,
    check: bool = True,
) -> Repository:
    """Register a repository. With ``check`` its branch is looked up on the host first (so
    the address, the credentials and the branch are known to work); nothing is recorded when
    any of it fails."""
    name = name.strip()
    if not _NAME.match(name):
        raise InvalidInput(
            f"{name[:60]!r} is not a repository name: lower-case letters, digits, '.', '_' "
            "and '-', starting with a letter or digit"
        )
    if name == ENV_DEFAULT_NAME:
        raise InvalidInput(f"the name {ENV_DEFAULT_NAME!r} is kept for AUTODEV_SFDX_REPO")
    branch = check_branch_name(branch)
    address = parse_address(url, name)
    kind = _provider(address, provider)
    if api_url is not None and not re.match(r"^https?://\S+$", api_url):
        raise InvalidInput(f"--api-url {api_url!r} is not an http(s) URL")
    if address.is_local and credentials:
        raise InvalidInput("a local repository takes no --credentials")
    arn = (
        check_secret_arn(credentials, get_settings().autodev_repo_secret_prefix)
        if credentials
        else None
    )
    repository = Repository(
        name=name,
        url=address.url,
        default_branch=branch,
        provider=kind,
        project=address.project,
        credentials_secret_arn=arn,
        api_url=api_url or address.api_url or default_api_url(address, kind),
        is_default=default,
        added_by=added_by,
    )
    if check:
        from autodev.repos.refs import resolve_ref

        with tempfile.TemporaryDirectory(prefix="autodev-repo-") as scratch:
            if resolve_ref(repository, branch, Path(scratch)) is None:
                raise InvalidInput(f"repository {name} has no branch {branch!r}")
    with in_transaction() as tx:
        if tx.execute("SELECT 1 FROM repositories WHERE name = %s", (name,)).fetchone():
            raise InvalidInput(
                f"repository {name} is registered already (autodev repo remove {name} first)"
            )
        if default:
            tx.execute("UPDATE repositories SET is_default = false WHERE is_default")
        row = tx.execute(
            """INSERT INTO repositories (name, url, default_branch, credentials_secret_arn,
                   provider, api_url, project, is_default, added_by)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *""",
            (
                name,
                repository.url,
                branch,
                arn,
                kind,
                repository.api_url,
                repository.project,
                default,
                added_by,
            ),
        ).fetchone()
        from autodev import audit

        audit.record(added_by, "repository.added", name, repository.to_json(), conn=tx)
    assert row is not None
    return _row(row)


def _provider(address: Address, given: str | None) -> Provider:
    if address.is_local:
        if given not in (None, "local"):
            raise InvalidInput("a local repository's provider is local")
        return "local"
    if given is not None:
        if given not in PROVIDERS or given == "local":
            raise InvalidInput(f"--provider must be github or gitlab, not {given!r}")
        return given
    if address.provider is None:
        raise InvalidInput(
            f"cannot tell whether {address.host} is GitHub or GitLab: say --provider github "
            "or --provider gitlab"
        )
    return address.provider


def remove_repository(name: str, *, removed_by: str) -> Repository:
    """Forget a repository; running workflows keep working on it (they hold a copy)."""
    with in_transaction() as tx:
        row = tx.execute("DELETE FROM repositories WHERE name = %s RETURNING *", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no repository {name[:60]!r}; the repositories are: {known_names(tx)}")
        from autodev import audit

        audit.record(removed_by, "repository.removed", name, {"url": row["url"]}, conn=tx)
    return _row(row)
