"""``/workflow repos``: the repositories workflows can work on, as Block Kit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from autodev.slack.views import clip, notice


@dataclass(frozen=True)
class RepositoryView:
    name: str
    url: str
    default_branch: str
    provider: str
    is_default: bool
    has_credentials: bool


def repository_list(repositories: Sequence[RepositoryView]) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text="Repositories")]
    if not repositories:
        return [
            *blocks,
            *notice(
                "No repository is registered: workflows work on a copy of the example project. "
                "Register one with `autodev repo add NAME URL`."
            ),
        ]
    for repo in repositories:
        marks = [repo.provider, f"branch `{repo.default_branch}`"]
        if repo.is_default:
            marks.insert(0, "*default*")
        if repo.has_credentials:
            marks.append("credentials in Secrets Manager")
        text = f"*{repo.name}* · {repo.url}\n" + " · ".join(marks)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(text))))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Pick one with `/workflow start <template> repo=<name> ref=<branch>`"
                )
            ]
        )
    )
    return blocks


def repository_text(repositories: Sequence[RepositoryView]) -> str:
    names = ", ".join(r.name + (" (default)" if r.is_default else "") for r in repositories)
    return f"Repositories: {names}" if names else "No repository is registered."
