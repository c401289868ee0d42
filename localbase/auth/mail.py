"""Emails without SMTP: one-time codes, their hashes, the links, and a JSON file per "sent" mail.

GoTrue keeps `sha224(email + otp)` in the user's token column; the link carries that hash and the
mail also shows the 6-digit code, so both POST /verify forms work. The Supabase CLI shows mails in
Mailpit; here each mail is a file in `mail_dir` (localbase/mail/store.py) worded like GoTrue's
templates, which the mailbox (`python -m localbase mail`, :54324) lists with its link.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode
from uuid import UUID

from core.settings import get_settings
from localbase.mail import store, templates

log = logging.getLogger(__name__)

SUBJECTS = {
    "signup": "Confirm Your Signup",
    "invite": "You have been invited",
    "magiclink": "Your Magic Link",
    "recovery": "Reset Your Password",
    "email_change": "Confirm Email Change",
    "reauthentication": "Confirm Reauthentication",
}


@dataclass(frozen=True)
class OneTimeToken:
    otp: str
    token_hash: str


def new_token(address: str) -> OneTimeToken:
    otp = f"{secrets.randbelow(1_000_000):06d}"
    return OneTimeToken(otp, token_hash(address, otp))


def token_hash(address: str, otp: str) -> str:
    return hashlib.sha224((address + otp).encode()).hexdigest()


def action_link(auth_url: str, token: OneTimeToken, kind: str, redirect_to: str) -> str:
    query = urlencode({"token": token.token_hash, "type": kind, "redirect_to": redirect_to})
    return f"{auth_url}/verify?{query}"


async def send(mail_dir: str, to: str, kind: str, user_id: UUID, *, token: OneTimeToken, link: str) -> Path:
    """Write the mail as JSON and log where; the link is for the developer, not for the log."""
    composed = templates.compose(kind, link, token.otp)
    mail = {
        "from": get_settings().localbase.mail_from,
        "to": to,
        "subject": SUBJECTS.get(kind, composed.subject),
        "type": kind,
        "user_id": str(user_id),
        "otp": token.otp,
        "token_hash": token.token_hash,
        "action_link": link,
        "text": composed.text,
        "html": composed.html,
    }
    path = await asyncio.to_thread(store.write, mail_dir, kind, str(user_id), mail)
    log.info(
        "mail written", extra={"event": "auth.mail_written", "kind": kind, "user_id": str(user_id), "path": str(path)}
    )
    return path
