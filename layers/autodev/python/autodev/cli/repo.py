"""`autodev repo add|list|remove`: the repositories workflows work on."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer

from autodev.cli.output import console, print_table
from autodev.config import settings_or_exit

repo_app = typer.Typer(
    help="Register the repositories workflows work on (and open pull requests for).",
    no_args_is_help=True,
)


def _ready() -> None:
    settings_or_exit()
    from autodev.local import activate

    activate()


def _me() -> str:
    return os.environ.get("AUTODEV_USER") or f"cli:{getpass.getuser()}"


@repo_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="A short name workflows use (repo=NAME).")],
    url: Annotated[
        str,
        typer.Argument(
            help="https://HOST/OWNER/NAME, or a local repository's path or file:// URL."
        ),
    ],
    branch: Annotated[
        str, typer.Option(help="The branch workflows start from and propose changes to.")
    ] = "main",
    credentials: Annotated[
        str | None,
        typer.Option(
            help="The ARN of the Secrets Manager secret holding the host token (never the token)."
        ),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option(
            help="github or gitlab, when the host's name does not say (GitHub Enterprise)."
        ),
    ] = None,
    api_url: Annotated[
        str | None, typer.Option(help="The host's API, when it is not at the usual place.")
    ] = None,
    default: Annotated[
        bool, typer.Option("--default", help="Workflows that name no repository use this one.")
    ] = False,
    check: Annotated[
        bool, typer.Option(help="Look the branch up on the host before registering.")
    ] = True,
) -> None:
    """Register a repository (its branch is looked up first, with its credentials)."""
    _ready()
    from autodev.repos import add_repository

    repo = add_repository(
        name,
        url,
        added_by=_me(),
        branch=branch,
        credentials=credentials,
        provider=provider,
        api_url=api_url,
        default=default,
        check=check,
    )
    console.print(
        f"registered {repo.name}: {repo.url} ({repo.provider}, branch {repo.default_branch})"
        + (" as the default" if repo.is_default else ""),
        markup=False,
        soft_wrap=True,
    )


@repo_app.command("list")
def list_command() -> None:
    """List the registered repositories (and AUTODEV_SFDX_REPO's, when it is the default)."""
    _ready()
    from autodev.repos import list_repositories

    found = list_repositories()
    print_table(
        "repositories",
        ("name", "url", "provider", "branch", "default", "credentials"),
        (
            (
                r.name,
                r.url,
                r.provider,
                r.default_branch,
                "yes (AUTODEV_SFDX_REPO)"
                if r.from_environment
                else ("yes" if r.is_default else ""),
                r.credentials_secret_arn or "",
            )
            for r in found
        ),
    )
    if not found:
        console.print(
            "none registered: workflows work on a copy of examples/ (autodev repo add NAME URL)"
        )


@repo_app.command("remove")
def remove_command(
    name: Annotated[str, typer.Argument(help="The repository's name.")],
) -> None:
    """Forget a repository (running workflows keep working on it)."""
    _ready()
    from autodev.repos import remove_repository

    removed = remove_repository(name, removed_by=_me())
    console.print(f"removed {removed.name} ({removed.url})", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(repo_app, name="repo")
