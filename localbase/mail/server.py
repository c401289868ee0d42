"""The mailbox on :54324: what `supabase start` gives with Mailpit, over the mail folder Auth writes.

A developer opens http://127.0.0.1:54324 and clicks the link in the newest mail; tests read the
same mails through Mailpit's JSON API (the subset clients use):

    GET    /api/v1/messages?start=&limit=     newest first: {total, unread, count, start, tags, messages}
    GET    /api/v1/search?query=to:a@b.c      `to:`, `subject:`, `is:unread` and plain words, ANDed
    GET    /api/v1/message/{ID|latest}        one message (Text, HTML, From, To, Subject, Date, ...); marks it read
    GET    /api/v1/message/{ID}/raw           the message as RFC 5322 text
    PUT    /api/v1/messages                   {"IDs": [...], "Read": bool} (no IDs: all)
    DELETE /api/v1/messages                   {"IDs": [...]} (no body or no IDs: all)
    GET    /api/v1/info, /livez, /readyz

The pages (/ and /view/{ID}) escape everything they show and forbid scripts by CSP; the mail
bodies are shown in a sandboxed frame. Only loopback is served by default: the mails hold
sign-in links.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html import escape
from typing import Any

from localbase.http import Receive, Request, Scope, Send, respond, respond_json
from localbase.mail import store

VERSION = "v1.27-localbase"
_PAGE_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; img-src data:"),
    (b"cache-control", b"no-store"),
]


def _address(text: str) -> dict[str, str]:
    return {"Name": "", "Address": text}


def _created(mail: dict[str, Any]) -> str:
    ns = int(mail.get("created_ns") or int(mail.get("sent_at") or 0) * 1_000_000_000)
    moment = datetime.fromtimestamp(ns / 1e9, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _size(mail: dict[str, Any]) -> int:
    return len(str(mail.get("text", "")).encode()) + len(str(mail.get("html", "")).encode())


def summary(mail: dict[str, Any]) -> dict[str, Any]:
    """Mailpit's MessageSummary."""
    text = str(mail.get("text") or mail.get("action_link") or "")
    return {
        "ID": mail["id"],
        "MessageID": f"{mail['id']}@localbase",
        "Read": bool(mail.get("read")),
        "From": _address(str(mail.get("from") or "")),
        "To": [_address(str(mail.get("to") or ""))],
        "Cc": [],
        "Bcc": [],
        "ReplyTo": [],
        "Subject": str(mail.get("subject") or ""),
        "Created": _created(mail),
        "Username": "",
        "Tags": [],
        "Size": _size(mail),
        "Attachments": 0,
        "Snippet": " ".join(text.split())[:250],
    }


def message(mail: dict[str, Any]) -> dict[str, Any]:
    """Mailpit's Message."""
    return {
        "ID": mail["id"],
        "MessageID": f"{mail['id']}@localbase",
        "From": _address(str(mail.get("from") or "")),
        "To": [_address(str(mail.get("to") or ""))],
        "Cc": [],
        "Bcc": [],
        "ReplyTo": [],
        "ReturnPath": str(mail.get("from") or ""),
        "Subject": str(mail.get("subject") or ""),
        "ListUnsubscribe": {"Header": "", "Links": [], "Errors": "", "HeaderPost": ""},
        "Date": _created(mail),
        "Tags": [],
        "Username": "",
        "Text": str(mail.get("text") or mail.get("action_link") or ""),
        "HTML": str(mail.get("html") or ""),
        "Size": _size(mail),
        "Inline": [],
        "Attachments": [],
    }


def _raw(mail: dict[str, Any]) -> str:
    return (
        f"From: {mail.get('from', '')}\r\nTo: {mail.get('to', '')}\r\nSubject: {mail.get('subject', '')}\r\n"
        f"Date: {_created(mail)}\r\nMessage-ID: <{mail['id']}@localbase>\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{mail.get('text', '')}"
    )


def matches(mail: dict[str, Any], query: str) -> bool:
    """Mailpit's search, the part tests use: every term must match (case-insensitive)."""
    for term in query.split():
        key, _, wanted = term.partition(":")
        wanted = wanted.strip('"').lower()
        if key == "to" and wanted:
            if wanted not in str(mail.get("to", "")).lower():
                return False
        elif key == "subject" and wanted:
            if wanted not in str(mail.get("subject", "")).lower():
                return False
        elif term == "is:unread":
            if mail.get("read"):
                return False
        elif term.strip('"').lower() not in json.dumps(mail, ensure_ascii=False).lower():
            return False
    return True


