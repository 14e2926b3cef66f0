"""Beyond Portus: an OpenID Connect `groups` claim as team memberships
(`oauth.openid_connect.groups_claim`), against the real provider (LemonLDAP::NG, whose dwho is
in `timelords` and `users`, rtyler in `earthlings` and `users`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.security import TokenDigester
from app.models import Activity, LdapCheck, Role, Team, TeamUser, User
from app.oauth.providers import read_groups
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.oauth.test_oidc_sign_in import CLIENT, PUBLIC_URL, oauth_settings, sign_in
from tests.support.auth import token_headers
from tests.support.oidc_provider import LemonLdapProvider


@pytest.fixture(scope="module")
def provider() -> Iterator[LemonLdapProvider]:
    with LemonLdapProvider(clients=[CLIENT]) as running:
        yield running


def with_groups(provider: LemonLdapProvider, **more: Any) -> dict[str, Any]:
    settings = oauth_settings(provider)
    settings["openid_connect"].update({"groups_claim": "groups", **more})
    return settings


async def teams(session: AsyncSession) -> dict[str, int]:
    """The teams (their ids), each with an owner."""
    owner = await factories.create_user(session, username="owner", email="owner@example.com")
    made = {
        "timelords": Team(name="timelords"),
        "Users": Team(name="Users"),  # names match case-insensitively
        "earthlings": Team(name="earthlings"),  # not one of dwho's groups
        "excluded": Team(name="users-excluded"),
    }
    made["excluded"].ldap_group_checked = LdapCheck.disabled
    session.add_all(made.values())
    await session.flush()
    session.add_all(
        TeamUser(team_id=t.id, user_id=owner.id, role=Role.owner) for t in made.values()
    )
    ids = {key: team.id for key, team in made.items()}
    await session.commit()
    return ids


async def memberships(session: AsyncSession, username: str) -> dict[str, Role]:
    rows = await session.execute(
        select(Team.name, TeamUser.role)
        .join(TeamUser, TeamUser.team_id == Team.id)
        .join(User, User.id == TeamUser.user_id)
        .where(User.username == username, Team.hidden.is_(False))
    )
    return {name: role for name, role in rows.all()}


async def test_each_sign_in_joins_the_teams_of_the_groups_and_removes_nobody(
    make_client: ClientFactory, provider: LemonLdapProvider, session: AsyncSession
) -> None:
    made = await teams(session)
    async with make_client(public_url=PUBLIC_URL, oauth=with_groups(provider)) as portus:
        response = await sign_in(portus, provider, "dwho")
        assert response.status_code == 303 and response.headers["location"] == "/dashboard"
    session.expire_all()
    assert await memberships(session, "dwho") == {"timelords": Role.viewer, "Users": Role.viewer}
    recorded = (
        await session.scalars(
            select(Activity).where(
                Activity.key == "team.add_member", Activity.trackable_id == made["timelords"]
            )
        )
    ).all()
    assert [a.parameters for a in recorded][-1]["groups"] == "openid_connect"

    # An owner moves dwho out of one team and makes them a contributor of another: the next
    # sign-in joins them again to the first (the provider still says so) and keeps the role.
    dwho = (await session.execute(select(User).where(User.username == "dwho"))).scalar_one()
    for membership in await session.scalars(select(TeamUser).where(TeamUser.user_id == dwho.id)):
        if membership.team_id == made["Users"]:
            await session.delete(membership)
        elif membership.team_id == made["timelords"]:
            membership.role = Role.contributor
    session.add(TeamUser(team_id=made["earthlings"], user_id=dwho.id, role=Role.viewer))
    await session.commit()
    async with make_client(public_url=PUBLIC_URL, oauth=with_groups(provider)) as portus:
        assert (await sign_in(portus, provider, "dwho")).status_code == 303
    session.expire_all()
    assert await memberships(session, "dwho") == {
        "timelords": Role.contributor,
        "Users": Role.viewer,
        "earthlings": Role.viewer,  # not the provider's to remove
    }


async def test_without_the_claim_setting_groups_are_ignored_and_the_role_is_configurable(
    make_client: ClientFactory, provider: LemonLdapProvider, session: AsyncSession
) -> None:
    await teams(session)
    async with make_client(public_url=PUBLIC_URL, oauth=oauth_settings(provider)) as portus:
        assert (await sign_in(portus, provider, "rtyler")).status_code == 303
    assert await memberships(session, "rtyler") == {}
    settings = with_groups(provider, groups_role="contributor")
    async with make_client(public_url=PUBLIC_URL, oauth=settings) as portus:
        assert (await sign_in(portus, provider, "rtyler")).status_code == 303
    session.expire_all()
    assert await memberships(session, "rtyler") == {
        "earthlings": Role.contributor,
        "Users": Role.contributor,
    }


async def test_a_first_sign_in_choosing_a_username_keeps_its_groups(
    make_client: ClientFactory, provider: LemonLdapProvider, session: AsyncSession
) -> None:
    await teams(session)
    await factories.create_user(session, username="dwho", email="doctor@example.com")
    async with make_client(public_url=PUBLIC_URL, oauth=with_groups(provider)) as portus:
        response = await sign_in(portus, provider, "dwho")
        token = parse_qs(urlsplit(response.headers["location"]).query)["token"][0]
        created = await portus.post(
            "/api/v1/oauth/signup", json={"token": token, "username": "the-doctor"}
        )
        assert created.status_code == 201, created.text
    session.expire_all()
    assert await memberships(session, "the-doctor") == {
        "timelords": Role.viewer,
        "Users": Role.viewer,
    }
    assert await memberships(session, "dwho") == {}  # the local account is another person


async def test_the_button_can_name_the_provider(
    make_client: ClientFactory, provider: LemonLdapProvider
) -> None:
    settings = oauth_settings(provider)
    settings["openid_connect"]["label"] = "Acme SSO"
    async with make_client(public_url=PUBLIC_URL, oauth=settings) as portus:
        providers = (await portus.get("/api/v1/settings")).json()["oauth"]["providers"]
    assert [p["label"] for p in providers] == ["Acme SSO"]


@pytest.mark.parametrize(
    ("claim", "groups"),
    [
        (["a", "b", "a", " c ", "", 7, None], ("a", "b", "c")),
        ("solo", ("solo",)),
        ({"a": 1}, ()),
        (None, ()),
        (["x" * 256, "ok"], ("ok",)),
        ([f"g{i}" for i in range(2000)], tuple(f"g{i}" for i in range(500))),
    ],
)
def test_a_groups_claim_is_read_safely(claim: Any, groups: tuple[str, ...]) -> None:
    assert read_groups(claim) == groups


async def test_an_owner_excludes_a_team_from_the_groups_without_ldap(
    make_client: ClientFactory,
    provider: LemonLdapProvider,
    session: AsyncSession,
    digester: TokenDigester,
) -> None:
    ids = await teams(session)
    owner = (await session.execute(select(User).where(User.username == "owner"))).scalar_one()
    headers = await token_headers(session, digester, owner)
    url = f"/api/v1/teams/{ids['timelords']}/ldap_check"
    async with make_client(public_url=PUBLIC_URL, oauth=oauth_settings(provider)) as portus:
        off = await portus.post(url, headers=headers)
        assert off.status_code == 405 and "groups_claim" in off.json()["message"]
    async with make_client(public_url=PUBLIC_URL, oauth=with_groups(provider)) as portus:
        excluded = await portus.post(url, headers=headers)
        assert excluded.status_code == 200, excluded.text
        assert (await sign_in(portus, provider, "dwho")).status_code == 303
    session.expire_all()
    assert await memberships(session, "dwho") == {"Users": Role.viewer}


async def test_only_groups_the_filter_matches_are_used(
    make_client: ClientFactory, provider: LemonLdapProvider, session: AsyncSession
) -> None:
    await teams(session)
    settings = with_groups(provider, groups_filter="time.*")
    async with make_client(public_url=PUBLIC_URL, oauth=settings) as portus:
        assert (await sign_in(portus, provider, "dwho")).status_code == 303
    assert await memberships(session, "dwho") == {"timelords": Role.viewer}


def test_a_filter_that_is_no_regular_expression_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="groups_filter is not a regular expression"):
        Settings(oauth={"openid_connect": {"groups_filter": "team-("}})
