"""autodev.aws: cached clients that follow the environment, sharing botocore's loaded data."""

from __future__ import annotations

import threading
from typing import Any

import botocore.session
import pytest

from autodev import aws


@pytest.fixture(autouse=True)
def _environment(fake_aws_env: pytest.MonkeyPatch) -> None:
    fake_aws_env.setenv("AWS_REGION", "eu-west-1")


def test_a_client_is_made_once_and_anew_after_the_environment_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4001")
    first = aws.client("sqs")
    assert aws.client("sqs") is first
    assert first.meta.endpoint_url == "http://127.0.0.1:4001"
    assert first.meta.region_name == "eu-west-1"

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4002")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "other")
    aws.reset_clients()
    second = aws.client("sqs")
    assert second is not first
    assert second.meta.endpoint_url == "http://127.0.0.1:4002"
    assert second._request_signer._credentials.access_key == "other"


def test_clients_share_the_data_botocore_loads() -> None:
    # Each client's session would otherwise read and parse the endpoints and models again.
    assert aws.client("sqs")._loader is aws.probe_client("lambda")._loader
    aws.reset_clients()
    assert aws.client("sqs")._loader is aws.probe_client("sqs")._loader


def test_threads_that_ask_for_the_same_client_at_once_share_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The worker makes its Step Functions client in the background while a short task may end
    # and ask for it: it is made once, the second caller waiting for the first's.
    made: list[str] = []
    second_made = threading.Event()
    create = botocore.session.Session.create_client

    def create_client(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        made.append(service)
        if len(made) == 1:
            # Give a second caller the chance to make its own; it has none if it waits.
            second_made.wait(timeout=0.5)
        else:
            second_made.set()
        return create(self, service, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
    got: list[Any] = []
    threads = [threading.Thread(target=lambda: got.append(aws.client("sqs"))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert made == ["sqs"]
    assert len(got) == 3
    assert all(found is got[0] for found in got)


def test_a_client_event_handler_reaches_the_clients_made_and_to_be_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aws, "_event_handlers", {})
    monkeypatch.setattr(aws, "_clients", {})
    before = aws.client("sqs")
    seen: list[str] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        seen.append(str(params["url"]))

    def answer(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        # Answered here, so nothing is sent (sockets are off in unit tests).
        from botocore.awsrequest import AWSResponse
        from botocore.compat import HTTPHeaders

        return AWSResponse(params["url"], 200, HTTPHeaders(), None), {"QueueUrls": ["q"]}

    aws.on_client_event("sqs", "before-call.sqs.ListQueues", note)
    aws.on_client_event("sqs", "before-call.sqs.ListQueues", note)  # registered once
    aws.on_client_event("sqs", "before-call.sqs.ListQueues", answer)
    assert before.list_queues()["QueueUrls"] == ["q"]
    assert len(seen) == 1
    aws.reset_clients()
    after = aws.client("sqs")
    assert after is not before
    assert after.list_queues()["QueueUrls"] == ["q"]
    assert len(seen) == 2
