"""A stand-in for a repository host on loopback: the API calls autodev makes, recorded, and
git over HTTP with a token, so the real clients (PyGithub, python-gitlab, git) run against it.

- GitHub's REST API under ``/api/v3`` (what PyGithub calls: a branch, a commit, open a pull
  request, list pull requests, comment on one) and GitLab's under ``/api/v4`` (a branch, a
  commit, open or list merge requests, add a note). Every pull (merge) request opened and
  every comment is recorded: kept in memory and appended to ``pull_requests.jsonl`` in the
  host's directory, which ``recorded_pull_requests`` reads from any process.
- Git's smart HTTP protocol for the bare repositories under ``<root>/<owner>/<name>.git``
  (``git http-backend``), pushes included, behind HTTP basic authentication when a token is
  set for the repository (``tokens``: project -> token).
- A repository is found by its project path: one served here, or ``local/<name>`` for a
  registered local repository (autodev.repos), which is how a local bare repository gets a
  host for its pull requests.
- Pages a person opens: ``/<project>/pull/<n>`` (and ``/files``, the diff from ``git diff``)
  and GitLab's ``/<project>/-/merge_requests/<n>`` (and ``/diffs``).

The local stack runs one (``SERVICE``) and points ``AUTODEV_GIT_HOST_API_URL`` at it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from autodev.local.loopback import LoopbackServer
from autodev.local.services import LocalService

if TYPE_CHECKING:
    from autodev.local.stack import LocalStack

API_URL_ENV = "AUTODEV_GIT_HOST_API_URL"
RECORD_FILE = "pull_requests.jsonl"
_GIT_PATH = re.compile(r"^/(?P<project>.+?\.git)(?P<rest>/.*)?$")
_GITHUB = re.compile(r"^/api/v3/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)(?P<rest>/.*)?$")
_GITLAB = re.compile(r"^/api/v4/projects/(?P<project>[^/]+)(?P<rest>/.*)?$")


def host_directory(state_dir: Path) -> Path:
    return state_dir / "git-host"


def recorded_pull_requests(directory: Path) -> list[dict[str, Any]]:
    """Every pull request a git host in ``directory`` recorded, oldest first, each with the
    comments made on it (``comments``: their bodies, oldest first)."""
    path = directory / RECORD_FILE
    if not path.is_file():
        return []
    pulls: list[dict[str, Any]] = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        if "comment_on" in entry:
            pulls[entry["comment_on"] - 1].setdefault("comments", []).append(entry["body"])
        else:
            pulls.append(entry)
    return pulls


class LocalGitHost(LoopbackServer):
    """The stand-in host; ``root`` holds its bare repositories and its record."""

    def __init__(
        self, root: Path, *, tokens: Mapping[str, str] | None = None, port: int = 0
    ) -> None:
        super().__init__("git-host", port=port)
        self.root = root
        self.tokens = dict(tokens or {})
        self.pull_requests: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, bool]] = []  # (method, path, authenticated)
        self._lock = threading.Lock()
        root.mkdir(parents=True, exist_ok=True)

    # --- repositories ---

    def create_repository(self, project: str, source: Path | None = None) -> Path:
        """A bare repository served at ``/<project>.git`` (from ``source``'s files, on
        ``main``, when given)."""
        path = self.root / f"{project}.git"
        make_bare_repository(path, source)
        return path

    def clone_url(self, project: str) -> str:
        return f"{self.url}/{project}.git"

    def repository_path(self, project: str) -> Path | None:
        served = self.root / f"{project}.git"
        if served.is_dir():
            return served
        owner, _, name = project.partition("/")
        if owner == "local" and name:
            from autodev.errors import AutodevError
            from autodev.repos import get_repository
            from autodev.repos.urls import local_path

            try:
                found = local_path(get_repository(name).url)
            except AutodevError:
                return None
            if found is not None:
                return found if (found / "objects").is_dir() else found / ".git"
        return None

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            entry["number"] = len(self.pull_requests) + 1
            page = "pull" if entry["kind"] == "github" else "-/merge_requests"
            entry["url"] = f"{self.url}/{entry['project']}/{page}/{entry['number']}"
            self.pull_requests.append(entry)
            with (self.root / RECORD_FILE).open("a") as out:
                out.write(json.dumps(entry) + "\n")
        return entry

    def comment(self, entry: dict[str, Any], body: str) -> None:
        with self._lock:
            entry.setdefault("comments", []).append(body)
            with (self.root / RECORD_FILE).open("a") as out:
                out.write(json.dumps({"comment_on": entry["number"], "body": body}) + "\n")

    def find(self, project: str, number: int) -> dict[str, Any] | None:
        return next(
            (p for p in self.pull_requests if p["project"] == project and p["number"] == number),
            None,
        )

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(_Handler):
            server_host = host

        return Handler


def _git(repository: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", f"--git-dir={repository}", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull},
    )


def read_git(repository: Path, *args: str) -> str:
    """What ``git --git-dir=<repository> <args>`` prints (for tests reading a stand-in
    repository); CalledProcessError when git fails."""
    done = _git(repository, *args)
    done.check_returncode()
    return done.stdout


def _commit_of(repository: Path, ref: str) -> str | None:
    for candidate in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
        found = _git(repository, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}")
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    return None


def make_bare_repository(path: Path, source: Path | None = None, branch: str = "main") -> Path:
    """A bare repository at ``path``; with ``source``, one commit of its files on ``branch``."""
    import shutil
    import tempfile

    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "example",
        "GIT_AUTHOR_EMAIL": "example@localhost",
        "GIT_COMMITTER_NAME": "example",
        "GIT_COMMITTER_EMAIL": "example@localhost",
    }

    def git(*args: str, cwd: Path | None = None) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    path.parent.mkdir(parents=True, exist_ok=True)
    git("init", "--quiet", "--bare", f"--initial-branch={branch}", str(path))
    if source is None:
        return path
    with tempfile.TemporaryDirectory(prefix="autodev-seed-") as scratch:
        tree = Path(scratch) / "tree"
        shutil.copytree(
            source, tree, ignore=shutil.ignore_patterns(".git", ".sf", ".sfdx", ".autodev")
        )
        git("init", "--quiet", f"--initial-branch={branch}", cwd=tree)
        git("add", "--all", cwd=tree)
        git("commit", "--quiet", "-m", f"{source.name}: initial import", cwd=tree)
        git("push", "--quiet", str(path), f"HEAD:refs/heads/{branch}", cwd=tree)
    return path


class _Handler(BaseHTTPRequestHandler):
    server_host: LocalGitHost
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the record
        return

    # --- plumbing ---

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = (
            body.encode()
            if isinstance(body, str)
            else body
            if isinstance(body, bytes)
            else json.dumps(body).encode()
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _token_given(self) -> str | None:
        header = self.headers.get("Authorization", "")
        kind, _, value = header.partition(" ")
        if kind.lower() in ("token", "bearer") and value:
            return value.strip()
        if kind.lower() == "basic" and value:
            decoded = base64.b64decode(value).decode(errors="replace")
            return decoded.partition(":")[2]
        return self.headers.get("PRIVATE-TOKEN")

    def _allowed(self, project: str) -> bool:
        expected = self.server_host.tokens.get(project)
        given = self._token_given()
        self.server_host.requests.append((self.command, self.path, given is not None))
        return expected is None or given == expected

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def _route(self) -> None:
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), parts.query
        if path == "/recorded":
            self._send(200, self.server_host.pull_requests)
            return
        for pattern, handler in (
            (_GITHUB, self._github),
            (_GITLAB, self._gitlab),
            (_GIT_PATH, self._git_http),
        ):
            match = pattern.match(path if pattern is not _GITLAB else parts.path)
            if match:
                handler(match, query)
                return
        self._page(path)

    # --- git over HTTP ---

    def _git_http(self, match: re.Match[str], query: str) -> None:
        project = match.group("project").removesuffix(".git")
        if not (self.server_host.root / f"{project}.git").is_dir():
            self._send(404, "no such repository\n", "text/plain")
            return
        if not self._allowed(project):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="autodev local git host"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self._body()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server_host.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{match.group('project')}{match.group('rest') or ''}",
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "autodev",  # lets receive-pack (push) run
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            # Serve partial, by-commit fetches as a hosting service does.
            "GIT_CONFIG_COUNT": "2",
            "GIT_CONFIG_KEY_0": "uploadpack.allowFilter",
            "GIT_CONFIG_VALUE_0": "true",
            "GIT_CONFIG_KEY_1": "uploadpack.allowAnySHA1InWant",
            "GIT_CONFIG_VALUE_1": "true",
        }
        completed = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        head, _, payload = completed.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = completed.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode(errors="replace").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name.strip(), value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    # --- GitHub's REST API ---

    def _github(self, match: re.Match[str], query: str) -> None:
        project = f"{match.group('owner')}/{match.group('name')}"
        rest = match.group("rest") or ""
        repository = self.server_host.repository_path(project)
        if repository is None:
            self._send(404, {"message": "Not Found"})
            return
        if not self._allowed(project):
            self._send(401, {"message": "Bad credentials"})
            return
        base = f"{self.server_host.url}/api/v3/repos/{project}"
        if rest.startswith("/branches/"):
            branch = rest.removeprefix("/branches/")
            if _git(
                repository, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"
            ).returncode:
                self._send(404, {"message": "Branch not found"})
                return
            sha = _commit_of(repository, branch)
            self._send(
                200, {"name": branch, "commit": {"sha": sha, "url": f"{base}/commits/{sha}"}}
            )
        elif rest.startswith("/commits/"):
            sha = _commit_of(repository, rest.removeprefix("/commits/"))
            if sha is None:
                self._send(422, {"message": "No commit found for SHA"})
                return
            self._send(200, {"sha": sha, "url": f"{base}/commits/{sha}"})
        elif rest == "/pulls" and self.command == "POST":
            self._github_open(project, repository, json.loads(self._body() or b"{}"))
        elif rest == "/pulls":
            wanted = {k: v[0] for k, v in parse_qs(query).items()}
            head = wanted.get("head", "").partition(":")[2] or wanted.get("head")
            found = [
                self._github_pull(p)
                for p in self.server_host.pull_requests
                if p["project"] == project
                and p["kind"] == "github"
                and (not head or p["head"] == head)
                and (not wanted.get("base") or p["base"] == wanted["base"])
            ]
            self._send(200, found)
        elif (
            commented := re.fullmatch(r"/issues/(\d+)/comments", rest)
        ) and self.command == "POST":
            self._comment(project, int(commented.group(1)), "body")
        elif not rest:
            self._send(200, {"full_name": project, "name": project.split("/")[-1], "url": base})
        else:
            self._send(404, {"message": "Not Found"})

    def _github_pull(self, entry: dict[str, Any]) -> dict[str, Any]:
        api = f"{self.server_host.url}/api/v3/repos/{entry['project']}"
        return {
            "number": entry["number"],
            "html_url": entry["url"],
            "url": f"{api}/pulls/{entry['number']}",
            "issue_url": f"{api}/issues/{entry['number']}",
            "state": "open",
            "title": entry["title"],
            "body": entry["body"],
            "draft": entry["draft"],
            "head": {"ref": entry["head"]},
            "base": {"ref": entry["base"]},
        }

    def _github_open(self, project: str, repository: Path, data: dict[str, Any]) -> None:
        head, base = str(data.get("head", "")), str(data.get("base", ""))
        problem = self._check_branches(repository, head, base)
        if problem or any(
            p["project"] == project and p["head"] == head and p["base"] == base
            for p in self.server_host.pull_requests
        ):
            message = problem or f"A pull request already exists for {head}."
            self._send(422, {"message": "Validation Failed", "errors": [{"message": message}]})
            return
        entry = self._record(
            "github",
            project,
            head,
            base,
            data.get("title"),
            data.get("body"),
            bool(data.get("draft")),
        )
        self._send(201, self._github_pull(entry))

    def _comment(self, project: str, number: int, field: str) -> None:
        """A comment (GitHub) or note (GitLab) on a recorded pull request."""
        entry = self.server_host.find(project, number)
        body = json.loads(self._body() or b"{}").get(field)
        if entry is None or not isinstance(body, str) or not body:
            self._send(404 if entry is None else 422, {"message": "Not Found or empty body"})
            return
        self.server_host.comment(entry, body)
        self._send(201, {"id": len(entry["comments"]), "body": body})

    def _check_branches(self, repository: Path, head: str, base: str) -> str | None:
        # Both in one git process: each costs a few ms on the path of a workflow's end.
        listed = _git(
            repository,
            "for-each-ref",
            "--format=%(refname)",
            f"refs/heads/{head}",
            f"refs/heads/{base}",
        )
        found = set(listed.stdout.split()) if listed.returncode == 0 else set()
        for branch in (head, base):
            if f"refs/heads/{branch}" not in found:
                return f"no branch {branch!r}"
        return None

    def _record(
        self, kind: str, project: str, head: str, base: str, title: Any, body: Any, draft: bool
    ) -> dict[str, Any]:
        return self.server_host.record(
            {
                "kind": kind,
                "project": project,
                "head": head,
                "base": base,
                "title": str(title or ""),
                "body": str(body or ""),
                "draft": draft,
                "opened_at": datetime.now(UTC).isoformat(),
            }
        )

    # --- GitLab's REST API ---

    def _gitlab(self, match: re.Match[str], query: str) -> None:
        project = unquote(match.group("project"))
        rest = unquote(match.group("rest") or "")
        repository = self.server_host.repository_path(project)
        if repository is None:
            self._send(404, {"message": "404 Project Not Found"})
            return
        if not self._allowed(project):
            self._send(401, {"message": "401 Unauthorized"})
            return
        if rest.startswith("/repository/branches/"):
            branch = rest.removeprefix("/repository/branches/")
            if _git(
                repository, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"
            ).returncode:
                self._send(404, {"message": "404 Branch Not Found"})
                return
            self._send(200, {"name": branch, "commit": {"id": _commit_of(repository, branch)}})
        elif rest.startswith("/repository/commits/"):
            sha = _commit_of(repository, rest.removeprefix("/repository/commits/"))
            if sha is None:
                self._send(404, {"message": "404 Commit Not Found"})
                return
            self._send(200, {"id": sha})
        elif rest == "/merge_requests" and self.command == "POST":
            data = json.loads(self._body() or b"{}")
            head, base = str(data.get("source_branch", "")), str(data.get("target_branch", ""))
            problem = self._check_branches(repository, head, base)
            if problem:
                self._send(400, {"message": problem})
                return
            if any(
                p["project"] == project and p["head"] == head and p["base"] == base
                for p in self.server_host.pull_requests
            ):
                self._send(409, {"message": ["Another open merge request already exists"]})
                return
            title = str(data.get("title", ""))
            entry = self._record(
                "gitlab",
                project,
                head,
                base,
                title,
                data.get("description"),
                title.startswith("Draft:"),
            )
            self._send(201, self._gitlab_request(entry))
        elif (
            commented := re.fullmatch(r"/merge_requests/(\d+)/notes", rest)
        ) and self.command == "POST":
            self._comment(project, int(commented.group(1)), "body")
        elif rest == "/merge_requests":
            wanted = {k: v[0] for k, v in parse_qs(query).items()}
            found = [
                self._gitlab_request(p)
                for p in self.server_host.pull_requests
                if p["project"] == project
                and p["kind"] == "gitlab"
                and p["head"] == wanted.get("source_branch", p["head"])
            ]
            self._send(200, found)
        else:
            self._send(404, {"message": "404 Not Found"})

    @staticmethod
    def _gitlab_request(entry: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": entry["number"],
            "iid": entry["number"],
            "web_url": entry["url"],
            "title": entry["title"],
            "description": entry["body"],
            "draft": entry["draft"],
            "state": "opened",
            "source_branch": entry["head"],
            "target_branch": entry["base"],
        }

    # --- pages ---

    def _page(self, path: str) -> None:
        match = re.match(
            r"^/(?P<project>.+?)/(?:pull|-/merge_requests)/(?P<n>\d+)(?P<files>/files|/diffs)?$",
            path,
        )
        entry = None
        if match:
            entry = next(
                (
                    p
                    for p in self.server_host.pull_requests
                    if p["project"] == match.group("project")
                    and p["number"] == int(match.group("n"))
                ),
                None,
            )
        if entry is None:
            self._send(404, "Not Found\n", "text/plain")
            return
        if not match or not match.group("files"):
            text = (
                f"#{entry['number']} {entry['title']}\n{entry['head']} -> {entry['base']}"
                f"{' (draft)' if entry['draft'] else ''}\n\n{entry['body']}\n"
            )
            self._send(200, text, "text/plain; charset=utf-8")
            return
        repository = self.server_host.repository_path(entry["project"])
        diff = (
            _git(
                repository, "diff", f"refs/heads/{entry['base']}...refs/heads/{entry['head']}"
            ).stdout
            if repository
            else ""
        )
        self._send(200, diff, "text/x-diff; charset=utf-8")


def _start(stack: LocalStack) -> LocalGitHost:
    from autodev.config import get_settings

    host = LocalGitHost(host_directory(get_settings().autodev_state_dir.resolve())).start()
    stack.export(API_URL_ENV, host.url)
    return host


SERVICE = LocalService(
    name="git-host",
    start=_start,
    order=30,
    description="a stand-in for a repository host's API (pull requests recorded) and git over HTTP",
)
