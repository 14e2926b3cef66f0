"""portusctl: Portus from the command line, through its REST API only.

A drop-in for openSUSE/portusctl v0.1.0 (Portus 2.4's client): the same global flags and
PORTUSCTL_* variables, commands, resources and synonyms, tables and messages. Beyond it: every
resource of the API (bots, members, webhooks, activities, refresh tokens...), named servers
(`login`), search and shell completion.

Exit codes: 0 done, 1 the API refused or failed (an unhealthy `health` and a failed `validate`
too), 2 a usage error, 3 the server cannot be reached."""

from __future__ import annotations

import argparse
import getpass
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, NoReturn, TextIO

from app.portusctl import completion, config, output
from app.portusctl.client import (
    PER_PAGE,
    Answer,
    ApiError,
    Health,
    PortusClient,
    Progress,
    UnexpectedAnswer,
    Unreachable,
)
from app.portusctl.output import Columns
from app.portusctl.resources import Resource, find

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

FORMATS = ("default", "json")
BOOLEAN_KEYS = {"admin", "enabled", "use_ssl", "force"}
INTEGER_KEYS = {"owner_id"}


def client_version() -> str:
    try:
        return metadata.version("portus-py")
    except metadata.PackageNotFoundError:
        return "unknown"


class UsageError(Exception):
    """The command line is wrong (exit 2)."""


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"portusctl: {message} (see `{self.prog} --help`)\n")
        sys.exit(EXIT_USAGE)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _boolean(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on", "t", "y"):
        return True
    if lowered in ("0", "false", "no", "off", "f", "n"):
        return False
    raise UsageError(f"{key} must be true or false, not '{value}'")


def split_pair(argument: str) -> tuple[str, str]:
    """`key=value`, split at the first `=` only (a value may hold more)."""
    key, sep, value = argument.partition("=")
    if not sep or not key:
        raise UsageError(f"'{argument}' is not of the form key=value")
    return key, value


def parse_pairs(
    arguments: Sequence[str],
    required: Sequence[str],
    optional: Sequence[str] = (),
    *,
    err: TextIO | None = None,
) -> dict[str, Any]:
    """The `key=value` arguments of an action: unknown keys are reported and left out; missing
    required ones are a usage error. Booleans and IDs are converted."""
    allowed = (*required, *optional)
    values: dict[str, Any] = {}
    ignored: list[str] = []
    for argument in arguments:
        key, value = split_pair(argument)
        if key not in allowed:
            ignored.append(key)
        elif key in BOOLEAN_KEYS:
            values[key] = _boolean(key, value)
        elif key in INTEGER_KEYS:
            if not value.isdigit():
                raise UsageError(f"{key} must be a number, not '{value}'")
            values[key] = int(value)
        else:
            values[key] = value
    if ignored:
        (err or sys.stderr).write(f"Ignoring the following keys: {', '.join(ignored)}\n")
    missing = [key for key in required if key not in values]
    if missing:
        raise UsageError(f"You have to provide the following keys: {', '.join(missing)}")
    return values


def _progress_factory(quiet: bool) -> Callable[[], Progress | None]:
    """A progress line on stderr while a list of several pages is read, when stderr is a
    terminal (never in pipes, logs or tests)."""

    def make() -> Progress | None:
        if quiet or not sys.stderr.isatty():
            return None
        drawn = False

        def report(done: int, total: int | None) -> None:
            nonlocal drawn
            if total is None or (total <= done and not drawn):
                return  # one page: no bar
            width = 30
            filled = width * min(done, total) // max(total, 1)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            drawn = True
            if done >= total:
                sys.stderr.write("\r" + " " * (width + 30) + "\r")
            sys.stderr.flush()

        return report

    return make


@dataclass
class Context:
    args: argparse.Namespace
    out: TextIO
    err: TextIO

    @property
    def quiet(self) -> bool:
        return bool(self.args.quiet) or _truthy(os.environ.get("PORTUSCTL_QUIET"))

    @property
    def json(self) -> bool:
        chosen = getattr(self.args, "format", None) or os.environ.get("PORTUSCTL_FORMAT")
        chosen = chosen or "default"
        if chosen not in FORMATS:
            raise UsageError(f"unknown format '{chosen}': use default or json")
        return chosen == "json"

    def say(self, text: str) -> None:
        """A message (not data): left out with --quiet, on stderr with -f json (stdout is
        then JSON alone, for jq)."""
        if not self.quiet:
            (self.err if self.json else self.out).write(text + "\n")

    def _settings(self) -> tuple[str | None, str | None, str | None]:
        """Server, user and token: the flags first; then a profile named by --profile (or
        PORTUSCTL_PROFILE); else the PORTUSCTL_API_* variables, and the current profile for
        what they leave out (its user and token only with its own server)."""
        args, env = self.args, os.environ
        named = args.profile or env.get("PORTUSCTL_PROFILE") or None
        given = (
            args.server or env.get("PORTUSCTL_API_SERVER"),
            args.user or env.get("PORTUSCTL_API_USER"),
            args.token or env.get("PORTUSCTL_API_TOKEN"),
        )
        # The configuration file is read only when it may be needed.
        stored = config.selected(config.load(), named) if named or not all(given) else None
        profile = stored[1] if stored else None
        if named and profile is not None:
            return (
                args.server or profile.server,
                args.user or profile.user,
                args.token or profile.token,
            )
        server, user, token = given
        if profile is not None and (server is None or server == profile.server):
            server = server or profile.server
            user = user or profile.user
            token = token or profile.token
        return server, user, token

    def server(self) -> str:
        server = self._settings()[0]
        if not server:
            raise UsageError("You have to deliver the URL of the Portus server")
        if "://" not in server:
            server = f"https://{server}"
        return server

    def credentials(self) -> tuple[str, str]:
        _, user, token = self._settings()
        if not user:
            raise UsageError("You have to set the user of the API")
        if not token:
            raise UsageError("You have to set the token of your user")
        return user, token

    def client(self, *, authenticated: bool = True) -> PortusClient:
        user, token = self.credentials() if authenticated else (None, None)
        per_page = os.environ.get("PORTUSCTL_PER_PAGE", "")
        return PortusClient(
            self.server(),
            user,
            token,
            per_page=int(per_page) if per_page.isdigit() and int(per_page) > 0 else PER_PAGE,
            progress=_progress_factory(self.quiet),
        )

    def show(self, columns: Columns[Any], answer: Answer[Any]) -> None:
        if self.json:
            output.print_json(answer.json, self.out)
            return
        value = answer.value
        self.out.write(columns.render(value if isinstance(value, list) else [value]))


# -- resources -------------------------------------------------------------------------------


def _resource(name: str, action: str) -> Resource:
    resource = find(name)
    if resource is None:
        raise UsageError(f"Unknown resource '{name}' (see `portusctl explain`)")
    if action not in resource.actions:
        raise UsageError(f"Action not supported for resource '{resource.singular}'")
    return resource


def _ident(res: Resource, word: str, *, nested: bool = False) -> str:
    """An ID of the command line (it goes into a URL path): a number; a user also by email,
    and `all` of someone's refresh tokens."""
    if word.isascii() and word.isdigit():
        return word
    if not nested and res.name in ("users", "bots") and "@" in word and "/" not in word:
        return word
    if not nested and res.name == "refresh_tokens" and word == "all":
        return word
    raise UsageError(f"'{word}' is not an ID of a {res.singular}")


def _pairs(ctx: Context, res: Resource, arguments: Sequence[str], action: str) -> dict[str, Any]:
    keys = res.actions[action]
    values = parse_pairs(arguments, keys.required, keys.optional, err=ctx.err)
    for key in res.id_keys:
        value = values.get(key)
        if value is not None and not (value.isascii() and value.isdigit()):
            raise UsageError(f"{key} must be an ID (a number), not '{value}'")
    return values


def _split(arguments: Sequence[str]) -> tuple[list[str], list[str]]:
    """Positional words (IDs, subresources) and key=value pairs."""
    words = [a for a in arguments if "=" not in a]
    pairs = [a for a in arguments if "=" in a]
    return words, pairs


def _get(
    c: PortusClient, res: Resource, words: list[str], keys: dict[str, Any]
) -> tuple[Columns[Any], Answer[Any]]:
    name = res.name
    if len(words) > 3:
        raise UsageError("Too many arguments: get <resource> [id [subresource [id]]]")
    ident = _ident(res, words[0]) if words else None
    sub = words[1] if len(words) > 1 else None
    sub_id = _ident(res, words[2], nested=True) if len(words) > 2 else None
    if sub is not None and sub not in res.subresources:
        raise UsageError(f"Unknown subresource '{sub}' of '{res.singular}'")
    if ident is None:
        listing: dict[str, Callable[[], tuple[Columns[Any], Answer[Any]]]] = {
            "users": lambda: (output.USERS, c.list_users()),
            "bots": lambda: (output.USERS, _bots(c.list_users())),
            "teams": lambda: (output.TEAMS, c.list_teams()),
            "namespaces": lambda: (output.NAMESPACES, c.list_namespaces()),
            "repositories": lambda: (output.REPOSITORIES, c.list_repositories()),
            "tags": lambda: (output.TAGS, c.list_tags()),
            "registries": lambda: (output.REGISTRIES, c.list_registries()),
            "members": lambda: (output.MEMBERS, c.list_members(keys["team"])),
            "webhooks": lambda: (output.WEBHOOKS, c.list_webhooks(keys["namespace"])),
            "webhook_headers": lambda: (
                output.WEBHOOK_HEADERS,
                c.list_webhook_headers(keys["namespace"], keys["webhook"]),
            ),
            "deliveries": lambda: (
                output.DELIVERIES,
                c.list_deliveries(keys["namespace"], keys["webhook"]),
            ),
            "activities": lambda: (output.ACTIVITIES, c.list_activities(keys)),
            "refresh_tokens": lambda: (output.REFRESH_TOKENS, c.list_refresh_tokens(keys["user"])),
            "stars": lambda: (output.REPOSITORIES, c.list_starred_repositories()),
            "comments": lambda: (output.COMMENTS, c.list_comments(keys["repository"])),
            "me": lambda: (output.USERS, c.me()),
        }
        if name not in listing:
            raise UsageError(f"'{res.singular}' cannot be listed")
        return listing[name]()
    if sub is None:
        single: dict[str, Callable[[], tuple[Columns[Any], Answer[Any]]]] = {
            "users": lambda: (output.USERS, c.get_user(ident)),
            "bots": lambda: (output.USERS, c.get_user(ident)),
            "teams": lambda: (output.TEAMS, c.get_team(ident)),
            "namespaces": lambda: (output.NAMESPACES, c.get_namespace(ident)),
            "repositories": lambda: (output.REPOSITORIES, c.get_repository(ident)),
            "tags": lambda: (output.TAGS, c.get_tag(ident)),
            "registries": lambda: (output.REGISTRIES, c.get_registry(ident)),
            "webhooks": lambda: (output.WEBHOOKS, c.get_webhook(keys["namespace"], ident)),
            "deliveries": lambda: (
                output.DELIVERIES,
                c.get_delivery(keys["namespace"], keys["webhook"], ident),
            ),
        }
        if name not in single:
            raise UsageError(f"'{res.singular}' cannot be fetched by ID")
        return single[name]()
    nested: dict[tuple[str, str], Callable[[], tuple[Columns[Any], Answer[Any]]]] = {
        ("users", "application_tokens"): lambda: (
            output.APPLICATION_TOKENS,
            c.list_application_tokens(ident),
        ),
        ("bots", "application_tokens"): lambda: (
            output.APPLICATION_TOKENS,
            c.list_application_tokens(ident),
        ),
        ("users", "refresh_tokens"): lambda: (
            output.REFRESH_TOKENS,
            c.list_refresh_tokens(ident),
        ),
        ("namespaces", "repositories"): lambda: (
            output.REPOSITORIES,
            c.list_namespace_repositories(ident),
        ),
        ("namespaces", "webhooks"): lambda: (
            (output.WEBHOOKS, c.get_webhook(ident, sub_id))
            if sub_id
            else (output.WEBHOOKS, c.list_webhooks(ident))
        ),
        ("repositories", "tags"): lambda: (output.TAGS, c.list_repository_tags(ident)),
        ("repositories", "comments"): lambda: (output.COMMENTS, c.list_comments(ident)),
        ("teams", "members"): lambda: (output.MEMBERS, c.list_members(ident)),
        ("teams", "namespaces"): lambda: (output.NAMESPACES, c.list_team_namespaces(ident)),
        ("webhooks", "deliveries"): lambda: (
            (output.DELIVERIES, c.get_delivery(keys["namespace"], ident, sub_id))
            if sub_id
            else (output.DELIVERIES, c.list_deliveries(keys["namespace"], ident))
        ),
        ("webhooks", "headers"): lambda: (
            output.WEBHOOK_HEADERS,
            c.list_webhook_headers(keys["namespace"], ident),
        ),
    }
    if sub_id is not None and (name, sub) not in (
        ("namespaces", "webhooks"),
        ("webhooks", "deliveries"),
    ):
        raise UsageError(f"'{sub}' of '{res.singular}' cannot be fetched by ID")
    return nested[(name, sub)]()


def _bots(answer: Answer[list[Any]]) -> Answer[list[Any]]:
    return Answer(
        [user for user in answer.value if user.bot],
        [user for user in answer.json if user.get("bot")],
    )


def cmd_get(ctx: Context) -> int:
    res = _resource(ctx.args.resource, "get")
    words, pairs = _split(ctx.args.arguments)
    values = _pairs(ctx, res, pairs, "get")
    if ctx.args.csv:
        if res.name != "activities":
            raise UsageError("--csv is for activities")
        with ctx.client() as c:
            ctx.out.write(c.activities_csv(values))
        return EXIT_OK
    with ctx.client() as c:
        columns, answer = _get(c, res, words, values)
    ctx.show(columns, answer)
    return EXIT_OK


def cmd_create(ctx: Context) -> int:
    res = _resource(ctx.args.resource, "create")
    values = _pairs(ctx, res, ctx.args.arguments, "create")
    name = res.name
    with ctx.client() as c:
        extra: list[tuple[Columns[Any], Answer[Any]]] = []
        if name == "users":
            columns: Columns[Any] = output.USERS
            answer: Answer[Any] = c.create_user(values)
        elif name == "bots":
            columns, answer = output.USERS, c.create_user({**values, "bot": True})
            token = answer.value.application_token
            if token is not None:
                extra.append((output.PLAIN_TOKENS, Answer(token, answer.json)))
        elif name == "application_tokens":
            user_id = values["id"]
            columns = output.PLAIN_TOKENS
            answer = c.create_application_token(user_id, values["application"])
        elif name == "teams":
            columns, answer = output.TEAMS, c.create_team(values)
        elif name == "namespaces":
            columns, answer = output.NAMESPACES, c.create_namespace(values)
        elif name == "registries":
            force = values.pop("force", False)
            columns, answer = output.REGISTRIES, c.create_registry(values, force=force)
        elif name == "members":
            columns = output.MEMBERS
            answer = c.add_member(values["team"], values["user"], values["role"])
        elif name == "webhooks":
            namespace = values.pop("namespace")
            columns, answer = output.WEBHOOKS, c.create_webhook(namespace, values)
            secret = Answer(answer.value, answer.json)
            extra.append((Columns(("Secret",), lambda w: (w.secret,)), secret))
        elif name == "comments":
            columns = output.COMMENTS
            answer = c.create_comment(values["repository"], values["body"])
        elif name == "stars":
            c.star_repository(values["repository"])
            columns, answer = output.REPOSITORIES, c.get_repository(values["repository"])
        elif name == "webhook_headers":
            columns = output.WEBHOOK_HEADERS
            answer = c.create_webhook_header(
                values["namespace"], values["webhook"], values["name"], values["value"]
            )
        else:  # pragma: no cover - the table and this list agree
            raise UsageError(f"Action not supported for resource '{res.singular}'")
    ctx.say(f"Created '{res.singular}' successfully!\n")
    if ctx.json:
        output.print_json(answer.json, ctx.out)
        return EXIT_OK
    ctx.out.write(columns.render([answer.value]))
    for more_columns, more in extra:
        ctx.out.write("\n" + more_columns.render([more.value]))
    return EXIT_OK


def cmd_update(ctx: Context) -> int:
    res = _resource(ctx.args.resource, "update")
    ident = _ident(res, ctx.args.id)
    keys = res.actions["update"]
    values = _pairs(ctx, res, ctx.args.arguments, "update")
    name = res.name
    with ctx.client() as c:
        if name == "users":
            admin = values.pop("admin", None)
            enabled = values.pop("enabled", None)
            if not values and admin is None and enabled is None:
                raise UsageError("Nothing to update: give key=value pairs")
            answer: Answer[Any] | None = None
            if values:
                answer = c.update_user(ident, values)
            if admin is not None:
                answer = c.set_user_admin(ident, admin)
            if enabled is not None:
                answer = c.set_user_enabled(ident, enabled)
            assert answer is not None
            columns: Columns[Any] = output.USERS
        else:
            required = set(keys.required)
            if not any(key not in required for key in values) and name not in (
                "members",
                "deliveries",
                "repositories",
            ):
                raise UsageError("Nothing to update: give key=value pairs")
            if name == "teams":
                columns, answer = output.TEAMS, c.update_team(ident, values)
            elif name == "namespaces":
                columns, answer = output.NAMESPACES, c.update_namespace(ident, values)
            elif name == "repositories":
                columns, answer = output.REPOSITORIES, c.update_repository(ident, values)
            elif name == "registries":
                force = values.pop("force", False)
                columns = output.REGISTRIES
                answer = c.update_registry(ident, values, force=force)
            elif name == "members":
                columns = output.MEMBERS
                answer = c.change_member(values["team"], ident, values["role"])
            elif name == "webhooks":
                namespace = values.pop("namespace")
                columns, answer = output.WEBHOOKS, c.update_webhook(namespace, ident, values)
            elif name == "deliveries":
                columns = output.DELIVERIES
                answer = c.retrigger_delivery(values["namespace"], values["webhook"], ident)
            else:  # pragma: no cover
                raise UsageError(f"Action not supported for resource '{res.singular}'")
    ctx.say(f"Updated '{res.singular}' successfully!\n")
    ctx.show(columns, answer)
    return EXIT_OK


def cmd_delete(ctx: Context) -> int:
    res = _resource(ctx.args.resource, "delete")
    ident = _ident(res, ctx.args.id)
    values = _pairs(ctx, res, ctx.args.arguments, "delete")
    name = res.name
    with ctx.client() as c:
        if name in ("users", "bots"):
            c.delete_user(ident)
        elif name == "application_tokens":
            c.delete_application_token(ident)
        elif name == "teams":
            c.delete_team(ident, values.get("new_team"))
        elif name == "namespaces":
            c.delete_namespace(ident)
        elif name == "repositories":
            c.delete_repository(ident)
        elif name == "tags":
            c.delete_tag(ident)
        elif name == "members":
            c.remove_member(values["team"], ident)
        elif name == "webhooks":
            c.delete_webhook(values["namespace"], ident)
        elif name == "webhook_headers":
            c.delete_webhook_header(values["namespace"], values["webhook"], ident)
        elif name == "stars":
            c.unstar_repository(ident)
        elif name == "comments":
            c.delete_comment(values["repository"], ident)
        elif name == "refresh_tokens":
            if ident == "all":
                c.delete_refresh_tokens(values["user"])
            else:
                c.delete_refresh_token(values["user"], ident)
        else:  # pragma: no cover
            raise UsageError(f"Action not supported for resource '{res.singular}'")
    ctx.say(f"Deleted '{res.singular}' successfully!")
    return EXIT_OK


def cmd_validate(ctx: Context) -> int:
    res = _resource(ctx.args.resource, "validate")
    keys = res.actions["validate"]
    values = parse_pairs(ctx.args.arguments, keys.required, keys.optional, err=ctx.err)
    with ctx.client() as c:
        if res.name == "namespaces":
            answer: Answer[Any] = c.validate_namespace(values["name"])
        else:
            answer = c.validate_registry(values["hostname"], values.get("use_ssl", False))
    valid: bool = answer.value.valid
    if ctx.json:
        output.print_json(answer.json, ctx.out)
    elif valid:
        ctx.say("Valid")
    if not valid and not ctx.json:
        lines = output.field_lines(answer.value.messages) or ["Not valid"]
        ctx.err.write("\n".join(lines) + "\n")
    return EXIT_OK if valid else EXIT_ERROR


def cmd_explain(ctx: Context) -> int:
    from app.portusctl.resources import explain

    if ctx.args.resource is None:
        ctx.out.write(explain())
        return EXIT_OK
    resource = find(ctx.args.resource)
    if resource is None:
        raise UsageError(f"Unknown resource '{ctx.args.resource}' (see `portusctl explain`)")
    ctx.out.write(explain(resource))
    return EXIT_OK


def _print_health(ctx: Context, health: Health) -> None:
    if ctx.json:
        output.print_json(health.json, ctx.out)
        return
    if ctx.quiet:
        return
    names = list(health.components)
    messages = []
    for component in health.components.values():
        text = component.msg or ("OK" if component.success else "Failing")
        messages.append(text[:1].upper() + text[1:])
    ctx.out.write(output.render([n.upper() for n in names], [messages]))


def cmd_health(ctx: Context) -> int:
    with ctx.client(authenticated=_has_credentials(ctx)) as c:
        health = c.health()
    _print_health(ctx, health)
    if not health.healthy:
        failing = [name for name, comp in health.components.items() if not comp.success]
        ctx.err.write(f"Some services are not healthy: {', '.join(failing) or 'unknown'}\n")
        return EXIT_ERROR
    return EXIT_OK


def _has_credentials(ctx: Context) -> bool:
    try:
        ctx.credentials()
    except UsageError:
        return False
    return True


def cmd_version(ctx: Context) -> int:
    with ctx.client() as c:
        server = c.version()
    if ctx.json:
        output.print_json({"client": client_version(), "server": server.json}, ctx.out)
        return EXIT_OK
    ctx.out.write(f"portusctl version {client_version()}\n")
    api = ", ".join(server.value.api_versions) or "v1"
    ctx.out.write(f"Portus version {server.value.version} (API {api})\n")
    return EXIT_OK


def cmd_bootstrap(ctx: Context) -> int:
    values = parse_pairs(
        ctx.args.arguments, ("username", "email", "password"), ("display_name",), err=ctx.err
    )
    with ctx.client(authenticated=False) as c:
        answer = c.bootstrap(
            values["username"], values["email"], values["password"], values.get("display_name")
        )
    if ctx.json:
        output.print_json(answer.json, ctx.out)
    else:
        ctx.out.write(
            f"You can now use the user '{values['username']}' with the following token: "
            f"{answer.value.plain_token}\n"
        )
    return EXIT_OK


def cmd_search(ctx: Context) -> int:
    with ctx.client() as c:
        answer = c.search(" ".join(ctx.args.query))
    ctx.show(output.SEARCH, answer)
    return EXIT_OK


def cmd_exec(ctx: Context) -> int:
    """`portus <command> …` of this installation (the same Python), with our stdio; its exit
    code is ours."""
    argv = [sys.executable, "-m", "app", ctx.args.command, *ctx.args.arguments]
    directory = ctx.args.local or os.environ.get("PORTUSCTL_EXEC_LOCATION") or None
    try:
        process = subprocess.Popen(argv, cwd=directory)  # noqa: S603 - our own interpreter
    except OSError as exc:
        raise UsageError(f"cannot run portus: {exc.strerror}") from None
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue  # the child got the SIGINT too: wait for it to finish


def cmd_login(ctx: Context) -> int:
    server = ctx.args.server or os.environ.get("PORTUSCTL_API_SERVER")
    user = ctx.args.user or os.environ.get("PORTUSCTL_API_USER")
    token = ctx.args.token or os.environ.get("PORTUSCTL_API_TOKEN")
    if not server:
        raise UsageError("You have to deliver the URL of the Portus server")
    if not user:
        raise UsageError("You have to set the user of the API")
    if "://" not in server:
        server = f"https://{server}"
    token_id: int | None = None
    if not token:
        if ctx.args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        elif sys.stdin.isatty():
            password = getpass.getpass(f"Password of {user}: ")
        else:
            raise UsageError("You have to set the token of your user (or --password-stdin)")
        application = ctx.args.application or f"portusctl@{platform.node() or 'localhost'}"
        with PortusClient(server) as c:
            me = c.me(auth=(user, password)).value
            created = c.create_application_token(
                str(me.id), application, auth=(user, password)
            ).value
        token, token_id = created.plain_token, created.id
    with PortusClient(server, user, token) as c:
        me = c.me().value
    name = ctx.args.profile or os.environ.get("PORTUSCTL_PROFILE") or "default"
    stored = config.load()
    stored.profiles[name] = config.Profile(
        server=server, user=me.username, token=token, token_id=token_id
    )
    stored.current = name
    path = config.save(stored)
    ctx.say(f"Logged in to {server} as '{me.username}' (profile '{name}', saved in {path})")
    return EXIT_OK


def cmd_logout(ctx: Context) -> int:
    stored = config.load()
    chosen = config.selected(stored, ctx.args.profile or os.environ.get("PORTUSCTL_PROFILE"))
    if chosen is None:
        raise UsageError("You are not logged in (no current profile)")
    name, profile = chosen
    if profile.token_id is not None:
        # The token `login` created is revoked with the profile.
        with PortusClient(profile.server, profile.user, profile.token) as c:
            try:
                c.delete_application_token(str(profile.token_id))
            except ApiError as exc:
                if exc.status_code not in (401, 404):
                    raise
    del stored.profiles[name]
    if stored.current == name:
        stored.current = None
    config.save(stored)
    ctx.say(f"Logged out of {profile.server} (profile '{name}' removed)")
    return EXIT_OK


def cmd_profiles(ctx: Context) -> int:
    stored = config.load()
    rows = [
        ("*" if name == stored.current else "", name, p.server, p.user)
        for name, p in sorted(stored.profiles.items())
    ]
    ctx.out.write(output.render(("Current", "Name", "Server", "User"), rows))
    return EXIT_OK


def cmd_completion(ctx: Context) -> int:
    ctx.out.write(completion.bash())
    return EXIT_OK


# -- the command line ------------------------------------------------------------------------


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--format",
        choices=FORMATS,
        default=None,
        help="default (tables) or json (the API's JSON); env PORTUSCTL_FORMAT",
    )


