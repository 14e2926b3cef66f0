"""The resources portusctl knows: their names and synonyms, the actions each supports and the
keys each action takes. `explain`, the shell completion and the argument checks all read this
table; Portus's portusctl v0.1.0 resources come first, with their synonyms and keys."""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIONS = ("get", "create", "update", "delete", "validate")


@dataclass(frozen=True)
class Keys:
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return self.required + self.optional


@dataclass(frozen=True)
class Resource:
    synonyms: tuple[str, ...]
    description: str
    actions: dict[str, Keys]
    subresources: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    portus: bool = True  # in Portus's portusctl v0.1.0 (else one of ours)
    id_keys: tuple[str, ...] = ()  # keys whose values are IDs (they go into URL paths)

    @property
    def name(self) -> str:
        """The plural, canonical name."""
        return self.synonyms[-1]

    @property
    def singular(self) -> str:
        """How messages name it ("Created 'application token' successfully!")."""
        word = self.synonyms[0] if len(self.synonyms) <= 2 else self.synonyms[1]
        return word.replace("_", " ")


USER_KEYS = ("username", "email", "password")

RESOURCES: tuple[Resource, ...] = (
    Resource(
        synonyms=("at", "application_token", "application_tokens"),
        id_keys=("id",),
        description="Application tokens of a user: what tools use instead of a password "
        "(docker login, the API). The token itself is shown once, when created.",
        actions={"create": Keys(("id", "application")), "delete": Keys()},
        notes=(
            "create: `id` is the user's ID (administrators may create one for a bot).",
            "List a user's tokens with `get users <id> application_tokens`.",
        ),
    ),
    Resource(
        synonyms=("n", "namespace", "namespaces"),
        description="Namespaces: where repositories live, owned by a team.",
        actions={
            "get": Keys(),
            "create": Keys(("name", "team"), ("description",)),
            "update": Keys((), ("name", "description", "visibility", "team")),
            "delete": Keys(),
            "validate": Keys(("name",)),
        },
        subresources=("repositories", "webhooks"),
        notes=("visibility: private, protected or public; team: the team's name.",),
    ),
    Resource(
        synonyms=("r", "repository", "repositories"),
        description="Repositories (images) of a namespace.",
        actions={"get": Keys(), "update": Keys(("description",)), "delete": Keys()},
        subresources=("tags", "comments"),
    ),
    Resource(
        synonyms=("re", "registry", "registries"),
        description="The registry Portus authorizes (administrators).",
        actions={
            "get": Keys(),
            "create": Keys(("name", "hostname"), ("external_hostname", "use_ssl", "force")),
            "update": Keys((), ("name", "hostname", "external_hostname", "use_ssl", "force")),
            "validate": Keys(("hostname",), ("name", "external_hostname", "use_ssl", "only")),
        },
        notes=(
            "force=true skips the check that the registry answers.",
            "validate checks that `hostname` answers like a registry; `name`, "
            "`external_hostname` and `only` are accepted for Portus's sake.",
        ),
    ),
    Resource(
        synonyms=("tag", "tags"),
        description="Tags of the repositories.",
        actions={"get": Keys(), "delete": Keys()},
    ),
    Resource(
        synonyms=("t", "team", "teams"),
        description="Teams: they own namespaces; their members have roles.",
        actions={
            "get": Keys(),
            "create": Keys(("name",), ("description", "owner_id")),
            "update": Keys((), ("name", "description")),
            "delete": Keys((), ("new_team",)),
        },
        subresources=("members", "namespaces"),
        notes=(
            "delete: new_team=<name> moves the team's namespaces there; else they are deleted.",
        ),
    ),
    Resource(
        synonyms=("u", "user", "users"),
        description="Users (bots included).",
        actions={
            "get": Keys(),
            "create": Keys(USER_KEYS, ("display_name",)),
            "update": Keys((), (*USER_KEYS, "display_name", "admin", "enabled")),
            "delete": Keys(),
        },
        subresources=("application_tokens", "refresh_tokens"),
        notes=("get: the ID or the email address.", "update: admin= and enabled= take true/false."),
    ),
    Resource(
        synonyms=("b", "bot", "bots"),
        description="Bots: users without a password (CI pipelines), logging in with their "
        "application tokens. Created with a first token, shown once.",
        actions={
            "get": Keys(),
            "create": Keys(("username", "email"), ("display_name",)),
            "delete": Keys(),
        },
        subresources=("application_tokens",),
        portus=False,
    ),
    Resource(
        synonyms=("m", "member", "members"),
        id_keys=("team",),
        description="Members of a team, with their role (viewer, contributor, owner).",
        actions={
            "get": Keys(("team",)),
            "create": Keys(("team", "user", "role")),
            "update": Keys(("team", "role")),
            "delete": Keys(("team",)),
        },
        notes=("team: the team's ID; user: a username; the member's ID is listed by get.",),
        portus=False,
    ),
    Resource(
        synonyms=("w", "webhook", "webhooks"),
        id_keys=("namespace",),
        description="Webhooks of a namespace, called on pushes and deletes.",
        actions={
            "get": Keys(("namespace",)),
            "create": Keys(
                ("namespace", "name", "url"),
                ("request_method", "content_type", "username", "password", "enabled"),
            ),
            "update": Keys(
                ("namespace",),
                ("name", "url", "request_method", "content_type", "username", "password"),
            ),
            "delete": Keys(("namespace",)),
        },
        subresources=("deliveries", "headers"),
        notes=("namespace: the namespace's ID.",),
        portus=False,
    ),
    Resource(
        synonyms=("webhook_header", "webhook_headers"),
        id_keys=("namespace", "webhook"),
        description="Extra HTTP headers a webhook sends.",
        actions={
            "get": Keys(("namespace", "webhook")),
            "create": Keys(("namespace", "webhook", "name", "value")),
            "delete": Keys(("namespace", "webhook")),
        },
        portus=False,
    ),
    Resource(
        synonyms=("delivery", "deliveries"),
        id_keys=("namespace", "webhook"),
        description="Deliveries of a webhook; update re-sends one.",
        actions={
            "get": Keys(("namespace", "webhook")),
            "update": Keys(("namespace", "webhook")),
        },
        portus=False,
    ),
    Resource(
        synonyms=("star", "stars"),
        id_keys=("repository",),
        description="Your starred repositories: create stars one, delete unstars it.",
        actions={"get": Keys(), "create": Keys(("repository",)), "delete": Keys()},
        notes=("repository: the repository's ID; delete takes the repository's ID too.",),
        portus=False,
    ),
    Resource(
        synonyms=("comment", "comments"),
        id_keys=("repository",),
        description="Comments on a repository (markdown).",
        actions={
            "get": Keys(("repository",)),
            "create": Keys(("repository", "body")),
            "delete": Keys(("repository",)),
        },
        notes=("repository: the repository's ID.",),
        portus=False,
    ),
    Resource(
        synonyms=("me",),
        description="Who you are: the user of the token.",
        actions={"get": Keys()},
        portus=False,
    ),
    Resource(
        synonyms=("activity", "activities"),
        description="The audit trail (administrators). --csv prints Portus's CSV export.",
        actions={"get": Keys((), ("key", "owner", "since", "until"))},
        notes=("key: e.g. repository.push; owner: a username; since/until: ISO dates.",),
        portus=False,
    ),
    Resource(
        synonyms=("rt", "refresh_token", "refresh_tokens"),
        id_keys=("user",),
        description="Logins that hold a refresh token (docker login, containerd); "
        "delete revokes one, or `all` of a user's.",
        actions={"get": Keys(("user",)), "delete": Keys(("user",))},
        notes=("user: the user's ID.",),
        portus=False,
    ),
)

