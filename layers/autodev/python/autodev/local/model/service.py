"""The local stack's scripted model server: one for every worker, found by URL.

It runs in the local stack's process, beside the database, and exports its URL as
``AUTODEV_SCRIPTED_MODEL_URL``; workers the stack starts inherit it. A worker on the
``scripted`` provider points Claude Code at it and names the task in a header; the server
reads the task (``tasks.script_for_task``) and plays its session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autodev.local.model.server import ScriptedModelServer
from autodev.local.model.tasks import script_for_task
from autodev.local.services import LocalService
from autodev.models.providers import SCRIPTED_MODEL_URL_ENV

if TYPE_CHECKING:
    from autodev.local.stack import LocalStack


def _start(stack: LocalStack) -> ScriptedModelServer:
    server = ScriptedModelServer(resolve=script_for_task).start()
    stack.export(SCRIPTED_MODEL_URL_ENV, server.url)
    return server


SERVICE = LocalService(
    name="scripted-model",
    start=_start,
    order=20,
    description="the scripted Messages API server Claude Code talks to without a model key",
)
