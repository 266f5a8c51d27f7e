"""A small local Hugging Face Hub for tests: the few endpoints ``huggingface_hub`` calls.

Point ``HF_ENDPOINT`` at it and ``snapshot_download``, ``hf_hub_download``, ``create_repo``
and ``create_commit`` work against repositories held in memory:

- ``GET /api/{models,datasets,spaces}/ORG/NAME[/revision/REV]``: repo info (sha, siblings);
- ``GET /api/…/ORG/NAME/tree/REV[/PATH]``: the file listing;
- ``HEAD|GET /[datasets/|spaces/]ORG/NAME/resolve/REV/PATH``: a file, with ``ETag``,
  ``X-Repo-Commit`` and ``Range`` support (``drop_after`` cuts the first download of each
  file after that many bytes, so clients must resume);
- ``POST /api/repos/create``, ``/api/validate-yaml``, ``/api/…/preupload/REV`` and
  ``/api/…/commit/REV`` (NDJSON, files inline as base64): uploads, recorded in ``commits``.

Errors carry the ``X-Error-Code`` headers the client turns into ``RepositoryNotFoundError``,
``RevisionNotFoundError``, ``EntryNotFoundError`` and ``GatedRepoError``. Gated repos answer
only tokens in ``accepted``; private repos and every write need a token in ``tokens``.

    python -m radrbench.dev.hub_server --port 8080 --dataset byrLLCC/RadRBench-CXR=DIR
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

HOST = "127.0.0.1"
_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_API_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_API = re.compile(
    r"^/api/(?P<kind>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)"
    r"(?:/(?P<op>revision|tree|preupload|commit)/(?P<rest>.+))?$"
)
_RESOLVE = re.compile(
    r"^/(?:(?P<kind>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"
)


def git_blob_oid(content: bytes) -> str:
    """The git blob id of ``content`` (what the Hub reports as a file's ``oid``)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Repo:
    """One repository: its commits (oldest first) and branches."""

    repo_type: str
    repo_id: str
    gated: bool = False
    private: bool = False
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)

    def commit(self, files: dict[str, bytes], branch: str = "main", sha: str | None = None) -> str:
        """Record a commit of ``files`` (the whole tree) on ``branch``; return its hash
        (``sha``: use this one, e.g. a revision a baseline entry pins)."""
        parent = self.branches.get(branch, "")
        digest = hashlib.sha1(parent.encode())
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + git_blob_oid(files[path]).encode())
        sha = sha or digest.hexdigest()
        self.commits[sha] = dict(files)
        self.branches[branch] = sha
        return sha

    def resolve(self, revision: str) -> str | None:
        """The commit hash a branch name or commit hash stands for."""
        return self.branches.get(revision) or (revision if revision in self.commits else None)


@dataclass
class HubState:
    """Everything the server holds and records; tests read and change it between calls."""

    repos: dict[tuple[str, str], Repo] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    accepted: set[tuple[str, str]] = field(default_factory=set)
    drop_after: int | None = None
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    pushed: list[list[str]] = field(default_factory=list)
    _dropped: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_repo(
        self,
        repo_id: str,
        files: dict[str, bytes],
        *,
        repo_type: str = "dataset",
        gated: bool = False,
        private: bool = False,
        sha: str | None = None,
    ) -> str:
        """Create a repo with one commit of ``files`` on main; return the commit hash."""
        repo = Repo(repo_type, repo_id, gated=gated, private=private)
        self.repos[(repo_type, repo_id)] = repo
        return repo.commit(files, sha=sha)


