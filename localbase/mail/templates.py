"""The mails Auth sends, worded like GoTrue's default templates: a subject, a text part and an HTML
part carrying the action link and the one-time code. The HTML escapes every value it shows."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Composed:
    subject: str
    text: str
    html: str


_KINDS = {
    "signup": (
        "Confirm Your Signup",
        "Confirm your signup",
        "Follow this link to confirm your user:",
        "Confirm your mail",
    ),
    "invite": (
        "You have been invited",
        "You have been invited",
        "You have been invited to create a user. Follow this link to accept the invite:",
        "Accept the invite",
    ),
    "magiclink": ("Your Magic Link", "Magic Link", "Follow this link to login:", "Log In"),
    "recovery": (
        "Reset Your Password",
        "Reset Password",
        "Follow this link to reset the password for your user:",
        "Reset Password",
    ),
    "email_change": (
        "Confirm Email Change",
        "Confirm Change of Email",
        "Follow this link to confirm the update of your email:",
        "Change Email",
    ),
}


def compose(kind: str, link: str, otp: str) -> Composed:
    subject, heading, lead, button = _KINDS.get(kind, (kind, kind, "Follow this link:", "Open"))
    text = f"{heading}\n\n{lead}\n{link}\n\nAlternatively, enter the code: {otp}\n"
    html = (
        f"<h2>{escape(heading)}</h2>\n<p>{escape(lead)}</p>\n"
        f'<p><a href="{escape(link, quote=True)}">{escape(button)}</a></p>\n'
        f"<p>Alternatively, enter the code: {escape(otp)}</p>\n"
    )
    return Composed(subject, text, html)