def build_parser() -> Parser:
    parser = Parser(
        prog="portusctl",
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Run `portusctl explain` for the resources and their keys.",
    )
    parser.add_argument("-s", "--server", help="URL of Portus (env PORTUSCTL_API_SERVER)")
    parser.add_argument("-u", "--user", help="user of the API (env PORTUSCTL_API_USER)")
    parser.add_argument("-t", "--token", help="application token (env PORTUSCTL_API_TOKEN)")
    parser.add_argument(
        "-p", "--profile", help="a server saved by `portusctl login` (env PORTUSCTL_PROFILE)"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no messages (env PORTUSCTL_QUIET)"
    )
    parser.add_argument(
        "-v", "--version", action="version", version=f"portusctl version {client_version()}"
    )
    sub = parser.add_subparsers(dest="command_name", metavar="command")
    sub.required = True

    get = sub.add_parser("get", help="show a resource, or list them")
    get.add_argument("resource")
    get.add_argument("arguments", nargs="*", metavar="id [subresource [id]] [key=value]")
    get.add_argument("--csv", action="store_true", help="activities: Portus's CSV export")
    _format_option(get)
    get.set_defaults(func=cmd_get)

    create = sub.add_parser("create", help="create a resource: key=value…")
    create.add_argument("resource")
    create.add_argument("arguments", nargs="*", metavar="key=value")
    _format_option(create)
    create.set_defaults(func=cmd_create)

    update = sub.add_parser("update", help="change a resource: <id> key=value…")
    update.add_argument("resource")
    update.add_argument("id")
    update.add_argument("arguments", nargs="*", metavar="key=value")
    _format_option(update)
    update.set_defaults(func=cmd_update)

    delete = sub.add_parser("delete", help="delete a resource: <id>")
    delete.add_argument("resource")
    delete.add_argument("id")
    delete.add_argument("arguments", nargs="*", metavar="key=value")
    delete.set_defaults(func=cmd_delete)

    validate = sub.add_parser("validate", help="check values without creating: key=value…")
    validate.add_argument("resource")
    validate.add_argument("arguments", nargs="*", metavar="key=value")
    _format_option(validate)
    validate.set_defaults(func=cmd_validate)

    explain = sub.add_parser("explain", help="the resources, their actions and keys")
    explain.add_argument("resource", nargs="?")
    explain.set_defaults(func=cmd_explain)

    health = sub.add_parser("health", help="the server's health (exit 1 when unhealthy)")
    _format_option(health)
    health.set_defaults(func=cmd_health)

    version = sub.add_parser("version", help="the client's and the server's versions")
    _format_option(version)
    version.set_defaults(func=cmd_version)

    bootstrap = sub.add_parser(
        "bootstrap", help="create the first administrator: username= email= password="
    )
    bootstrap.add_argument("arguments", nargs="*", metavar="key=value")
    _format_option(bootstrap)
    bootstrap.set_defaults(func=cmd_bootstrap)

    run = sub.add_parser(
        "exec",
        help="run a `portus` command of this installation (migrate, sync, gc --dry-run, …)",
    )
    run.add_argument("-l", "--local", help="directory to run it in (env PORTUSCTL_EXEC_LOCATION)")
    run.add_argument("--vendor", action="store_true", help="accepted for Portus; no effect")
    run.add_argument("command")
    run.add_argument("arguments", nargs=argparse.REMAINDER)
    run.set_defaults(func=cmd_exec)

    search = sub.add_parser("search", help="search repositories, namespaces and teams")
    search.add_argument("query", nargs="+")
    _format_option(search)
    search.set_defaults(func=cmd_search)

    login = sub.add_parser(
        "login",
        help="save a server (with -s, -u and -t, or a password to create a token) as a profile",
    )
    login.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    login.add_argument("--application", help="name of the token created with a password")
    login.set_defaults(func=cmd_login)

    sub.add_parser(
        "logout", help="forget a profile (and revoke the token login created)"
    ).set_defaults(func=cmd_logout)
    sub.add_parser("profiles", help="the saved servers").set_defaults(func=cmd_profiles)

    shell = sub.add_parser("completion", help="print a shell completion script")
    shell.add_argument("shell", choices=["bash"])
    shell.set_defaults(func=cmd_completion)
    return parser


def _api_error(err: TextIO, exc: ApiError) -> None:
    message = exc.message
    if exc.status_code == 404:
        err.write("Resource not found\n")
    elif isinstance(message, dict):
        err.write("\n".join(output.field_lines(message)) + "\n")
    elif exc.status_code >= 500:
        err.write(f"Portus faced an error: {message}\n")
    else:
        err.write(f"{message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = Context(args, sys.stdout, sys.stderr)
    command: Callable[[Context], int] = args.func
    try:
        return command(ctx)
    except UsageError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_USAGE
    except config.ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_USAGE
    except ApiError as exc:
        _api_error(sys.stderr, exc)
        return EXIT_ERROR
    except Unreachable as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_UNREACHABLE
    except UnexpectedAnswer as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