def files_from_dir(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its POSIX path relative to it."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


class _Handler(BaseHTTPRequestHandler):
    server: _HubHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the state's ``requests`` list is the log."""

    @property
    def state(self) -> HubState:
        return self.server.state

    # responses ---------------------------------------------------------------------------

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, payload: Any, status: int = 200) -> None:
        self._send(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    def _error(self, status: int, code: str | None, message: str) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, json.dumps({"error": message}).encode(), headers)

    # access ------------------------------------------------------------------------------

    def _token(self) -> str | None:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        return (token.strip() or None) if scheme == "Bearer" else None

    def _readable(self, repo_type: str, repo_id: str) -> Repo | None:
        """The repo if this request may read it; otherwise the error has been sent."""
        repo = self.state.repos.get((repo_type, repo_id))
        token = self._token()
        if repo is None or (repo.private and token not in self.state.tokens):
            self._error(401 if token is None else 404, "RepoNotFound", "Repository not found")
            return None
        if repo.gated and (token, repo_id) not in self.state.accepted:
            message = (
                f"Access to {repo_type} {repo_id} is restricted. You must have access to it "
                "and be authenticated to access it. Please log in."
            )
            self._error(401 if token is None else 403, "GatedRepo", message)
            return None
        return repo

    def _commit_of(self, repo: Repo, revision: str) -> str | None:
        sha = repo.resolve(revision)
        if sha is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return sha

    # routes ------------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self._route()

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._body = self.rfile.read(length) if length else b""
        self._route()

    def _route(self) -> None:
        path = urlsplit(self.path).path
        with self.state.lock:
            self.state.requests.append((self.command, path, self.headers.get("Range")))
        if self.command == "POST" and path == "/api/repos/create":
            return self._create_repo()
        if self.command == "POST" and path == "/api/validate-yaml":
            return self._json({"errors": [], "warnings": []})
        if match := _API.match(path):
            repo_type = _API_TYPES[match["kind"]]
            return self._api(repo_type, unquote(match["repo"]), match["op"], match["rest"])
        if match := _RESOLVE.match(path):
            repo_type = {"datasets": "dataset", "spaces": "space"}.get(match["kind"] or "", "model")
            rev, file = unquote(match["rev"]), unquote(match["path"])
            return self._resolve(repo_type, unquote(match["repo"]), rev, file)
        self._error(404, None, f"no route for {self.command} {path}")

    def _api(self, repo_type: str, repo_id: str, op: str | None, rest: str | None) -> None:
        if self.command == "POST":
            return self._write(repo_type, repo_id, op, unquote(rest or "main"))
        repo = self._readable(repo_type, repo_id)
        if repo is None:
            return
        if op in (None, "revision"):
            sha = self._commit_of(repo, unquote(rest or "main"))
            if sha is not None:
                self._json(self._info(repo, sha))
        elif op == "tree" and rest is not None:
            revision, _, prefix = rest.partition("/")
            sha = self._commit_of(repo, unquote(revision))
            if sha is not None:
                self._json(self._tree(repo.commits[sha], unquote(prefix)))
        else:
            self._error(404, None, "no such API route")

    @staticmethod
    def _info(repo: Repo, sha: str) -> dict[str, Any]:
        files = repo.commits[sha]
        return {
            "id": repo.repo_id,
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "sha": sha,
            "private": repo.private,
            "gated": "manual" if repo.gated else False,
            "disabled": False,
            "siblings": [{"rfilename": path, "size": len(files[path])} for path in sorted(files)],
            "usedStorage": sum(len(content) for content in files.values()),
        }

    @staticmethod
    def _tree(files: dict[str, bytes], prefix: str) -> list[dict[str, Any]]:
        base = prefix.strip("/")
        return [
            {
                "type": "file",
                "path": path,
                "size": len(files[path]),
                "oid": git_blob_oid(files[path]),
            }
            for path in sorted(files)
            if not base or path.startswith(base + "/")
        ]

    def _resolve(self, repo_type: str, repo_id: str, revision: str, path: str) -> None:
        repo = self._readable(repo_type, repo_id)
        if repo is None:
            return
        sha = self._commit_of(repo, revision)
        if sha is None:
            return
        content = repo.commits[sha].get(path)
        headers = {"X-Repo-Commit": sha, "Accept-Ranges": "bytes"}
        if content is None:
            self._send(404, b"", {**headers, "X-Error-Code": "EntryNotFound"})
            return
        headers["ETag"] = f'"{git_blob_oid(content)}"'
        start, status = 0, 200
        if (ranged := re.match(r"bytes=(\d+)-$", self.headers.get("Range", ""))) is not None:
            start, status = min(int(ranged[1]), len(content)), 206
            headers["Content-Range"] = f"bytes {start}-{len(content) - 1}/{len(content)}"
        body = content[start:]
        key = f"{repo_type}/{repo_id}/{sha}/{path}"
        drop = self.state.drop_after
        if self.command == "GET" and drop is not None and drop < len(body):
            with self.state.lock:
                first = key not in self.state._dropped
                self.state._dropped.add(key)
            if first:  # announce the whole body, send part of it, hang up
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:drop])
                self.wfile.flush()
                self.close_connection = True
                return
        self._send(status, body, headers)

    # writes ------------------------------------------------------------------------------

    def _writer(self) -> bool:
        if self._token() in self.state.tokens:
            return True
        self._error(401, None, "Invalid credentials in Authorization header")
        return False

    def _create_repo(self) -> None:
        if not self._writer():
            return
        payload = json.loads(self._body or b"{}")
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or 'user'}/{payload['name']}"
        url = f"http://{HOST}:{self.server.server_port}/{_PREFIX[repo_type]}{repo_id}"
        with self.state.lock:
            if (repo_type, repo_id) in self.state.repos:  # the Hub names the repo's URL too
                self._json({"error": "You already created this repo", "url": url}, 409)
                return
            private = payload.get("visibility") == "private" or bool(payload.get("private"))
            repo = Repo(repo_type, repo_id, private=private)
            repo.commit({".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"})
            self.state.repos[(repo_type, repo_id)] = repo
        self._json({"url": url, "name": repo_id})

    def _write(self, repo_type: str, repo_id: str, op: str | None, revision: str) -> None:
        if not self._writer():
            return
        repo = self.state.repos.get((repo_type, repo_id))
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found")
            return
        current = repo.commits.get(repo.branches.get(revision, ""), {})
        if op == "preupload":
            files = json.loads(self._body)["files"]
            self._json(
                {
                    "files": [
                        {
                            "path": item["path"],
                            "uploadMode": "regular",
                            "shouldIgnore": False,
                            "oid": git_blob_oid(current[item["path"]])
                            if item["path"] in current
                            else None,
                        }
                        for item in files
                    ]
                }
            )
        elif op == "commit":
            self._commit(repo, revision, current)
        else:
            self._error(404, None, "no such API route")

    def _commit(self, repo: Repo, revision: str, current: dict[str, bytes]) -> None:
        tree = dict(current)
        added: list[str] = []
        for line in self._body.splitlines():
            item = json.loads(line)
            value = item["value"]
            if item["key"] == "file":
                tree[value["path"]] = base64.b64decode(value["content"])
                added.append(value["path"])
            elif item["key"] == "deletedFile":
                tree.pop(value["path"], None)
            elif item["key"] == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                tree = {path: data for path, data in tree.items() if not path.startswith(folder)}
            elif item["key"] != "header":
                self._error(400, None, f"unsupported commit operation {item['key']!r}")
                return
        with self.state.lock:
            sha = repo.commit(tree, revision)
            self.state.pushed.append(added)
        url = f"http://{HOST}:{self.server.server_port}/{_PREFIX[repo.repo_type]}{repo.repo_id}"
        self._json({"commitUrl": f"{url}/commit/{sha}", "commitOid": sha, "success": True})


