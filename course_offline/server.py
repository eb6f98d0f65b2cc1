"""A read-only Hugging Face Hub over a ``store.Replica``: the offline world's huggingface.co.

Standard library only. With ``HF_ENDPOINT=http://127.0.0.1:<port>`` the real clients
(``huggingface_hub``, ``datasets``, ``transformers``) talk to it as to the Hub: repository info,
tree listings, refs, paths-info and ``resolve`` downloads (with ranges), and the Hub's error
codes, so a missing repository, revision or file fails the way it fails online. Nothing can be
written, and only files inside a revision's folder are ever served.

Routes (``{type}`` is ``datasets`` or ``models``; ``{rev}`` may be ``%2F``-encoded or raw)::

    GET  /api/course-replica                          who is serving what (to reuse a running server)
    GET  /api/{type}?filter=&pipeline_tag=&search=    search (HfApi().list_models / list_datasets)
    GET  /api/{type}/{org}/{name}[/revision/{rev}]    repository info
    GET  /api/{type}/{org}/{name}/tree/{rev}[/{path}] listing (?recursive, ?expand, ?cursor)
    GET  /api/{type}/{org}/{name}/refs                branches and converts
    POST /api/{type}/{org}/{name}/paths-info/{rev}    info on given paths (a query: the only POST)
    GET|HEAD [/datasets]/{org}/{name}/resolve/{rev}/{path}   a file, with Range support

``COURSE_HUB_VERBOSE=1`` logs every request to stderr; every request is also kept in
``server.requests`` as ``(method, path, status, X-Error-Code)``.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import re
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote

from .store import STAMP, Replica, Repo

VERSION = 1
HOSTS = ("127.0.0.1", "localhost")
TYPES = {"datasets": "dataset", "models": "model"}
CHUNK = 1 << 20  # files are streamed: some are 1 GB
PAGE = 1000  # tree entries per page, as the Hub's listing without expand
MAX_BODY = 1 << 20
RANGE = re.compile(r"bytes=(\d{0,19})-(\d{0,19})")  # 19 digits: no int() of a megabyte-long number


class HubError(Exception):
    """An answer that is an error, as the Hub words it: status, ``X-Error-Code``, message."""

    def __init__(self, status: int, code: str | None, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _no_entry(repo: Repo, rev: str, rel: str, why: str = "does not exist") -> HubError:
    # X-Repo-Commit lets huggingface_hub cache "this file does not exist at this commit".
    return HubError(404, "EntryNotFound", f"Entry Not Found: '{rel}' {why} in {repo.repo_type} '{repo.repo_id}' "
                    f"at revision '{rev}'", {"X-Repo-Commit": repo.commit(rev)})


def _visible(name: str) -> bool:
    # Hidden files are the builder's (the stamp, caches), not the repository's; the Hub's
    # own .gitattributes stays visible.
    return not name.startswith(".") or name == ".gitattributes"


def _clean(rel: str) -> str | None:
    """``rel`` if it is a plain relative path of visible names (or "", the root), else None."""
    if rel and ("\\" in rel or "\0" in rel or any(p in ("", ".", "..") or not _visible(p) for p in rel.split("/"))):
        return None
    return rel


def _inside(base: str, real: str) -> bool:
    """Whether a real path (symlinks resolved) is ``base`` or a visible entry below it: a symlink
    may neither leave the revision folder nor give a visible name to a hidden file."""
    if real == base:
        return True
    return os.path.commonpath([base, real]) == base and bool(_clean(os.path.relpath(real, base)))


def _oid(commit: str, rel: str, st: os.stat_result | None = None) -> str:
    """A file's ETag and tree oid. Not a hash of the content: that would read a 1 GB file at its
    first HEAD, past the clients' 10 s ETag timeout. A stand-in never changes once built, and a
    rebuild changes the commit; size and mtime cover a file edited by hand in between."""
    key = f"{commit}:{rel}" + (f":{st.st_size}:{st.st_mtime_ns}" if st else "")
    return hashlib.sha1(key.encode()).hexdigest()


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """``Range: bytes=a-b | a- | -n`` as (first, last) inside a file of ``size`` bytes; None when it
    is malformed, several ranges, or not satisfiable (answered 416)."""
    m = RANGE.fullmatch(header.strip())
    if not m or not any(m.groups()):
        return None
    a, b = m.groups()
    if not a:  # the last b bytes
        start, end = size - int(b), size - 1
        return (max(start, 0), end) if int(b) > 0 and size > 0 else None
    start, end = int(a), min(int(b), size - 1) if b else size - 1
    return (start, end) if start < size and start <= end else None


def _flag(params: dict, key: str) -> bool:
    return str(params.get(key, ["false"])[0]).lower() in ("1", "true")


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


class HubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, replica: Replica):
        super().__init__(address, _Handler)
        self.replica = replica
        self.verbose = os.environ.get("COURSE_HUB_VERBOSE", "") not in ("", "0")
        # (method, raw path, status, X-Error-Code): what the clients asked, for tests and debugging
        self.requests: deque[tuple[str, str, int, str | None]] = deque(maxlen=10000)
        self.lock = threading.Lock()
        self.active = 0
        self.last_request = time.monotonic()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the clients make many small requests
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40-ms delayed-ACK stall
    server_version = "course-offline-hub/1"
    timeout = 120  # an idle keep-alive connection does not hold a thread forever
    server: HubServer

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def __getattr__(self, name):
        # Every other method (PUT, DELETE, PATCH, anything) is refused with 405 rather than the
        # 501 that http.server answers for a method it has no do_ for.
        if name.startswith("do_"):
            return lambda: self._dispatch(None)
        raise AttributeError(name)

    def _dispatch(self, method: str | None):
        with self.server.lock:
            self.server.active += 1
        self._started, self._code = False, None
        try:
            if method is None:
                raise HubError(405, None, f"{self.command} not allowed: this Hub is read-only",
                               {"Allow": "GET, HEAD, POST"})
            self._route(method)
        except HubError as e:
            self._fail(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped reading (a seek, a cancel)
        except Exception as e:  # a bug answers 500; it must never take the server down
            self._fail(HubError(500, None, f"internal error: {type(e).__name__}: {e}"))
        finally:
            with self.server.lock:
                self.server.active -= 1
                self.server.last_request = time.monotonic()

    def _fail(self, e: HubError):
        if self._started:  # headers already went out: all we can do is hang up
            self.close_connection = True
            return
        if e.status == 405 or self.command == "POST":
            self.close_connection = True  # an unread request body must not be taken for a request
        # Header values are latin-1 and one line: a client-chosen path must not break them.
        message = e.message.encode("ascii", "backslashreplace").decode().replace("\r", " ").replace("\n", " ")
        headers = {"X-Error-Message": message, **e.headers}
        if e.code:
            headers["X-Error-Code"] = self._code = e.code
        self._json({"error": e.message}, e.status, headers)

    def _json(self, obj, status: int = 200, headers: dict | None = None):
        body = json.dumps(obj).encode()
        self._start(status, {"Content-Type": "application/json; charset=utf-8",
                             "Content-Length": str(len(body)), **(headers or {})})
        if self.command != "HEAD":
            self.wfile.write(body)

    def _start(self, status: int, headers: dict):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self._started = True

    def log_request(self, code="-", size="-"):
        # getattr: http.server logs a malformed request before it has a path
        entry = (self.command, getattr(self, "path", None), code if isinstance(code, int) else 0)
        self.server.requests.append((*entry, getattr(self, "_code", None)))
        if self.server.verbose:
            super().log_request(code, size)

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    def _route(self, method: str):
        # Split the raw path before decoding: a %2F inside a revision or a path is data, not a separator.
        raw, _, query = self.path.split("#", 1)[0].partition("?")
        if not raw.startswith("/"):
            raise HubError(400, None, "the request target must be a path")
        segs, params = raw.split("/")[1:], parse_qs(query)
        if segs[0] == "api":
            return self._api(method, segs[1:], params)
        if method == "POST":
            raise HubError(405, None, "POST is allowed only on /api/.../paths-info/...")
        rtype = "model"
        if segs[0] == "datasets":
            rtype, segs = "dataset", segs[1:]
        if len(segs) >= 4 and segs[2] == "resolve":
            repo = self._repo(rtype, segs[0], segs[1])
            rev, rest = self._revision(repo, segs[3:])
            return self._file(repo, rev, rest)
        raise HubError(404, None, f"no such route: {unquote(raw)}")

    def _api(self, method: str, segs: list[str], params: dict):
        if segs == ["course-replica"] and method != "POST":
            r = self.server.replica
            return self._json({"root": str(r.root), "size": r.size, "pid": os.getpid(), "version": VERSION})
        if len(segs) == 1 and segs[0] in TYPES and method != "POST":
            return self._json(self._search(TYPES[segs[0]], params))
        action, args = (segs[3], segs[4:]) if len(segs) > 3 else ("", [])
        if method == "POST" and action != "paths-info":
            raise HubError(405, None, "POST is allowed only on /api/.../paths-info/...")
        known = {"": not args, "revision": bool(args), "tree": bool(args), "refs": not args,
                 "paths-info": bool(args) and method == "POST"}
        if len(segs) < 3 or segs[0] not in TYPES or not known.get(action):
            raise HubError(404, None, f"no such route: /api/{unquote('/'.join(segs))}")
        repo = self._repo(TYPES[segs[0]], segs[1], segs[2])
        if action == "refs":
            return self._json(self._refs(repo))
        rev, rest = self._revision(repo, args or ["main"])
        if action in ("", "revision") and not rest:
            return self._json(self._info(repo, rev, params))
        if action == "paths-info" and not rest:
            return self._paths_info(repo, rev)
        if action == "tree":
            return self._tree(repo, rev, rest, params)
        raise HubError(404, None, f"no such route: /api/{unquote('/'.join(segs))}")

    def _search(self, rtype: str, params: dict) -> list[dict]:
        """``HfApi().list_models/list_datasets``: the built stand-ins whose tags hold every ``filter``
        (and ``pipeline_tag``), whose id contains ``search``; at most ``limit``."""
        from . import layout

        wanted = set(params.get("filter", [])) | {f"{v}" for v in params.get("pipeline_tag", [])}
        search = params.get("search", [""])[0].lower()
        table = layout.MODELS if rtype == "model" else layout.DATASETS
        found = []
        for repo_id, spec in table.items():
            repo = self.server.replica.repo(rtype, repo_id)
            tags = spec.tags if rtype == "model" else ["datasets", "parquet", "audio"]
            if repo is None or not wanted <= set(tags) or search not in repo_id.lower():
                continue
            entry = {"id": repo_id, "_id": repo.commit("main")[:24], "sha": repo.commit("main"), "tags": tags,
                     "private": False, "downloads": 0, "likes": 0}
            if rtype == "model":
                entry.update(modelId=repo_id, pipeline_tag=spec.pipeline_tag, library_name="transformers")
            found.append(entry)
        limit = params.get("limit", [None])[0]
        return found[: int(limit)] if limit and limit.isdigit() else found

    def _repo(self, rtype: str, org: str, name: str) -> Repo:
        replica, repo_id = self.server.replica, f"{unquote(org)}/{unquote(name)}"
        repo = replica.repo(rtype, repo_id)
        if repo is not None:
            return repo
        builder = replica.builder_of(rtype, repo_id)
        if builder:
            msg = (f"{rtype} '{repo_id}' is not built at size '{replica.size}' in {replica.root}: "
                   f"run `python -m course_offline build --only {builder} --size {replica.size}`")
        else:
            msg = f"Repository Not Found: {rtype} '{repo_id}' is not in the offline replica at {replica.root}"
        raise HubError(404, "RepoNotFound", msg)

    def _revision(self, repo: Repo, segs: list[str]) -> tuple[str, list[str]]:
        """The branch that the leading segments name (encoded as one, or raw with slashes), and the rest."""
        for rev in sorted(repo.revisions, key=len, reverse=True):
            n = rev.count("/") + 1
            for taken in (1, n):
                if len(segs) >= taken and repo.find_revision("/".join(map(unquote, segs[:taken]))) == rev:
                    return rev, segs[taken:]
        raise HubError(404, "RevisionNotFound", f"Revision '{unquote(segs[0])}' not found in {repo.repo_type} "
                       f"'{repo.repo_id}' (it has: {', '.join(repo.revisions)})")

    def _path(self, repo: Repo, rev: str, rel: str) -> tuple[str, str]:
        """``rel`` checked, and its real path, inside the revision folder's real path (no symlink out)."""
        base = os.path.realpath(repo.revisions[rev])
        real = os.path.realpath(os.path.join(base, rel)) if _clean(rel) is not None else ""
        if not real or not _inside(base, real) or not os.path.exists(real):
            raise _no_entry(repo, rev, rel)
        return base, real

    def _entry(self, repo: Repo, rev: str, rel: str, real: str, expand: bool) -> dict:
        commit, st = repo.commit(rev), os.stat(real)
        if os.path.isdir(real):
            entry = {"type": "directory", "oid": _oid(commit, rel), "size": 0, "path": rel}
        else:
            entry = {"type": "file", "oid": _oid(commit, rel, st), "size": st.st_size, "path": rel}
        if expand:
            entry["lastCommit"] = {"id": commit, "title": "Build the offline stand-in", "date": _iso(st.st_mtime)}
        return entry

    def _walk(self, base: str, folder: str, prefix: str, recursive: bool):
        """(relative path, real path) of the visible entries under ``folder``, sorted. Symlinked
        folders are skipped (no loops); a symlinked file only if it resolves inside ``base``."""
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            if not _visible(e.name):
                continue
            if e.is_dir(follow_symlinks=False):
                yield prefix + e.name, e.path
                if recursive:
                    yield from self._walk(base, e.path, prefix + e.name + "/", True)
            elif e.is_file() and _inside(base, os.path.realpath(e.path)):
                yield prefix + e.name, os.path.realpath(e.path)

    def _info(self, repo: Repo, rev: str, params: dict) -> dict:
        base = os.path.realpath(repo.revisions[rev])
        stamp = next((p for p in (os.path.join(base, STAMP), os.path.join(os.path.dirname(base), STAMP))
                      if os.path.exists(p)), base)
        siblings = []
        for rel, real in self._walk(base, base, "", True):
            if os.path.isfile(real):
                sib = {"rfilename": rel}
                if _flag(params, "blobs"):
                    st = os.stat(real)
                    sib.update(size=st.st_size, blobId=_oid(repo.commit(rev), rel, st))
                siblings.append(sib)
        when = _iso(os.stat(stamp).st_mtime)
        return {"id": repo.repo_id, "author": repo.repo_id.split("/")[0],
                "sha": repo.commit(rev), "lastModified": when, "createdAt": when, "private": False,
                "disabled": False, "gated": False, "tags": [], "downloads": 0, "likes": 0, "siblings": siblings}

    def _refs(self, repo: Repo) -> dict:
        refs = {"branches": [], "converts": [], "tags": []}
        for rev in repo.revisions:
            kind, name, ref = ("converts", rev.rsplit("/", 1)[1], rev) if rev.startswith("refs/convert/") \
                else ("branches", rev, f"refs/heads/{rev}")
            refs[kind].append({"name": name, "ref": ref, "targetCommit": repo.commit(rev)})
        return refs

    def _tree(self, repo: Repo, rev: str, rest: list[str], params: dict):
        rel = "/".join(map(unquote, rest))
        base, real = self._path(repo, rev, rel)
        if not os.path.isdir(real):
            raise _no_entry(repo, rev, rel, "is not a folder")
        prefix = rel + "/" if rel else ""
        paths = list(self._walk(base, real, prefix, _flag(params, "recursive")))
        # Cursor pagination with a Link header, as the Hub does: the clients follow it.
        start = int(params["cursor"][0]) if params.get("cursor", [""])[0].isdigit() else 0
        page = [self._entry(repo, rev, p, r, _flag(params, "expand")) for p, r in paths[start:start + PAGE]]
        headers = {}
        if start + PAGE < len(paths):
            flags = "&".join(f"{k}={str(_flag(params, k)).lower()}" for k in ("recursive", "expand"))
            query = f"{flags}&cursor={start + PAGE}"
            raw = self.path.partition("?")[0]
            headers["Link"] = f'<http://{self.headers.get("Host", "127.0.0.1")}{raw}?{query}>; rel="next"'
        self._json(page, headers=headers)

    def _paths_info(self, repo: Repo, rev: str):
        try:  # huggingface_hub sends a form (paths=a&paths=b&expand=True); accept JSON too
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_BODY:
                raise ValueError(f"Content-Length {length}")
            body = self.rfile.read(length).decode("utf-8", "replace")
            if self.headers.get("Content-Type", "").startswith("application/json"):
                data = json.loads(body or "{}")
                paths, params = data.get("paths", []), {"expand": [data.get("expand", False)]}
                paths = [paths] if isinstance(paths, str) else list(paths)
            else:
                params = parse_qs(body)
                paths = params.get("paths", [])
        except (ValueError, TypeError, AttributeError) as e:
            raise HubError(400, None, f"paths-info: malformed request body ({e})") from None
        out = []
        for rel in paths:  # like the Hub: a path that does not exist is left out, not an error
            try:
                _, real = self._path(repo, rev, str(rel).strip("/"))
            except HubError:
                continue
            out.append(self._entry(repo, rev, str(rel).strip("/"), real, _flag(params, "expand")))
        self._json(out)

    def _file(self, repo: Repo, rev: str, rest: list[str]):
        rel = "/".join(map(unquote, rest))
        _, real = self._path(repo, rev, rel)
        if not os.path.isfile(real):
            raise _no_entry(repo, rev, rel, "is a folder")
        # O_NOFOLLOW: the checked real path is what gets opened, even if a symlink is swapped in since.
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            size, etag = st.st_size, _oid(repo.commit(rev), rel, st)
            headers = {"X-Repo-Commit": repo.commit(rev), "ETag": f'"{etag}"', "Accept-Ranges": "bytes",
                       "Content-Type": mimetypes.guess_type(rel)[0] or "application/octet-stream"}
            rng = self.headers.get("Range")
            if rng and self.headers.get("If-Range", f'"{etag}"').strip() != f'"{etag}"':
                rng = None  # the client's copy is of another version: send it all
            start, end, status = 0, size - 1, 200
            if rng:
                span = _byte_range(rng, size)
                if span is None:
                    raise HubError(416, None, f"Range '{rng}' not satisfiable for '{rel}' ({size} bytes)",
                                   headers={"Content-Range": f"bytes */{size}"})
                (start, end), status = span, 206
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            headers["Content-Length"] = str(max(end - start + 1, 0))
            self._start(status, headers)
            if self.command == "HEAD":
                return
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(CHUNK, left))
                if not chunk:  # the file shrank under us: hang up rather than send short
                    self.close_connection = True
                    return
                self.wfile.write(chunk)
                left -= len(chunk)


def make_server(replica: Replica, port: int, host: str = "127.0.0.1") -> HubServer:
    """A server bound to ``host:port`` (loopback only: the replica is for this machine). Port 0 picks a free one."""
    if host not in HOSTS:
        raise ValueError(f"the offline Hub binds to 127.0.0.1 only, not {host!r}")
    return HubServer(("127.0.0.1", port), replica)


def serve(replica: Replica, port: int, idle_exit_s: float | None = None) -> None:
    """Serve until interrupted, or until ``idle_exit_s`` seconds pass with no request (a forgotten
    daemon ends by itself)."""
    server = make_server(replica, port)
    print(f"offline Hub: {replica.root} ({replica.size}) on http://127.0.0.1:{server.server_address[1]}",
          file=sys.stderr)

    def watch():
        while True:
            time.sleep(min(idle_exit_s, 1.0))
            with server.lock:
                idle = server.active == 0 and time.monotonic() - server.last_request > idle_exit_s
            if idle:
                print(f"offline Hub: idle for {idle_exit_s:g} s, exiting", file=sys.stderr)
                server.shutdown()
                return

    if idle_exit_s:
        threading.Thread(target=watch, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


__all__ = ["HubServer", "make_server", "serve"]
