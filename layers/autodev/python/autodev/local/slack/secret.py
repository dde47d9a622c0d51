"""The local stack's Slack signing secret: generated once, kept in ``AUTODEV_STATE_DIR``.

The stack sets ``SLACK_SIGNING_SECRET`` to it in its own process (where the Slack handlers
run), and ``autodev slack`` signs with the same one, so the two agree without anyone
configuring a secret. A ``SLACK_SIGNING_SECRET`` set by the user wins.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from autodev.slack.signing import SIGNING_SECRET_ENV

SECRET_FILE = "slack-signing-secret"  # noqa: S105 - a file name


def ensure_local_signing_secret(state_dir: Path) -> str:
    """SLACK_SIGNING_SECRET, else the one kept in ``state_dir`` (random, file mode 0600)."""
    configured = os.environ.get(SIGNING_SECRET_ENV)
    if configured:
        return configured
    path = state_dir / SECRET_FILE
    try:
        existing = path.read_text().strip()
    except OSError:
        existing = ""
    if existing:
        return existing
    state_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value)
    return value
