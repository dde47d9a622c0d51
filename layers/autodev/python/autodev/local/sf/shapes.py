"""The JSON the real ``sf`` prints with ``--json``, built field by field from its sources.

Envelopes (salesforcecli/sf-plugins-core ``src/sfCommand.ts`` ``toSuccessJson``,
``src/SfCommandError.ts`` ``toJson``; forcedotcom/sfdx-core ``src/sfError.ts`` ``toObject``)::

    success: {"status": <process.exitCode or 0>, "result": {...}, "warnings": [...]}
    error:   {"name", "message", "exitCode", ["actions"], "context", ["data"], "stack", "cause",
              "warnings", "code", "status", "commandName"}

Error names come from sfdx-core's ``Messages.createError``: key ``error.FailedValidation`` gives
``FailedValidationError``; ``code`` is the name again (``SfError.code`` falls back to it), and
``context``/``commandName`` are the command's class name.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from typing import Any

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def salesforce_id(prefix: str, *seed: object) -> str:
    """An 18-character record id with the key prefix of its type (0Af deploy, 707 test run)."""
    digest = int(hashlib.sha256("|".join(map(str, seed)).encode()).hexdigest(), 16)
    body = []
    for _ in range(15):
        digest, index = divmod(digest, len(_ALPHABET))
        body.append(_ALPHABET[index])
    return prefix + "".join(body)


def new_id(prefix: str) -> str:
    return salesforce_id(prefix, os.urandom(16).hex())


def timestamp(moment: datetime | None = None) -> str:
    """The Metadata API's dates: ``2024-05-01T10:00:00.000Z``."""
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def success(result: Any, status: int = 0, warnings: list[str] | None = None) -> dict[str, Any]:
    return {"status": status, "result": result, "warnings": warnings or []}


def error(
    name: str,
    message: str,
    command: str,
    *,
    exit_code: int = 1,
    data: dict[str, Any] | None = None,
    actions: list[str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "message": message, "exitCode": exit_code}
    if actions:
        body["actions"] = actions
    body["context"] = command
    if data:
        body["data"] = data
    body.update(
        stack=f"{name}: {message}\n    at {command}.run (stand-in)",
        cause="undefined",
        warnings=[],
        code=name,
        status=exit_code,
        commandName=command,
    )
    return body


def percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole) if whole else 0}%"