class _HubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: HubState, port: int) -> None:
        super().__init__((HOST, port), _Handler)
        self.state = state


@dataclass
class HubServer:
    """A running local Hub: its state and its ``HF_ENDPOINT`` URL."""

    state: HubState
    url: str


@contextmanager
def serve_hub(state: HubState | None = None, port: int = 0) -> Iterator[HubServer]:
    """Serve ``state`` on 127.0.0.1 (``port`` 0: a free one) in a thread while in the block."""
    state = state or HubState()
    server = _HubHTTPServer(state, port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HubServer(state, f"http://{HOST}:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _repo_arg(text: str) -> tuple[str, Path]:
    repo_id, sep, folder = text.partition("=")
    if not sep or repo_id.count("/") != 1:
        raise argparse.ArgumentTypeError(f"expected ORG/NAME=FOLDER, got {text!r}")
    return repo_id, Path(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    for kind in ("dataset", "model"):
        parser.add_argument(
            f"--{kind}",
            type=_repo_arg,
            action="append",
            default=[],
            metavar="ORG/NAME=FOLDER",
            help=f"serve FOLDER's files as {kind} repo ORG/NAME (repeatable)",
        )
    parser.add_argument("--token", action="append", default=[], help="a token allowed to write")
    args = parser.parse_args(argv)
    state = HubState(tokens=set(args.token))
    for kind in ("dataset", "model"):
        for repo_id, folder in getattr(args, kind):
            state.add_repo(repo_id, files_from_dir(folder), repo_type=kind)
    server = _HubHTTPServer(state, args.port)
    print(f"HF_ENDPOINT=http://{HOST}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
