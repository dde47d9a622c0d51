"""The approval card is posted only for an approval:requested detail that fits its schema."""

from __future__ import annotations

import pytest

from autodev.errors import InvalidInput
from autodev.slack.notify import approval_requested


@pytest.mark.parametrize(
    "detail",
    [
        {},
        {"workflowId": "w-1", "approvalId": "a-1", "message": "Deploy?"},  # not the schema's
        {"workflow_id": "w-1", "message": "Deploy?"},  # no approval id
        {"workflow_id": "w-1", "approval_id": "a-1", "message": "Deploy?", "task_token": "t"},
    ],
)
def test_a_detail_that_does_not_fit_the_schema_is_refused_before_any_post(
    detail: dict[str, object],
) -> None:
    # Sockets are disabled in unit tests: a refusal must come before any Slack call.
    with pytest.raises(InvalidInput, match="approval:requested does not fit its schema"):
        approval_requested(detail)