class MailboxApp:
    """The ASGI app; `mail_dir` is the folder the gateway's Auth writes (LOCALBASE_MAIL_DIR)."""

    def __init__(self, mail_dir: str) -> None:
        self.mail_dir = mail_dir

    def _all(self) -> list[dict[str, Any]]:
        return [m for m in (store.read(self.mail_dir, i) for i in store.ids(self.mail_dir)) if m is not None]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        method, path = request.method, request.path.rstrip("/") or "/"
        if path in {"/livez", "/readyz"}:
            await respond(send, 200, b"ok", [(b"content-type", b"text/plain")])
        elif path == "/api/v1/messages":
            await self._messages(request, send, method)
        elif path == "/api/v1/search" and method == "GET":
            query = request.query_value("query") or ""
            await self._listing(request, send, [m for m in self._all() if matches(m, query)])
        elif path.startswith("/api/v1/message/") and method == "GET":
            await self._message(send, path.removeprefix("/api/v1/message/"))
        elif path == "/api/v1/info" and method == "GET":
            mails = self._all()
            await respond_json(
                send, 200, {"Version": VERSION, "Messages": len(mails), "Unread": sum(not m.get("read") for m in mails)}
            )
        elif path == "/" and method == "GET":
            await respond(send, 200, _index_page(self._all()).encode(), _PAGE_HEADERS)
        elif path.startswith("/view/") and method == "GET":
            await self._view(send, path.removeprefix("/view/"))
        else:
            await respond_json(send, 404, {"Error": "not found"})

    async def _messages(self, request: Request, send: Send, method: str) -> None:
        if method == "GET":
            await self._listing(request, send, self._all())
            return
        if method not in {"PUT", "DELETE"}:
            await respond_json(send, 405, {"Error": "method not allowed"})
            return
        try:
            body = json.loads(await request.body(65_536) or b"{}")
        except ValueError:
            await respond_json(send, 400, {"Error": "invalid JSON"})
            return
        named = body.get("IDs") if isinstance(body, dict) else None
        only = [str(i) for i in named] if isinstance(named, list) and named else None
        if method == "DELETE":
            store.delete(self.mail_dir, only)
        else:
            for mail_id in only or store.ids(self.mail_dir):
                store.mark_read(self.mail_dir, mail_id, bool(body.get("Read", True)))
        await respond(send, 200, b"ok", [(b"content-type", b"text/plain")])

    async def _listing(self, request: Request, send: Send, mails: list[dict[str, Any]]) -> None:
        start = _int(request.query_value("start"), 0)
        limit = _int(request.query_value("limit"), 50)
        page = mails[start : start + limit]
        unread = sum(not m.get("read") for m in mails)
        await respond_json(
            send,
            200,
            {
                "total": len(mails),
                "unread": unread,
                "count": len(page),
                "messages_count": len(mails),
                "messages_unread": unread,
                "start": start,
                "tags": [],
                "messages": [summary(m) for m in page],
            },
        )

    async def _message(self, send: Send, rest: str) -> None:
        mail_id, _, part = rest.partition("/")
        if mail_id == "latest":
            newest = store.ids(self.mail_dir)
            mail_id = newest[0] if newest else ""
        mail = store.read(self.mail_dir, mail_id)
        if mail is None or part not in {"", "raw"}:
            await respond_json(send, 404, {"Error": "message not found"})
            return
        if part == "raw":
            await respond(send, 200, _raw(mail).encode(), [(b"content-type", b"text/plain; charset=utf-8")])
            return
        store.mark_read(self.mail_dir, mail_id)
        await respond_json(send, 200, message(mail))

    async def _view(self, send: Send, mail_id: str) -> None:
        raw = mail_id.removesuffix(".html")
        mail = store.read(self.mail_dir, raw)
        if mail is None:
            await respond(send, 404, b"not found", [(b"content-type", b"text/plain")])
            return
        if mail_id.endswith(".html"):  # the body alone, for the sandboxed frame
            await respond(send, 200, str(mail.get("html") or "").encode(), _PAGE_HEADERS)
            return
        store.mark_read(self.mail_dir, raw)
        await respond(send, 200, _view_page(mail).encode(), _PAGE_HEADERS)


def _int(text: str | None, default: int) -> int:
    try:
        return max(0, int(text)) if text else default
    except ValueError:
        return default


_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f6f7fb;color:#1f2330}"
    "header{background:#3b4cca;color:#fff;padding:12px 20px}main{padding:16px 20px;max-width:1100px}"
    "table{width:100%;border-collapse:collapse;background:#fff}td,th{padding:8px;border-bottom:1px solid #e3e5ee;"
    "text-align:left;vertical-align:top}a{color:#3b4cca}.code{font-family:monospace;font-size:16px}"
    ".unread td{font-weight:600}iframe{width:100%;height:340px;border:1px solid #e3e5ee;background:#fff}"
    "@media(max-width:640px){td:nth-child(3),th:nth-child(3){display:none}}"
)


def _index_page(mails: list[dict[str, Any]]) -> str:
    rows = "".join(
        f'<tr class="{"" if m.get("read") else "unread"}" data-testid="mail-row">'
        f"<td>{escape(str(m.get('to', '')))}</td>"
        f'<td><a href="/view/{escape(m["id"])}">{escape(str(m.get("subject", "")))}</a></td>'
        f"<td>{escape(_created(m))}</td>"
        f'<td><a data-testid="mail-link" href="{escape(str(m.get("action_link", "")), quote=True)}">open link</a>'
        f' <span class="code">{escape(str(m.get("otp", "")))}</span></td></tr>'
        for m in mails
    )
    empty = '<p data-testid="mailbox-empty">No mail yet.</p>' if not mails else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Mailbox ({len(mails)})</title><style>{_STYLE}</style></head><body>"
        "<header><strong>Local mailbox</strong> — every mail the local Auth sent (sign-up, recovery, e-mail change)"
        f"</header><main>{empty}<table><thead><tr><th>To</th><th>Subject</th><th>Received</th><th>Link and code</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></main></body></html>"
    )


def _view_page(mail: dict[str, Any]) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(str(mail.get('subject', '')))}</title><style>{_STYLE}</style></head><body>"
        f'<header><a style="color:#fff" href="/">Mailbox</a> / {escape(str(mail.get("subject", "")))}</header><main>'
        f"<p>From {escape(str(mail.get('from', '')))} to {escape(str(mail.get('to', '')))}, "
        f"{escape(_created(mail))}</p>"
        f'<p><a data-testid="mail-link" href="{escape(str(mail.get("action_link", "")), quote=True)}">'
        f"{escape(str(mail.get('action_link', '')))}</a></p>"
        f'<p>Code: <span class="code">{escape(str(mail.get("otp", "")))}</span></p>'
        f'<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" src="/view/{escape(mail["id"])}.html"></iframe>'
        "</main></body></html>"
    )
