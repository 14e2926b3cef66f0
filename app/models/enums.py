"""Small-integer enums stored as Portus stores them."""

from __future__ import annotations

import enum


class Role(enum.IntEnum):
    viewer = 0
    contributor = 1
    owner = 2


class Visibility(enum.IntEnum):
    private = 0
    protected = 1
    public = 2


class EventStatus(enum.IntEnum):
    done = 0
    progress = 1
    fresh = 2
    failed = 3


class MailStatus(enum.IntEnum):
    pending = 0  # waiting for (another) attempt
    sent = 1
    failed = 2  # given up after the last attempt
