"""What the stand-in remembers: logged-in orgs (under HOME, as sf does) and validations.

Orgs live where the real CLI keeps them, ``$HOME/.sfdx/<username>.json`` and
``$HOME/.sfdx/alias.json`` (``{"orgs": {alias: username}}``), so a caller that gives ``sf`` a
config directory as HOME sees the same separation it would with the real CLI. The stand-in keeps
no secret there: the refresh token is stored only as a SHA-256 digest.

Validations live in ``$AUTODEV_SF_STANDIN_STATE/validations.json``, shared by every config
directory, because a deploy pipeline validates in one step and quick-deploys in a later one.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STATE_VARIABLE = "AUTODEV_SF_STANDIN_STATE"
TTL_VARIABLE = "AUTODEV_SF_STANDIN_VALIDATION_TTL_SECONDS"
# The platform keeps a validation quick-deployable for 10 days (plugin-deploy-retrieve,
# messages/deploy.metadata.quick.md, error.CannotQuickDeploy).
DEFAULT_TTL_SECONDS = 10 * 24 * 3600


class StandinStateMissing(Exception):
    pass


def _sfdx_dir() -> Path:
    return Path(os.environ.get("HOME") or Path.home()) / ".sfdx"


def save_org(record: dict[str, Any], alias: str | None) -> None:
    directory = _sfdx_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    (directory / f"{record['username']}.json").write_text(json.dumps(record, indent=2))
    if alias:
        aliases_file = directory / "alias.json"
        aliases = json.loads(aliases_file.read_text()) if aliases_file.is_file() else {"orgs": {}}
        aliases.setdefault("orgs", {})[alias] = record["username"]
        aliases_file.write_text(json.dumps(aliases, indent=2))


def find_org(alias_or_username: str) -> dict[str, Any] | None:
    directory = _sfdx_dir()
    aliases_file = directory / "alias.json"
    username = alias_or_username
    if aliases_file.is_file():
        username = json.loads(aliases_file.read_text()).get("orgs", {}).get(username, username)
    record_file = directory / f"{username}.json"
    if "/" in username or not record_file.is_file():
        return None
    found: dict[str, Any] = json.loads(record_file.read_text())
    return found


def ttl_seconds() -> float:
    return float(os.environ.get(TTL_VARIABLE, DEFAULT_TTL_SECONDS))


@contextmanager
def validations() -> Iterator[dict[str, dict[str, Any]]]:
    """The validations, locked for the block and written back after it."""
    directory = os.environ.get(STATE_VARIABLE)
    if not directory:
        raise StandinStateMissing(
            f"the stand-in sf keeps validations in a directory: set {STATE_VARIABLE}"
        )
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    with (root / "validations.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = root / "validations.json"
        data: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.is_file() else {}
        yield data
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=2))
        temporary.replace(path)
