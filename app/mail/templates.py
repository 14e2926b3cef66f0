"""The mails Portus sends, each as a subject plus a text and an HTML part.

Every value that comes from a user (names, application names) is escaped in the HTML part and
never put in a header: the subjects are fixed strings.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from urllib.parse import urlencode


@dataclass(frozen=True)
class MailContent:
    kind: str
    subject: str
    text: str
    html: str


def _html(title: str, paragraphs: list[str]) -> str:
    """`paragraphs` are HTML fragments whose user-provided parts are already escaped."""
    body = "\n".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n{body}\n</body></html>\n"
    )


def _link(url: str) -> str:
    escaped = html.escape(url, quote=True)
    return f'<a href="{escaped}">{escaped}</a>'


def reset_link(public_url: str, token: str) -> str:
    return f"{public_url}/password_reset?{urlencode({'token': token})}"


def password_reset(*, username: str, public_url: str, token: str, valid_hours: int) -> MailContent:
    link = reset_link(public_url, token)
    name = html.escape(username)
    subject = "Reset your Portus password"
    text = (
        f"Hello {username},\n\n"
        "Somebody (hopefully you) asked to reset the password of your Portus account.\n"
        f"To choose a new password, open this link within {valid_hours} hours:\n\n"
        f"{link}\n\n"
        "The link works once. If you did not ask for it, ignore this mail: your password\n"
        "stays as it is.\n"
    )
    body = _html(
        subject,
        [
            f"Hello {name},",
            "Somebody (hopefully you) asked to reset the password of your Portus account. "
            f"To choose a new password, open this link within {valid_hours} hours:",
            _link(link),
            "The link works once. If you did not ask for it, ignore this mail: your password "
            "stays as it is.",
        ],
    )
    return MailContent("password_reset", subject, text, body)


def welcome(*, username: str, public_url: str, can_reset: bool = True) -> MailContent:
    name = html.escape(username)
    subject = "Your Portus account"
    own = 'or choose your own with "Forgot your password?"' if can_reset else "then change it"
    text = (
        f"Hello {username},\n\n"
        f"An administrator created a Portus account for you. Your user name is: {username}\n"
        f"Sign in at {public_url}/ with the password the administrator gave you,\n"
        f"{own}.\n"
    )
    body = _html(
        subject,
        [
            f"Hello {name},",
            f"An administrator created a Portus account for you. Your user name is: <b>{name}</b>",
            f"Sign in at {_link(public_url + '/')} with the password the administrator gave you, "
            f"{html.escape(own, quote=False)}.",
        ],
    )
    return MailContent("welcome", subject, text, body)


PASSWORD_CHANGE_REASONS = {
    "self": "You changed it from your profile.",
    "admin": "An administrator changed it.",
    "reset": "It was reset with a password-reset link.",
}


def password_changed(*, username: str, public_url: str, reason: str) -> MailContent:
    name = html.escape(username)
    why = PASSWORD_CHANGE_REASONS[reason]
    subject = "Your Portus password was changed"
    text = (
        f"Hello {username},\n\n"
        f"The password of your Portus account was changed. {why}\n"
        "Every browser session and docker login of your account has been ended.\n\n"
        "If this was not you, reset your password at once and tell an administrator:\n"
        f"{public_url}/\n"
    )
    body = _html(
        subject,
        [
            f"Hello {name},",
            f"The password of your Portus account was changed. {html.escape(why)}",
            "Every browser session and docker login of your account has been ended.",
            "If this was not you, reset your password at once and tell an administrator: "
            + _link(public_url + "/"),
        ],
    )
    return MailContent("password_changed", subject, text, body)


def application_token(
    *, username: str, public_url: str, application: str, created: bool, by: str | None = None
) -> MailContent:
    """`by`: the administrator who did it, when it was not the user."""
    name = html.escape(username)
    what = "created" if created else "revoked"
    subject = f"A Portus application token was {what}"
    who = f" by the administrator {by}" if by is not None else ""
    text = (
        f"Hello {username},\n\n"
        f'The application token "{application}" of your Portus account was {what}{who}.\n\n'
        "If this was not you, tell an administrator and review your tokens at\n"
        f"{public_url}/\n"
    )
    body = _html(
        subject,
        [
            f"Hello {name},",
            f"The application token &ldquo;{html.escape(application)}&rdquo; of your Portus "
            f"account was {what}{html.escape(who)}.",
            "If this was not you, tell an administrator and review your tokens at "
            + _link(public_url + "/"),
        ],
    )
    return MailContent(f"token_{what}", subject, text, body)
