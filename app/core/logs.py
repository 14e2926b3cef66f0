"""Logging: text or JSON lines, the request id of the request being served, credentials masked.

The request id lives in a context variable set by the request middleware (app.core.middleware);
a filter on the handler copies it into every record, so the lines a request causes (uvicorn's
access line included) can be found together. Masking happens in the same filter, on the final
message, so that no logger anywhere (ours, uvicorn's, a library's) can write a credential out.
"""

from __future__ import annotations

import json
import logging
import os
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
REQUEST_ID_HEADER = "X-Request-Id"
# An incoming id is kept when it is short and plain (it is echoed in a header and written in
# logs: no room for header or log injection); anything else gets a fresh one.
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
MASK = "***"
_MASKS = (
    # `Authorization: Bearer x`, `Basic x`, and our own token formats wherever they appear.
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+"), rf"\1\2{MASK}"),
    (re.compile(r"\b(pat|prt|pss|prs)_[A-Za-z0-9_-]{8,}"), rf"\1_{MASK}"),
    # JSON Web Tokens (registry tokens): header.payload.signature, base64url.
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
    # key=value, key: value, "key": "value" for the names credentials travel under.
    (
        re.compile(
            r"(?i)\b(authorization|portus-auth|x-csrf-token|cookie|set-cookie|password|passwd|"
            r"old_password|new_password|secret|token|refresh_token|access_token|"
            r"identitytoken)(\"?'?\s*[:=]\s*\"?'?)([^\s\"'&,;}]+)"
        ),
        rf"\1\2{MASK}",
    ),
)


def request_id_from(header: bytes | None) -> str:
    """The client's `X-Request-Id` when it is sane, else a new random one."""
    if header is not None and _SANE_REQUEST_ID.fullmatch(header):
        return header.decode("ascii")
    return os.urandom(16).hex()  # as random as uuid4, a tenth of its cost


def mask_credentials(text: str) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


class RequestContextFilter(logging.Filter):
    """Adds `request_id` to every record and masks credentials in its message (the message is
    formatted here, once, so that its arguments cannot bring a secret back)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a broken call; logging reports it when it formats the record
        masked = mask_credentials(message)
        if masked != message:
            record.msg, record.args = masked, None
        # Exception texts may quote a request too (or a source line): formatted and masked
        # here as well, even when another handler formatted them first.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_credentials(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_credentials(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def handler_for(log_format: Literal["text", "json"]) -> logging.Handler:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handler.addFilter(RequestContextFilter())
    return handler


def configure(log_format: Literal["text", "json"], level: int = logging.INFO) -> None:
    """The root logger writes to stderr in `log_format`; uvicorn's loggers go through it too."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler_for(log_format))
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