# Resources `get` lists but does not fetch one by one.
LIST_ONLY = frozenset(
    {"members", "webhook_headers", "activities", "refresh_tokens", "stars", "comments", "me"}
)

_BY_NAME = {synonym: resource for resource in RESOURCES for synonym in resource.synonyms}


def find(name: str) -> Resource | None:
    return _BY_NAME.get(name)


def all_names() -> list[str]:
    return sorted(_BY_NAME)


def explain(resource: Resource | None = None) -> str:
    """What `explain` prints: every resource, or one in detail."""
    if resource is None:
        lines = ["Resources (synonyms in brackets):", ""]
        for res in RESOURCES:
            marker = "" if res.portus else " (beyond Portus)"
            others = f" [{', '.join(res.synonyms[:-1])}]" if len(res.synonyms) > 1 else ""
            lines.append(f"  {res.name}{others}{marker}")
            lines.append(f"      {res.description}")
            lines.append(f"      Actions: {', '.join(res.actions)}")
        lines += ["", "Run `portusctl explain <resource>` for its keys."]
        return "\n".join(lines) + "\n"
    lines = [
        f"Resource: {resource.name}",
        f"Synonyms: {', '.join(resource.synonyms)}",
        "",
        resource.description,
        "",
        "Actions:",
    ]
    for action, keys in resource.actions.items():
        parts = [f"{key}=" for key in keys.required] + [f"[{key}=]" for key in keys.optional]
        args = "<id> " if action in ("update", "delete") else ""
        if action == "get":
            single = resource.name not in LIST_ONLY
            args = ("[id] " if single else "") + ("[subresource] " if resource.subresources else "")
        usage = f"portusctl {action} {resource.synonyms[0]} {args}"
        lines.append(f"  {usage}{' '.join(parts)}")
    if resource.subresources:
        lines += ["", f"Subresources: {', '.join(resource.subresources)}"]
    if resource.notes:
        lines += ["", *resource.notes]
    return "\n".join(line.rstrip() for line in lines) + "\n"
