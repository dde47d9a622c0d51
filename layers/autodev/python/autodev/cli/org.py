"""`autodev org add|list`: the Salesforce orgs the tool steps deploy to and test in."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer

from autodev.cli.output import console, print_table
from autodev.config import settings_or_exit

org_app = typer.Typer(
    help="Register the Salesforce orgs workflows deploy to and run Apex tests in.",
    no_args_is_help=True,
)


def _ready() -> None:
    settings_or_exit()
    from autodev.local import activate

    activate()


@org_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="The name workflows use (target_org=NAME).")],
    auth_url_secret: Annotated[
        str,
        typer.Option(
            "--auth-url-secret",
            help="The ARN of the Secrets Manager secret holding the org's SFDX auth URL "
            "(never the URL itself).",
        ),
    ],
) -> None:
    """Register an org by name (again: point it at another secret)."""
    _ready()
    from autodev.salesforce.orgs import add_org

    me = os.environ.get("AUTODEV_USER") or f"cli:{getpass.getuser()}"
    org = add_org(name, auth_url_secret, added_by=me)
    console.print(
        f"registered org {org.name}: auth URL in {org.auth_url_secret}",
        markup=False,
        emoji=False,
        soft_wrap=True,
    )


@org_app.command("list")
def list_command() -> None:
    """List the registered orgs (the secrets' ARNs, never their values)."""
    _ready()
    from autodev.salesforce.orgs import list_orgs

    found = list_orgs()
    print_table(
        "Salesforce orgs",
        ("name", "auth URL secret", "added by", "added"),
        ((o.name, o.auth_url_secret, o.added_by, o.added_at.isoformat()) for o in found),
    )
    if not found:
        console.print("none registered (autodev org add NAME --auth-url-secret ARN)")


def register(app: typer.Typer) -> None:
    app.add_typer(org_app, name="org")
