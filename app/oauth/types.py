"""What every sign-in provider's code shares: the provider as configured, the identity it
vouches for, and the failure a person is shown."""

from __future__ import annotations

from dataclasses import dataclass, field


class ProviderFailed(Exception):
    """The sign-in did not work out: the message says why, for the person signing in."""


@dataclass(frozen=True)
class Endpoints:
    """A plain OAuth 2 provider's (GitHub, …): no discovery document, no ID token; who signed
    in comes from its API."""

    authorize: str
    token: str
    api: str


@dataclass(frozen=True)
class Provider:
    name: str  # the `oauth.<name>` key
    label: str  # on the button
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str = "openid email profile"
    # Any provider: the e-mail address must end in @ this domain.
    email_domain: str = ""
    endpoints: Endpoints | None = None
    # GitHub: only members of this organization (and of this team of it) may sign in.
    organization: str = ""
    team: str = ""
    # GitLab: only members of this group may sign in.
    group: str = ""
    # Google: only accounts of this Google Workspace domain (the ID token's `hd` claim).
    hosted_domain: str = ""
    # Bitbucket: only members of this workspace (Portus's `options.team`: Bitbucket's teams
    # became workspaces).
    workspace: str = ""
    # OpenID Connect: the ID token claim listing the person's groups, which join them to the
    # teams of those names (with this role); "" for none.
    groups_claim: str = ""
    groups_role: str = "viewer"
    groups_filter: str = ""  # a regular expression the groups used must match whole


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in."""

    provider: str
    uid: str  # the provider's subject: what later sign-ins are matched by
    username: str | None
    email: str | None
    name: str | None
    groups: tuple[str, ...] = ()  # the provider's groups claim, when one is configured


def refuse_outside_domain(provider: Provider, email: str | None) -> None:
    """`email_domain`: only addresses of that domain may sign in."""
    domain = provider.email_domain.lower()
    if domain and not (email and email.lower().endswith("@" + domain)):
        raise ProviderFailed(f"only e-mail addresses of {provider.email_domain} may sign in here")
