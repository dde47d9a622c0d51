"""Who may do what: approve deployments, cancel workflows.

An identity is a string, the same on every surface for one person: a Slack user id (``U...``)
for Slack; for the CLI in AWS the caller's IAM principal ARN (from STS GetCallerIdentity); for
the CLI on the local stack ``cli:<login>`` (the OS user, see :func:`os_user`).

- Approvers answer approvals: an identity listed in ``APPROVERS``, or a member of the Slack user
  group ``APPROVER_GROUP`` (resolved with Slack's ``usergroups.users.list``, cached briefly).
- A workflow may be cancelled by who requested it, by the approvers and by ``ADMINS``.

An entry of ``APPROVERS`` or ``ADMINS`` that ends in ``/*`` matches every identity it prefixes:
``arn:aws:sts::123456789012:assumed-role/ReleaseManagers/*`` is anyone who assumed that role.

In AWS these settings are the CDK app's, per environment (infra/settings.py), given to the
functions that decide; the CLI in AWS applies the deployed ones (``autodev.cli.identity``), never
its own environment's. The local stack makes the person who runs it an approver and an admin.
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable, Iterable

from autodev.config import Settings, get_settings
from autodev.observability import best_effort_failed, child_logger

log = child_logger(__name__)

# (identity, group) -> whether the identity is a member of the group.
GroupResolver = Callable[[str, str], bool]

_group_resolver: GroupResolver | None = None
# Slack user ids (an IAM principal or a cli:<login> is never in a Slack user group).
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


def register_group_resolver(resolver: GroupResolver | None) -> None:
    """Set how APPROVER_GROUP membership is checked (None: Slack's user groups again)."""
    global _group_resolver
    _group_resolver = resolver


def os_user() -> str:
    """The identity of the person running this process on their own machine: ``cli:<login>``."""
    return f"cli:{getpass.getuser()}"


def listed(identity: str, entries: Iterable[str]) -> bool:
    """Whether ``identity`` is one of ``entries`` (an entry ending in ``/*`` is a prefix)."""
    for entry in entries:
        if entry == identity or (entry.endswith("/*") and identity.startswith(entry[:-1])):
            return True
    return False


def _slack_group_member(identity: str, group: str) -> bool:
    if not _SLACK_USER.match(identity):
        return False
    from autodev.slack.usergroups import is_member

    return is_member(identity, group)


def is_approver(
    identity: str, settings: Settings | None = None, group_resolver: GroupResolver | None = None
) -> bool:
    """Whether ``identity`` may answer approvals."""
    settings = settings or get_settings()
    if listed(identity, settings.approvers):
        return True
    if not settings.approver_group:
        return False
    resolver = group_resolver or _group_resolver or _slack_group_member
    try:
        return bool(resolver(identity, settings.approver_group))
    except Exception:
        # Membership cannot be shown now: the answer is no, and the failure is counted.
        best_effort_failed("approver_group_check", log, user_id=identity)
    return False


def is_admin(identity: str, settings: Settings | None = None) -> bool:
    settings = settings or get_settings()
    return listed(identity, settings.admins)


def may_cancel(
    identity: str,
    requested_by: str,
    settings: Settings | None = None,
    group_resolver: GroupResolver | None = None,
) -> bool:
    """Whether ``identity`` may cancel a workflow that ``requested_by`` asked for."""
    settings = settings or get_settings()
    return (
        identity == requested_by
        or is_admin(identity, settings)
        or is_approver(identity, settings, group_resolver)
    )


CANCEL_RULE = (
    "a workflow may be cancelled by who requested it, the approvers (APPROVERS, APPROVER_GROUP)"
    " and the admins (ADMINS)"
)
APPROVE_RULE = "approvers are the users in APPROVERS or members of APPROVER_GROUP"
