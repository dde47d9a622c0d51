"""What Slack sends to the three endpoints, as models: the slash command's form, the
interaction payload, the Events API envelope.

Tolerant of what we do not read (Slack adds fields over time), strict about what we do: a
field of the wrong type (a ``user`` that is a string, an ``actions`` entry that is not an
object, an ``event`` that is a list) fails validation, and the request path answers 400
instead of failing on it later. Numbers where Slack sends strings are taken as strings.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Slack(BaseModel):
    # defer_build: a model's validator is built when it first validates, so a handler's cold
    # start builds only the payloads it meets (a click builds no slash-command form).
    model_config = ConfigDict(
        extra="ignore", frozen=True, coerce_numbers_to_str=True, defer_build=True
    )


class CommandForm(_Slack):
    """The form fields of a slash command that autodev reads."""

    command: str = Field(min_length=1)
    user_id: str = Field(min_length=1)
    text: str = ""
    channel_id: str | None = None
    team_id: str | None = None
    trigger_id: str | None = None
    response_url: str | None = None


class _Ref(_Slack):
    """``{"id": ...}``: a user, channel or team."""

    id: str | None = None


class _User(_Slack):
    id: str = Field(min_length=1)


class _Container(_Slack):
    channel_id: str | None = None


class _Message(_Slack):
    ts: str | None = None
    thread_ts: str | None = None


class Action(_Slack):
    """One element of ``actions``: the button that was clicked."""

    action_id: str = ""
    value: str = ""  # link buttons carry none
    action_ts: str | None = None


class InteractionKind(_Slack):
    """Just the ``type`` of an interaction payload, to decide whether it needs reading."""

    type: str


class BlockActions(_Slack):
    """A ``block_actions`` payload: a click on one of autodev's buttons."""

    type: str
    user: _User
    actions: list[Action] = Field(min_length=1)
    channel: _Ref | None = None
    container: _Container | None = None
    message: _Message | None = None
    team: _Ref | None = None
    trigger_id: str | None = None
    response_url: str | None = None

    @property
    def channel_id(self) -> str | None:
        return (self.channel.id if self.channel else None) or (
            self.container.channel_id if self.container else None
        )


class EventEnvelope(_Slack):
    """The Events API body: ``url_verification`` or an ``event_callback`` around an event."""

    type: str
    challenge: str = ""
    event_id: str | None = None
    team_id: str | None = None
    event: dict[str, Any] | None = None


class AppMention(_Slack):
    """An ``app_mention`` event (someone wrote @autodev in a channel or thread)."""

    type: str
    user: str | None = None
    channel: str | None = None
    ts: str | None = None
    thread_ts: str | None = None
    text: str = ""
    bot_id: str | None = None
