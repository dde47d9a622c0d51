"""The Messages API over plain HTTP, for the calls that need no SDK: token counting
(``models.token_counting``) and the health check's probe (``monitoring.checks``).

Both run on paths that make no model call of their own (a workflow's start note in the Slack
job, a step's note in the worker, ``GET /health``), and importing the ``anthropic`` SDK costs
about 2.3 s of CPU (``python -c "import anthropic"``: some 3,400 modules and 1,500 pydantic
models). A Lambda has a share of a vCPU in proportion to its memory (about a seventh at
256 MB), so that import was the larger part of such a function's cold start; in a worker it was
a burst on the vCPU its agent runs on. These calls are one request each, sent with urllib3
(which botocore loads anyway) and the SDK's headers, to where the SDK would send them:
``ANTHROPIC_BASE_URL``, else the API's own address; the scripted server for the scripted
provider. Model calls still go through the SDK (``models.client``).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass

import urllib3

API_VERSION = "2023-06-01"
DEFAULT_BASE_URL = "https://api.anthropic.com"

_pool: urllib3.PoolManager | None = None
_pool_lock = threading.Lock()


def anthropic_base_url() -> str:
    """Where the SDK sends the Anthropic provider's requests."""
    return os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL


@dataclass(frozen=True)
class Answer:
    status: int
    body: object  # the answer's JSON, None when it is not JSON

    def error_message(self) -> str:
        """The API's error message, if the answer has the API's error shape."""
        if isinstance(self.body, dict):
            error = self.body.get("error")
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                return str(error["message"])[:200]
        return "no error message"


def _connections() -> urllib3.PoolManager:
    """One pool for the process, so that a call reuses the last one's connection."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = urllib3.PoolManager()
        return _pool


def call(
    method: str,
    url: str,
    key: str,
    *,
    body: object = None,
    retries: urllib3.Retry | bool,
    timeout: urllib3.Timeout,
) -> Answer:
    """One request with the API's headers; urllib3's errors (unreachable, timed out) are
    raised as they are, and carry the URL, never the headers (the key)."""
    headers = {
        "x-api-key": key,
        "anthropic-version": API_VERSION,
        "accept": "application/json",
        "user-agent": "autodev",
    }
    data = None
    if body is not None:
        headers["content-type"] = "application/json"
        data = json.dumps(body).encode()
    answer = _connections().request(
        method, url, body=data, headers=headers, retries=retries, timeout=timeout
    )
    try:
        parsed = json.loads(answer.data) if answer.data else None
    except ValueError:
        parsed = None
    return Answer(answer.status, parsed)
