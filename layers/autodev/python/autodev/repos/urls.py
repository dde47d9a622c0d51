"""Repository addresses: which are accepted, which host kind they belong to, and the
redaction of credentials from anything git or a host says.

autodev reaches a repository over HTTPS with a token from Secrets Manager (through a git
credential helper of the worker), or, on the local stack, as a local bare repository (a path
or a ``file://`` URL). Plain ``http://`` is accepted for loopback hosts only (the local stack's
stand-in host), so a token never travels in clear text; ``ssh://`` and ``git@`` addresses are
refused, as is a URL that carries credentials itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from autodev.errors import InvalidInput
from autodev.repos.models import Provider

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_USERINFO = re.compile(r"(?i)\b(https?://)[^/@\s]+@")
# Token shapes of the hosts autodev talks to, redacted wherever they show up.
_TOKEN_SHAPES = re.compile(
    r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,})\b"
)
_AUTH_HEADER = re.compile(r"(?i)(authorization:\s*(?:bearer|basic|token)\s+)\S+")
REDACTED = "***"


@dataclass(frozen=True)
class Address:
    """A checked repository address."""

    url: str  # as git is given it (a local path is made absolute)
    provider: Provider | None  # None: a host whose kind cannot be told from its name
    project: str  # the repository's path on its host, without '.git'
    api_url: str | None  # the host's API, when it follows from the address
    host: str | None  # None for a local repository

    @property
    def is_local(self) -> bool:
        return self.provider == "local"


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` without credentials: the given secrets, URL user info, token-shaped words and
    authorization headers."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _USERINFO.sub(rf"\g<1>{REDACTED}@", text)
    text = _TOKEN_SHAPES.sub(REDACTED, text)
    return _AUTH_HEADER.sub(rf"\g<1>{REDACTED}", text)


def local_path(url: str) -> Path | None:
    """The directory of a local repository address (a path or ``file://`` URL), else None."""
    if url.startswith("file://"):
        return Path(unquote(urlsplit(url).path))
    if url.startswith(("/", "~", "./", "../")) or (url and "://" not in url and ":" not in url):
        return Path(url).expanduser()
    return None


def is_git_repository(path: Path) -> bool:
    """A bare repository, or the top of a working tree (not a folder inside another one)."""
    bare = (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()
    return bare or (path / ".git").exists()


def parse_address(url: str, name: str) -> Address:
    """Check a repository address; InvalidInput says what is wrong and what to give instead."""
    url = url.strip()
    if not url:
        raise InvalidInput("a repository needs a URL or a path")
    if url.startswith(("git@", "ssh://")) or re.match(r"^[\w.-]+@[\w.-]+:", url):
        raise InvalidInput(
            f"{redact(url)} is an SSH address: autodev clones over HTTPS with a token from "
            "Secrets Manager (--credentials); give the repository's https:// URL"
        )
    path = local_path(url)
    if path is not None:
        path = path.resolve()
        if not path.is_dir():
            raise InvalidInput(f"{path} is not a directory (a local repository is a directory)")
        if not is_git_repository(path):
            raise InvalidInput(
                f"{path} is not a git repository (a bare repository, or the top of a clone)"
            )
        given = url if url.startswith("file://") else str(path)
        return Address(given, "local", f"local/{name}", None, None)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise InvalidInput(
            f"{redact(url)} is not a repository address: give an https:// URL, a local path "
            "or a file:// URL"
        )
    if parts.username or parts.password or "@" in parts.netloc:
        raise InvalidInput(
            "the URL carries credentials: register it without them and keep the token in "
            "Secrets Manager (--credentials SECRET_ARN)"
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidInput(f"{url} names no host")
    if parts.scheme == "http" and host not in _LOOPBACK:
        raise InvalidInput(f"{url} is plain http: a token would travel in clear text; use https://")
    if parts.query or parts.fragment:
        raise InvalidInput(f"{url} has a query or fragment; give the repository's clone URL")
    project = parts.path.strip("/").removesuffix(".git")
    if project.count("/") < 1:
        raise InvalidInput(f"{url} names no repository (expected https://HOST/OWNER/NAME)")
    origin = f"{parts.scheme}://{parts.netloc}"
    provider: Provider | None
    api_url: str | None
    if host == "github.com":
        provider, api_url = "github", "https://api.github.com"
    elif host == "gitlab.com" or host.startswith("gitlab."):
        provider, api_url = "gitlab", origin
    elif host.startswith("github."):
        provider, api_url = "github", f"{origin}/api/v3"  # GitHub Enterprise Server
    else:
        provider, api_url = None, None
    return Address(url, provider, project, api_url, host)


def default_api_url(address: Address, provider: Provider) -> str | None:
    """The API of an address's host for ``provider`` when it is not github.com or gitlab.com."""
    if address.host is None:
        return None
    scheme = "http" if address.url.startswith("http://") else "https"
    origin = f"{scheme}://{urlsplit(address.url).netloc}"
    return f"{origin}/api/v3" if provider == "github" else origin


def transport(url: str) -> str:
    """The one transport git may use for ``url`` (GIT_ALLOW_PROTOCOL)."""
    if local_path(url) is not None:
        return "file"
    return "http" if url.startswith("http://") else "https"
