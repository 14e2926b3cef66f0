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


class WebhookMethod(enum.IntEnum):
    """Portus's `request_method` enum."""

    GET = 0
    POST = 1


class WebhookContentType(enum.IntEnum):
    """Portus's `content_type` enum."""

    json = 0
    form = 1

    @property
    def mime(self) -> str:
        return "application/json" if self is WebhookContentType.json else FORM_MIME


FORM_MIME = "application/x-www-form-urlencoded"


class DeliveryStatus(enum.IntEnum):
    pending = 0
    delivered = 1
    failed = 2


class MailStatus(enum.IntEnum):
    pending = 0  # waiting for (another) attempt
    sent = 1
    failed = 2  # given up after the last attempt


class LdapCheck(enum.IntEnum):
    """Where a team (or user) stands in the LDAP group sync (Portus's `ldap_group_checked`)."""

    unchecked = 0
    checked = 1
    disabled = 2  # excluded (`POST /api/v1/teams/:id/ldap_check`): never synced
