"""Repository knowledge for agent steps: the organisation's prompt and the repository's
instructions file, as text for the step's appended system prompt.

Claude Code runs with ``setting_sources=[]``: it loads nothing from the repository, neither
its ``CLAUDE.md`` nor its ``.claude/`` settings and hooks (which could run commands). This
module reads exactly one file instead, ``AUTODEV_INSTRUCTIONS_FILE`` (``CLAUDE.md`` unless
configured; the setting refuses paths into ``.claude/`` or out of the repository), as plain
text: a regular file inside the repository (a symlink that leads out of it, or into
``.claude/``, is refused), at most ``MAX_FILE_BYTES`` read. ``AUTODEV_ORG_PROMPT`` comes first.
Beyond the context's knowledge budget the text is cut, with a note saying so.
"""

from __future__ import annotations

from pathlib import Path

from autodev.config import Settings, get_settings
from autodev.conversations.budget import Budget
from autodev.conversations.models import RepositoryKnowledge
from autodev.conversations.tokens import counter_for
from autodev.observability import child_logger

log = child_logger(__name__)

MAX_FILE_BYTES = 256 * 1024
_CUT_NOTE = "\n[... cut: the instructions are longer than the context allows]"


def _instructions_file(repository: Path, name: str) -> Path | None:
    root = repository.resolve()
    candidate = root / name
    if not candidate.is_file():
        return None
    resolved = candidate.resolve()
    if not resolved.is_relative_to(root) or resolved.relative_to(root).parts[0] == ".claude":
        log.warning("%s leads out of the repository or into .claude/; not read", name)
        return None
    return resolved


def _read(path: Path) -> str:
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    text = data[:MAX_FILE_BYTES].decode("utf-8", errors="replace").strip()
    return text + (_CUT_NOTE if len(data) > MAX_FILE_BYTES else "")


def repository_knowledge(
    repository: Path | None,
    *,
    settings: Settings | None = None,
    max_tokens: int | None = None,
    exact: bool = True,
) -> RepositoryKnowledge | None:
    """The organisation's prompt and ``repository``'s instructions file; None when neither.
    ``exact=False``: its token count may be an upper bound (``tokens``), counted exactly only
    when the bound is over the limit and the text may have to be cut."""
    settings = settings or get_settings()
    parts: list[str] = []
    sources: list[str] = []
    if settings.autodev_org_prompt and settings.autodev_org_prompt.strip():
        parts.append(f"Organisation:\n{settings.autodev_org_prompt.strip()}")
        sources.append("AUTODEV_ORG_PROMPT")
    if repository is not None:
        name = settings.autodev_instructions_file
        found = _instructions_file(repository, name)
        if found is not None:
            content = _read(found)
            if content:
                parts.append(f"Repository ({name}):\n{content}")
                sources.append(name)
    if not parts:
        return None
    text = "\n\n".join(parts)
    counter = counter_for(settings)
    limit = Budget.of(settings, max_tokens).knowledge
    tokens, _ = counter.count(text, exact=exact)
    if tokens > limit and not exact:
        tokens, _ = counter.count(text)
    truncated = False
    # Cut in proportion to the count, then count again, until it fits (a few rounds at most).
    while tokens > limit and text:
        keep = max(0, int(len(text) * limit / tokens * 0.95) - len(_CUT_NOTE))
        text = text[:keep].rstrip() + _CUT_NOTE
        tokens, _ = counter.count(text)
        truncated = True
        if keep == 0:
            break
    return RepositoryKnowledge(
        text=text, sources=tuple(sources), token_count=tokens, truncated=truncated
    )
