"""The console's request handler: routes, JSON answers and static files, free of any web framework.

:meth:`ConsoleApp.handle` takes a method, a raw (still percent-encoded) path, a query string, headers
and a body, and returns a :class:`Response`; ``flyte console``'s stdlib server and the devbox's ASGI
app both call it. What it serves: the page (one ``index.html`` for every page route), the files of
the static folder (regular files directly inside it, by name; never a symlink, never a path with a
separator after decoding), and the JSON API of ``docs/console.md``. Nothing else: an unknown path is
a 404 naming no file.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from flyte.console.store import BadRequest, Forbidden, NotFound, RunStore

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 500

# The page's own policy (W's index.html carries the same one in a meta tag).
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
# A report is the user's HTML: scripts may run, but in an opaque origin (no cookies, no API calls as the page).
REPORT_CSP = "sandbox allow-scripts"

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
# (chained str.replace: str.translate with a table walks the text in Python-level steps, 3-5x json.dumps itself)
_JSON_UNSAFE = (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header_list(self) -> list[tuple[str, str]]:
        """Every header to send: content type and length, nosniff, no caching of data, then the extra ones."""
        out = [("Content-Type", self.content_type), ("Content-Length", str(len(self.body))),
               ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")]
        if not any(k.lower() == "cache-control" for k, _ in self.headers):
            out.append(("Cache-Control", "no-store"))
        return out + self.headers


def json_bytes(doc: Any) -> bytes:
    """JSON that stays inert even if a browser sniffs it as HTML: ``<``, ``>``, ``&`` are escaped."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str)
    for char, escaped in _JSON_UNSAFE:
        if char in text:
            text = text.replace(char, escaped)
    return text.encode()


def _json(status: int, doc: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, json_bytes(doc), headers=list(headers or []))


def error_response(status: int, message: str) -> Response:
    return _json(status, {"error": message})


#: ``authorize(headers)`` -> None when the request may go on, else why not (sent back, with a 401).
Authorizer = Callable[[Mapping[str, str]], "str | None"]


