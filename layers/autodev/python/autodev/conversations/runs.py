"""Workflows in their thread's conversation: started, each agent step's outcome, finished;
and what an agent step is told of the conversation.

A workflow's conversation is the one it was started in (``conversation_for_workflow``), else
the conversation of the Slack thread it was started in: a follow-up run started from a
mention belongs to the thread's conversation as well. A workflow started outside Slack has
none, and nothing here records anything for it.

What is recorded are autodev's own notes (role ``system``), added without summarising (the
next answer in the thread summarises when the conversation has grown past the threshold), so
a worker or the finishing step never waits on the summary model.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autodev.config import Settings, get_settings
from autodev.conversations.context import get_context_for_api
from autodev.conversations.knowledge import repository_knowledge
from autodev.conversations.learning import learn_from_conversation
from autodev.conversations.models import Conversation, Memory, Message, Role
from autodev.conversations.prompts import KNOWLEDGE_HEADING
from autodev.conversations.store import (
    add_message,
    conversation_for_thread,
    conversation_for_workflow,
)
from autodev.errors import AutodevError
from autodev.observability import best_effort_failed, child_logger

log = child_logger(__name__)

# An agent step's share of the conversation: enough for the thread's turns, small beside
# Claude Code's own context (its tools, the files it reads).
AGENT_CONTEXT_MAX_TOKENS = 32_000
# A step's summary in the conversation is cut here: the step's full result stays with it.
_NOTE_CHARS = 4000


def conversation_of_workflow(
    workflow_id: str, settings: Settings | None = None
) -> Conversation | None:
    """The conversation a workflow belongs to (see the module's docstring), if any."""
    from autodev import workflows

    found = conversation_for_workflow(workflow_id, settings)
    if found is not None:
        return found
    thread = workflows.slack_thread(workflow_id)
    if thread is None:
        return None
    return conversation_for_thread(*thread, settings=settings)


def _note(
    conversation_id: str, text: str, metadata: Mapping[str, Any], settings: Settings | None
) -> Message:
    return add_message(
        conversation_id,
        Role.SYSTEM,
        text[:_NOTE_CHARS],
        metadata=dict(metadata),
        summarize=False,
        settings=settings,
    )


def _input_text(workflow_input: Mapping[str, Any]) -> str:
    return "; ".join(f"{key}={value}" for key, value in workflow_input.items() if value)


def record_started(
    conversation_id: str,
    *,
    workflow_id: str,
    template: str,
    execution_name: str,
    requested_by: str,
    workflow_input: Mapping[str, Any],
    follow_up_of: str | None = None,
    settings: Settings | None = None,
) -> Message:
    """The note that a workflow started in the conversation (with its repository and the
    branch its changes go to, when it works on one)."""
    from autodev import repos

    kind = "Follow-up run" if follow_up_of else "Workflow"
    parts = [f"{kind} {template} started by {requested_by}: `{execution_name}` (id {workflow_id})."]
    if workflow_input:
        parts.append(f"Input: {_input_text(workflow_input)}.")
    run = repos.workflow_repository(workflow_id)
    if run is not None:
        parts.append(
            f"Repository {run.repository.name} at {run.ref}; its changes go to branch {run.branch}."
        )
    metadata: dict[str, Any] = {"event": "workflow_started", "workflow_id": workflow_id}
    if follow_up_of:
        metadata["follow_up_of"] = follow_up_of
    return _note(conversation_id, " ".join(parts), metadata, settings)


def record_step(
    workflow_id: str,
    step_name: str | None,
    status: str,
    text: str,
    settings: Settings | None = None,
) -> Message | None:
    """A finished agent step's outcome (its summary, or its error) in the workflow's
    conversation; None when the workflow has none."""
    conversation = conversation_of_workflow(workflow_id, settings)
    if conversation is None:
        return None
    note = f"Step {step_name or '?'} of workflow {workflow_id} {status}: {text or '(no summary)'}"
    metadata = {"event": "step_finished", "workflow_id": workflow_id, "step": step_name}
    return _note(conversation.id, note, metadata, settings)


def record_finished(
    workflow_id: str,
    status: str,
    summary: str,
    *,
    learn: bool = True,
    settings: Settings | None = None,
) -> list[Memory]:
    """The workflow's end in its conversation, then (``learn``) the conversation's lasting
    facts extracted into memories (``learn_from_conversation``). Returns the memories kept.

    Raises ModelCallFailed when learning cannot reach the model (the note is kept)."""
    conversation = conversation_of_workflow(workflow_id, settings)
    if conversation is None:
        return []
    note = f"Workflow {workflow_id} finished: {status}. {summary}".strip()
    _note(
        conversation.id,
        note,
        {"event": "workflow_finished", "workflow_id": workflow_id, "status": status},
        settings,
    )
    if not learn:
        return []
    return learn_from_conversation(conversation.id, settings)


def agent_system_prompt(
    base: str,
    *,
    workflow_id: str | None,
    repository: Path | None,
    settings: Settings | None = None,
) -> str:
    """What an agent step appends to Claude Code's system prompt: ``base``, the
    organisation's prompt and the repository's instructions file, and, for a workflow with a
    conversation, the conversation's context (memories, summary, latest turns) within
    min(CONVERSATION_MAX_TOKENS, ``AGENT_CONTEXT_MAX_TOKENS``).

    Best effort beyond ``base``: what cannot be read (the database, the instructions file) is
    left out with a warning, and the step runs.
    """
    settings = settings or get_settings()
    limit = min(settings.conversation_max_tokens, AGENT_CONTEXT_MAX_TOKENS)
    knowledge = None
    try:
        # Bounds rather than counts where none is at hand: the step starts without waiting on
        # the counting endpoint (or, in a fresh worker, on importing its client).
        knowledge = repository_knowledge(
            repository, settings=settings, max_tokens=limit, exact=False
        )
        conversation = conversation_of_workflow(workflow_id, settings) if workflow_id else None
        if conversation is not None:
            context = get_context_for_api(
                conversation.id,
                system=base,
                knowledge=knowledge,
                max_tokens=limit,
                settings=settings,
                exact=False,
            )
            return context.appended_system_prompt
    except AutodevError as error:
        log.warning("the step runs without its conversation's context: %s", error)
    except Exception:
        # Unforeseen (an unreadable file, a database error): the step runs all the same.
        best_effort_failed("agent_context", log, workflow_id=workflow_id)
    if knowledge is None or not knowledge.text:
        return base
    return f"{base}\n\n{KNOWLEDGE_HEADING}\n{knowledge.text}"
