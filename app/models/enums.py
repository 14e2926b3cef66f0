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


class LdapCheck(enum.IntEnum):
    """Where a team (or user) stands in the LDAP group sync (Portus's `ldap_group_checked`)."""

    unchecked = 0
    checked = 1
    disabled = 2  # excluded (`POST /api/v1/teams/:id/ldap_check`): never synced
