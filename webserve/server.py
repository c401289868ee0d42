"""HTTP handler: `/config.js` from settings, files from `web/dist`, index.html for every other
page path (client-side routes like /history), 404 for missing assets so a stale page fails
loudly instead of receiving HTML as JavaScript.

Caching: files under /assets/ carry a content hash in their name and are cached for a year;
index.html and everything else is revalidated on each visit, so a new build shows at once.

Share links (`/s/<token>`): the page is sent with `X-Robots-Tag: noindex, nofollow` (search engines
never list a shared conversation), `Referrer-Policy: no-referrer` (the token in the address never
leaks to a site the conversation links to) and `Cache-Control: no-store`.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath
from typing import ClassVar

from webserve.files import DistFiles, StaticFile
from webserve.runtime import RuntimeConfig

log = logging.getLogger(__name__)

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


class SpaHandler(BaseHTTPRequestHandler):
    files: ClassVar[DistFiles]
    runtime: ClassVar[RuntimeConfig]
    server_version = "webserve"
    sys_version = ""

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, *, head: bool) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path == "/config.js":
            self._send(HTTPStatus.OK, self.runtime.script(), "text/javascript; charset=utf-8", "no-store", head=head)
            return
        found = self.files.resolve(path)
        if found is not None:
            cache = IMMUTABLE if path.startswith("/assets/") else REVALIDATE
            self._send_file(self.files.load(found), cache, head=head)
            return
        if path.startswith("/assets/") or PurePosixPath(path).suffix:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", "no-store", head=head)
            return
        index = self.files.resolve("/index.html")
        if index is None:
            body = b"web/dist/index.html is missing: build the SPA first (make web-build)\n"
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, body, "text/plain; charset=utf-8", "no-store", head=head)
            return
        shared = path.startswith("/s/")
        self._send_file(self.files.load(index), "no-store" if shared else REVALIDATE, head=head, shared=shared)

    def _send_file(self, file: StaticFile, cache: str, *, head: bool, shared: bool = False) -> None:
        accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if file.gzipped is not None and accepts_gzip:
            self._send(HTTPStatus.OK, file.gzipped, file.content_type, cache, head=head, encoding="gzip", shared=shared)
        else:
            self._send(HTTPStatus.OK, file.body, file.content_type, cache, head=head, shared=shared)

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        cache: str,
        *,
        head: bool,
        encoding: str | None = None,
        shared: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer" if shared else "strict-origin-when-cross-origin")
        if shared:
            self.send_header("X-Robots-Tag", "noindex, nofollow")
        if encoding:
            self.send_header("Content-Encoding", encoding)
        if content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", self.runtime.content_security_policy())
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("request", extra={"line": format % args})


def make_server(host: str, port: int, files: DistFiles, runtime: RuntimeConfig) -> ThreadingHTTPServer:
    handler = type("BoundSpaHandler", (SpaHandler,), {"files": files, "runtime": runtime})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