class ConsoleApp:
    """The console over ``store``.

    ``authorize`` (the devbox's ``--auth``) guards aborts, and every API read when ``reads_need_auth``.
    A request whose ``Host`` is not a loopback name is refused unless ``any_host`` (a server bound to a
    non-loopback address): a page of another site whose name was made to resolve to 127.0.0.1 (DNS rebinding)
    would otherwise read the runs. A request that changes something (``POST``) from another origin is refused.
    """

    def __init__(self, store: RunStore, static_dir: Path | None = None, authorize: Authorizer | None = None,
                 reads_need_auth: bool = False, any_host: bool = False) -> None:
        self.store = store
        self.static_dir = (static_dir or STATIC_DIR).resolve()
        self.authorize = authorize
        self.reads_need_auth = reads_need_auth and authorize is not None
        self.any_host = any_host

    # -- entry -----------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes = b"") -> Response:
        """Answer one request. ``headers`` keys are lower-case; ``raw_path`` is as sent (percent-encoded)."""
        try:
            refused = self._foreign(method.upper(), headers)
            if refused is not None:
                return refused
            return self._route(method.upper(), raw_path, query, headers)
        except NotFound as e:
            return error_response(404, str(e))
        except Forbidden as e:
            return error_response(403, str(e))
        except BadRequest as e:
            return error_response(400, str(e))
        except Exception as e:  # a bug or an unreadable store: say what, keep serving
            import logging

            logging.getLogger("flyte.console").exception("console request %s %s failed", method, raw_path[:200])
            return error_response(500, f"{type(e).__name__}: {e}")

    def _foreign(self, method: str, headers: Mapping[str, str]) -> Response | None:
        """A 403 for a request made by a page of another site (see the class docstring), else None."""
        host = headers.get("host")
        if host is not None and not self.any_host and not is_loopback_host(host):
            return error_response(403, f"Host {host[:100]!r} is not this console's: open it at a loopback address "
                                       "(http://127.0.0.1:PORT), or serve it on a non-loopback --host")
        origin = headers.get("origin")
        if method not in ("GET", "HEAD") and origin is not None:
            parts = urlsplit(origin)
            if origin == "null" or host is None or parts.scheme not in ("http", "https") \
                    or parts.netloc.lower() != host.lower():
                return error_response(403, "A request from another site (its Origin is not this console's) is refused")
        return None

    def _route(self, method: str, raw_path: str, query: str, headers: Mapping[str, str]) -> Response:
        parts = _segments(raw_path)
        if parts is None:
            return error_response(404, "Not found")
        if parts and parts[0] == "api":
            return self._api(method, parts[1:], _query(query), headers)
        if method not in ("GET", "HEAD"):
            return error_response(405, f"{method} is not allowed here")
        if len(parts) == 7 and parts[:3] == ["v2", "runs", "project"] and parts[4] == "domain":
            # the official console's run URL (what `flyte run` prints for a devbox run) -> this console's page
            return Response(302, b"", "text/plain; charset=utf-8", headers=[("Location", f"/runs/{quote(parts[6])}")])
        if parts and parts[0] == "static" and len(parts) == 2:
            return self._static(parts[1])
        if (not parts or (parts[0] == "runs" and len(parts) == 2)
                or (parts[0] == "runs" and len(parts) == 4 and parts[2] == "actions")):
            return self._page()
        return error_response(404, "Not found")

    # -- pages and static files ----------------------------------------------------------

    def _page(self) -> Response:
        r = self._static("index.html")
        if r.status == 200:
            r.headers.append(("Content-Security-Policy", PAGE_CSP))
        return r

    def _static(self, name: str) -> Response:
        if not _SEGMENT.fullmatch(name):
            return error_response(404, "Not found")
        path = self.static_dir / name
        try:
            st = os.lstat(path)
        except OSError:
            return error_response(404, "Not found")
        import stat

        # a regular file directly in the folder; a symlink (even to a file inside) is never followed
        if not stat.S_ISREG(st.st_mode) or path.resolve().parent != self.static_dir:
            return error_response(404, "Not found")
        data = path.read_bytes()
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "image/svg+xml", "application/json"):
            ctype += "; charset=utf-8"
        return Response(200, data, ctype, headers=[("Cache-Control", "no-cache")])

    # -- the API -----------------------------------------------------------------------

    def _api(self, method: str, parts: list[str], q: dict[str, str], headers: Mapping[str, str]) -> Response:
        store = self.store
        if parts == ["info"]:
            if method != "GET":
                return error_response(405, "use GET")
            from flyte import __version__

            return _json(200, {"source": store.source, "title": store.title, "can_abort": store.can_abort,
                               "auth": self.authorize is not None, "version": __version__})
        if parts == [] or parts[0] != "runs":
            return error_response(404, "Not found")
        if len(parts) == 3 and parts[2] == "abort":
            if method != "POST":
                return error_response(405, "use POST to abort a run")
            denied = self._check(headers)
            if denied:
                return denied
            return _json(200, {"phase": store.abort(parts[1])})
        if method not in ("GET", "HEAD"):
            return error_response(405, f"{method} is not allowed here")
        if self.reads_need_auth:
            denied = self._check(headers)
            if denied:
                return denied
        if len(parts) == 1:
            phases = frozenset(p.strip().upper() for p in q.get("phase", "").split(",") if p.strip())
            limit = _int(q.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
            since = q.get("since") or None
            runs, cursor = store.list_runs(phases=phases, task=q.get("task") or None, limit=limit, since=since)
            gone_since = getattr(store, "gone_since", None)  # optional: a store whose runs can disappear
            gone: list[str] = gone_since(since) if gone_since is not None else []
            return _json(200, {"runs": runs, "cursor": cursor, "gone": gone})
        run = parts[1]
        if len(parts) == 2:
            summary, actions, cursor = store.get_run(run, since=q.get("since") or None)
            return _json(200, {"run": summary, "actions": actions, "cursor": cursor})
        if len(parts) >= 4 and parts[2] == "actions":
            action = parts[3]
            if len(parts) == 4:
                return _json(200, store.get_action(run, action))
            if parts[4:] == ["logs"]:
                offset = q.get("offset") or ""
                if len(offset) > 60 or offset.strip("0123456789.") or offset.count(".") > 2:
                    raise BadRequest(f"offset={offset[:40]!r} is not an offset of an earlier answer; pass its 'offset'")
                return _json(200, store.logs(run, action, offset))
            if parts[4:] == ["report"]:
                html = store.report(run, action)
                return Response(200, html.encode("utf-8"), "text/html; charset=utf-8",
                                headers=[("Content-Security-Policy", REPORT_CSP)])
        return error_response(404, "Not found")

    def _check(self, headers: Mapping[str, str]) -> Response | None:
        if self.authorize is None:
            return None
        why = self.authorize(headers)
        if why is None:
            return None
        return _json(401, {"error": why}, headers=[("WWW-Authenticate", 'Bearer realm="flyte-console"')])


def is_loopback_host(host: str) -> bool:
    """Whether a ``Host`` header names this machine's loopback: ``localhost``, ``127.x.y.z``, ``[::1]`` (any port)."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name in ("localhost", "::1") or name.endswith(".localhost"):
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _segments(raw_path: str) -> list[str] | None:
    """The decoded path segments, or None when the path tries to leave where it is (``..``, ``%2f``, NUL...)."""
    path = raw_path.split("?", 1)[0]
    if not path.startswith("/") or "\\" in path:
        return None
    out = []
    for raw in path.split("/")[1:]:
        if raw == "":
            continue
        try:
            seg = unquote(raw, errors="strict") if "%" in raw else raw
        except UnicodeDecodeError:
            return None
        if seg in (".", "..") or "/" in seg or "\\" in seg or "\x00" in seg or ".." in seg:
            return None
        out.append(seg)
    return out


def _query(query: str) -> dict[str, str]:
    try:
        parsed = parse_qs(query, keep_blank_values=True, max_num_fields=50)
    except ValueError as e:
        raise BadRequest(f"Bad query string: {e}") from None
    return {k: v[-1] for k, v in parsed.items()}


def _int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise BadRequest(f"{name}={value[:40]!r} is not a whole number") from None
    if not low <= n <= high:
        raise BadRequest(f"{name}={n} is out of range ({low}..{high})")
    return n


__all__ = [
    "PAGE_CSP", "REPORT_CSP", "STATIC_DIR", "Authorizer", "ConsoleApp", "Response", "error_response",
    "is_loopback_host", "json_bytes",
]
