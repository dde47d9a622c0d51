"""The local stack's access: the person who runs it approves and administers it.

``autodev local up`` and the demo run on one person's machine, for that person: they are added
to ``APPROVERS`` and ``ADMINS`` (as ``cli:<login>``, the identity the CLI acts as locally), in
the stack's process and in what other local processes read from ``local.json``, and the stack
says so. Identities already configured stay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autodev import access
from autodev.config import get_settings
from autodev.local.services import LocalService, RunningService

if TYPE_CHECKING:
    from autodev.local.stack import LocalStack


class _Nothing:
    def stop(self) -> None:
        return None


def _with(entries: tuple[str, ...], identity: str) -> str:
    return ",".join(entries if identity in entries else (*entries, identity))


def _start(stack: LocalStack) -> RunningService:
    person = access.os_user()
    settings = get_settings()
    stack.export("APPROVERS", _with(settings.approvers, person))
    stack.export("ADMINS", _with(settings.admins, person))
    stack.note(
        f"you ({person}) are an approver and an admin of this local stack: "
        "`autodev workflow approve|reject|cancel ID` act as you"
    )
    return _Nothing()


SERVICE = LocalService(
    name="local-access",
    start=_start,
    order=10,
    description="makes the person running the stack an approver and an admin, and says so",
)
