"""`portus`: serve, worker, migrate, registry-config, create-user, sync, gc."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Never

import yaml
from alembic import command
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError

from app.core import logs
from app.core.config import ConfigError, Settings, config_file, env_name, load_settings
from app.core.db import create_engine, create_sessionmaker, session_scope
from app.core.errors import AppError, Invalid
from app.core.files import private_directory
from app.core.instance import instance_secret
from app.core.keys import load_signing_key
from app.core.resources import alembic_config
from app.core.security import TokenDigester
from app.main import schema_head

if TYPE_CHECKING:
    from tqdm import tqdm

    from app.upgrade import importer

logger = logging.getLogger("portus")


def migrate(settings: Settings) -> None:
    private_directory(settings.data_dir)
    command.upgrade(alembic_config(settings.resolved_database_url), "head")


class DatabaseNotReady(Exception):
    """The database cannot serve a command: the message says why and what to run."""


def _one_line(exc: BaseException) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


async def _schema_revision(url: str) -> str | None:
    """The database's schema revision (None: no schema); DBAPIError when it cannot connect."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            try:
                revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            except DBAPIError:
                return None
            return str(revision) if revision is not None else None
    finally:
        await engine.dispose()


def schema_problem(settings: Settings) -> str | None:
    """What keeps the configured database from serving this version, in one line; None: ready."""
    url = make_url(settings.resolved_database_url)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        # Connecting would create an empty file (and fail on a missing folder).
        if not Path(url.database).exists():
            return f"no database at {url.database}: run `portus migrate` first"
        shown = url.database
    try:
        revision = asyncio.run(_schema_revision(settings.resolved_database_url))
    except Exception as exc:  # whatever the driver raises: its message is what matters
        return f"cannot connect to the database {shown}: {_one_line(exc)}"
    head = schema_head()
    if revision is None:
        return f"the database {shown} has no schema yet: run `portus migrate` first"
    if revision != head:
        return (
            f"the database schema is not up to date ({shown} is at {revision}, this version "
            f"needs {head}): run `portus migrate` first"
        )
    return None


def require_schema(settings: Settings) -> None:
    """Refuse, in one line, to run a command on a missing, unreachable or outdated database."""
    problem = schema_problem(settings)
    if problem is not None:
        raise DatabaseNotReady(problem)


def with_public_url(settings: Settings, host: str, port: int) -> tuple[Settings, str]:
    """`settings` whose `public_url` is, when none is configured, the address `portus serve
    --host host --port port` listens on; and where the value comes from, for people to read."""
    if "public_url" in settings.model_fields_set:
        variable = env_name(("public_url",))
        where = variable if variable in os.environ else f"public_url in {config_file()[0]}"
        return settings, f"configured ({where})"
    # A wildcard address is no address to send anybody to: the machine itself is the best guess.
    reachable = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104
    if ":" in reachable:
        reachable = f"[{reachable}]"
    derived = settings.model_copy(update={"public_url": f"http://{reachable}:{port}"})
    return derived, f"public_url is not configured, so derived from --host {host} --port {port}"


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app

    if settings.resolved_database_url.startswith("sqlite"):
        migrate_or_explain(settings)  # the embedded default: one command, nothing else to run
    else:
        require_schema(settings)
    settings, origin = with_public_url(settings, args.host, args.port)
    logger.info("public URL %s (%s)", settings.public_url, origin)
    load_signing_key(settings)  # refuse to start on an unreadable key, before binding the port
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        proxy_headers=True,
        access_log=args.access_log,
        # uvicorn's loggers go through the handler of logs.configure (format, request id,
        # masking) instead of handlers of their own.
        log_config=None,
    )
    return 0


async def _run_worker(settings: Settings) -> None:
    from app.jobs.context import open_task_context
    from app.jobs.periodic import worker_id
    from app.jobs.runner import BackgroundRunner

    async with open_task_context(settings) as context:
        runner = BackgroundRunner.build(context)
        current = asyncio.current_task()
        assert current is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, current.cancel)
        names = ", ".join(runner.health()) or "nothing (every task is disabled)"
        logger.info("worker %s runs: %s", worker_id(), names)
        with contextlib.suppress(asyncio.CancelledError):
            await runner.run()
        logger.info("worker %s stopped", worker_id())


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    require_schema(settings)
    load_signing_key(settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run_worker(settings))
    return 0


def migrate_or_explain(settings: Settings) -> None:
    """`migrate`, a failure to reach the database or its folder as one `DatabaseNotReady` line."""
    try:
        migrate(settings)
    except (DBAPIError, OSError) as exc:
        shown = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
        raise DatabaseNotReady(f"cannot migrate the database {shown}: {_one_line(exc)}") from exc


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    migrate_or_explain(settings)
    return 0


def registry_config(settings: Settings, registry_host: str, *, notes: Sequence[str] = ()) -> str:
    key = load_signing_key(settings)
    secret = instance_secret(
        settings.data_dir, "notifications_secret", settings.notifications.secret
    )
    config = {
        "auth": {
            "token": {
                "realm": f"{settings.public_url}/v2/token",
                "service": registry_host,
                "issuer": settings.machine_fqdn.value,
                "rootcertbundle": str(key.certificate_path),
            }
        },
        "notifications": {
            "endpoints": [
                {
                    "name": "portus",
                    "url": f"{settings.public_url}/v2/webhooks/events",
                    "headers": {"Authorization": [f"Bearer {secret}"]},
                    "timeout": "2s",
                    "threshold": 5,
                    "backoff": "1s",
                    "ignoredmediatypes": ["application/octet-stream"],
                }
            ]
        },
    }
    header = [
        "# Paste into the registry's config.yml (distribution 2.8).",
        f"# service must equal the hostname you register here ({registry_host}).",
        "# Also set storage.delete.enabled: true so that tags can be deleted.",
        *(f"# {note}" for note in notes),
    ]
    return "\n".join(header) + "\n" + yaml.safe_dump(config, sort_keys=False)


async def _registered_hostname(settings: Settings) -> str | None:
    from app.namespaces import service as namespaces

    engine = create_engine(settings.resolved_database_url, pool_size=1)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            registry = await namespaces.get_registry(session)
            return registry.hostname if registry else None
    finally:
        await engine.dispose()


def cmd_registry_config(settings: Settings, args: argparse.Namespace) -> int:
    path, _ = config_file()
    notes = [
        f"Portus settings: {path if path.exists() else f'built-in defaults ({path} is absent)'}"
        f"; data_dir {settings.data_dir}.",
    ]
    configured = "public_url" in settings.model_fields_set
    settings, origin = with_public_url(settings, args.host, args.port)
    notes.append(f"realm {settings.public_url}/v2/token: {origin}.")
    if not configured:
        notes.append(
            "  Give this command the --host/--port of `portus serve`, or set public_url to the "
            "URL users and the registry reach Portus at."
        )
    if args.registry_host:
        host = args.registry_host
        notes.append(f"service {host}: --registry-host.")
    else:
        problem = schema_problem(settings)
        registered = None if problem else asyncio.run(_registered_hostname(settings))
        host = registered or "127.0.0.1:5000"
        if registered:
            why = "the registry registered here"
        elif problem:
            why = f"a guess, the database cannot tell ({problem}); --registry-host names it"
        else:
            why = "a guess: no registry is registered yet; --registry-host names it"
        notes.append(f"service {host}: {why}.")
    print(registry_config(settings, host, notes=notes), end="")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password (again): ") != first:
        raise SystemExit("error: the passwords differ")
    return first


async def _create_user(
    settings: Settings,
    args: argparse.Namespace,
    password: str | None,
    digester: TokenDigester | None,
) -> int:
    from app.core.directory import Directory
    from app.users import service as users

    if settings.ldap.enabled:
        # As the API: a directory user's name taken locally could never log in again.
        directory = Directory(settings.ldap, first_user_admin=settings.first_user_admin.enabled)
        try:
            await users.refuse_directory_name(directory, args.username)
        finally:
            directory.close()
    engine = create_engine(settings.resolved_database_url, pool_size=1)
    token: str | None = None
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            user = await users.create_user(
                session,
                users.NewUser(
                    username=args.username,
                    email=args.email,
                    password=password,
                    admin=args.admin,
                    bot=args.bot,
                ),
                actor_id=None,
            )
            if user.bot and digester is not None:
                # As the API: a bot has no password, so its first token is its way in.
                _, token = await users.create_application_token(
                    session, digester, user, FIRST_BOT_APPLICATION, actor_id=None
                )
            created = f"created {'bot' if user.bot else 'user'} {user.username} (id {user.id})"
    finally:
        await engine.dispose()
    # Committed: now the token is worth showing.
    print(created)
    if token is not None:
        print(f"application token {FIRST_BOT_APPLICATION!r} (shown this once): {token}")
    return 0


FIRST_BOT_APPLICATION = "default"  # as POST /api/v1/users names a bot's first token


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    require_schema(settings)
    password = None if args.bot else _read_password(args)
    digester = None
    if args.bot:
        private_directory(settings.data_dir)
        secret_key = instance_secret(settings.data_dir, "secret_key_base", settings.secret_key_base)
        digester = TokenDigester(secret_key.encode())
    try:
        return asyncio.run(_create_user(settings, args, password, digester))
    except Invalid as exc:
        problems_by_field: dict[str, list[str]] = exc.message
        for field, problems in problems_by_field.items():
            print(f"error: {field} {'; '.join(problems)}", file=sys.stderr)
        return 1
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


class ProgressBar:
    """A `Progress` callback drawing a tqdm bar on stderr (a new total restarts it)."""

    def __init__(self, description: str, unit: str) -> None:
        self.description = description
        self.unit = unit
        self.bar: tqdm[Never] | None = None

    def __call__(self, done: int, total: int, item: str) -> None:
        from tqdm import tqdm

        bar = self.bar
        if bar is None:
            bar = self.bar = tqdm(
                total=total, desc=self.description, unit=self.unit, file=sys.stderr
            )
        elif done == 1 or total != bar.total:
            bar.reset(total=total)
        bar.set_postfix_str(item, refresh=False)
        bar.update(done - bar.n)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.bar is not None:
            self.bar.close()


def _print_list(title: str, items: Sequence[str]) -> None:
    print(f"{title}: {len(items)}")
    for item in items:
        print(f"  {item}")


async def _sync(settings: Settings, strategy: str) -> int:
    from app.jobs.context import open_task_context
    from app.registry.sync.service import sync_pass

    print(
        f"catalog sync: strategy {strategy} (background.sync.strategy: "
        f"{settings.background.sync.strategy}), registry.catalog_page: "
        f"{settings.registry.catalog_page.value}"
    )
    async with open_task_context(settings) as ctx:
        with ProgressBar("sync", "repo") as bar:
            report = await sync_pass(ctx, strategy, progress=bar)
    if report.skipped:
        print(f"nothing done: {report.skipped}")
        return 0
    print(f"repositories in the registry: {report.repositories_seen}")
    _print_list("namespaces created", report.namespaces_created)
    _print_list("repositories created", report.repositories_created)
    _print_list("tags created", report.tags_created)
    _print_list("tags updated", report.tags_updated)
    _print_list("tags removed", report.tags_removed)
    _print_list("repositories removed", report.repositories_removed)
    _print_list("errors", report.errors)
    return 1 if report.errors else 0


def cmd_sync(settings: Settings, args: argparse.Namespace) -> int:
    require_schema(settings)
    strategy = args.strategy or settings.background.sync.strategy
    return asyncio.run(_sync(settings, strategy))


async def _gc(settings: Settings, dry_run: bool) -> int:
    from app.jobs.context import open_task_context
    from app.registry.gc.service import gc_pass

    gc = settings.delete.garbage_collector
    pattern = f"/{gc.tag}/" if gc.tag else "(every tag)"
    print(
        f"garbage collector: older_than {gc.older_than} days, keep_latest {gc.keep_latest} per "
        f"repository, tag {pattern}; delete.garbage_collector.enabled: "
        f"{str(gc.enabled).lower()} (ignored: this is an explicit command)"
    )
    async with open_task_context(settings) as ctx:
        with ProgressBar("gc", "tag") as bar:
            report = await gc_pass(ctx, dry_run=dry_run, progress=bar)
    print(f"pushed and pulled before {report.cutoff.isoformat(timespec='seconds')}")
    if dry_run:
        print("dry run: nothing deleted")
        _print_list(
            "would delete",
            [
                f"{c.reference} {c.digest} (pushed {c.pushed_at.isoformat(timespec='seconds')}, "
                f"pulled {c.pulled_at.isoformat(timespec='seconds') if c.pulled_at else 'never'})"
                for c in report.candidates
            ],
        )
        return 0
    _print_list("deleted", report.deleted)
    _print_list("skipped (pushed, pulled or deleted meanwhile)", report.skipped)
    _print_list("errors", report.errors)
    return 1 if report.errors else 0


def cmd_gc(settings: Settings, args: argparse.Namespace) -> int:
    require_schema(settings)
    return asyncio.run(_gc(settings, args.dry_run))


class TableBars:
    """A progress bar per table of an import (`progress(table, total)`)."""

    def __init__(self) -> None:
        self.bar: ProgressBar | None = None

    def __call__(self, table: str, total: int) -> ProgressBar:
        self.close()
        self.bar = ProgressBar(table, "row")
        return self.bar

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _print_summary(summary: importer.Summary) -> None:
    from app.upgrade.importer import STEPS

    print(f"{'dry run of the import' if summary.dry_run else 'imported'} from {summary.source}")
    print(f"  Portus schema {summary.schema_version}")
    print(f"  {'table':<20} {'read':>9} {'imported' if not summary.dry_run else 'would be':>9}")
    for portus_table, our_table, _ in STEPS:
        read = summary.read.get(portus_table, 0)
        print(f"  {portus_table:<20} {read:>9} {summary.imported.get(our_table, 0):>9}")
    for title, tallies in (("skipped", summary.skipped), ("changed", summary.adjusted)):
        for table, reasons in tallies.items():
            for reason, count in reasons.items():
                examples = summary.examples.get(f"{table}: {reason}", [])
                shown = f" ({', '.join(examples)}{', …' if count > len(examples) else ''})"
                print(f"  {title} {count} {table}: {reason}{shown if examples else ''}")
    for what, why in summary.not_imported.items():
        print(f"  not imported: {what}: {why}")
    if summary.dry_run:
        print("dry run: nothing was written")


async def _import_portus(settings: Settings, args: argparse.Namespace) -> int:
    from app.upgrade import importer as run
    from app.upgrade import installation
    from app.upgrade.source import SourceError

    engine = create_engine(settings.resolved_database_url, pool_size=1)
    try:
        if args.retire_legacy_tokens:
            deleted, passwords = await run.retire_legacy_tokens(engine)
            print(f"deleted {deleted} application tokens imported from Portus")
            print(
                f"{passwords} users still have their Portus password hash (replaced by argon2id "
                "at their next login)"
            )
            return 0
        bars = TableBars()
        try:
            summary = await run.import_portus(
                settings,
                None if args.dry_run else engine,
                args.source,
                force=args.force,
                progress=bars,
            )
        except (SourceError, run.ImportRefused) as exc:
            print(f"portus import-portus: {exc}", file=sys.stderr)
            return 1
        finally:
            bars.close()
    finally:
        await engine.dispose()
    _print_summary(summary)
    key = args.key or os.environ.get("PORTUS_KEY_PATH")
    if key and not args.dry_run:
        certificate = Path(args.certificate) if args.certificate else Path(key).with_suffix(".crt")
        for line in installation.take_over_key(settings, Path(key), certificate):
            print(line)
    elif not key:
        print("signing key: none given (--key or PORTUS_KEY_PATH): the registry's rootcertbundle")
        print("  must be changed to ours (`portus registry-config` prints it)")
    if args.config:
        config = Path(args.config)
        for line in installation.issuer_advice(settings, installation.portus_machine_fqdn(config)):
            print(line)
        portus_settings = installation.read_portus_config(config)
        for line in installation.settings_differences(settings, portus_settings):
            print(line)
    return 0


def cmd_import_portus(settings: Settings, args: argparse.Namespace) -> int:
    if not args.retire_legacy_tokens and not args.source:
        print("portus import-portus: --from is required", file=sys.stderr)
        return 2
    if not args.dry_run and schema_problem(settings) is not None:
        migrate_or_explain(settings)  # a new (or outdated) database is migrated first
    return asyncio.run(_import_portus(settings, args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portus", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web service (API, registry token realm, UI)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    serve.set_defaults(func=cmd_serve)

    sub.add_parser(
        "worker",
        help="run the background tasks (events, sync, garbage collector, webhooks) without the "
        "web service; set background.in_process: false for `portus serve` then",
    ).set_defaults(func=cmd_worker)

    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        func=cmd_migrate
    )

    reg = sub.add_parser("registry-config", help="print the registry's auth/notifications YAML")
    reg.add_argument("--registry-host", help="host:port of the registry (its token service)")
    reg.add_argument(
        "--host",
        default="127.0.0.1",
        help="as given to `portus serve`: makes the realm when public_url is not configured",
    )
    reg.add_argument("--port", type=int, default=3000, help="as given to `portus serve`")
    reg.set_defaults(func=cmd_registry_config)

    create = sub.add_parser("create-user", help="create a user (password read from stdin)")
    create.add_argument("username")
    create.add_argument("--email", required=True)
    create.add_argument("--admin", action="store_true")
    create.add_argument("--bot", action="store_true", help="no password: logs in with tokens")
    create.set_defaults(func=cmd_create_user)

    sync = sub.add_parser("sync", help="one catalog sync pass: import what the registry holds")
    sync.add_argument(
        "--strategy",
        choices=["initial", "on-start", "update", "update-delete"],
        help="default: background.sync.strategy; update never removes anything",
    )
    sync.set_defaults(func=cmd_sync)

    gc = sub.add_parser("gc", help="one garbage collector pass (delete.garbage_collector.*)")
    gc.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    gc.set_defaults(func=cmd_gc)

    port = sub.add_parser(
        "import-portus",
        help="import a Portus 2.4 installation (its database, signing key and issuer)",
    )
    port.add_argument(
        "--from",
        dest="source",
        metavar="URL",
        help="the Portus database: mysql://user:pw@host:port/db or postgresql://…",
    )
    port.add_argument("--config", metavar="PORTUS_CONFIG_YML", help="Portus's config.yml")
    port.add_argument(
        "--key",
        metavar="PEM",
        help="Portus's token signing key (default: $PORTUS_KEY_PATH); it becomes ours",
    )
    port.add_argument(
        "--certificate",
        metavar="PEM",
        help="the certificate of that key in the registry's rootcertbundle (default: the "
        "key's path ending in .crt)",
    )
    port.add_argument("--dry-run", action="store_true", help="read and report; write nothing")
    port.add_argument(
        "--force", action="store_true", help="import again (into an empty database only)"
    )
    port.add_argument(
        "--retire-legacy-tokens",
        action="store_true",
        help="delete the application tokens imported from Portus (nothing is imported)",
    )
    port.set_defaults(func=cmd_import_portus)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # `serve --log-level` sets the service's own level too (not only uvicorn's).
    level = str(getattr(args, "log_level", "info")).upper()
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    logs.configure(settings.logging.format, getattr(logging, level, logging.INFO))
    # One line per request the service makes (registry, webhooks) is debugging, not information.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return int(args.func(settings, args))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except DatabaseNotReady as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (DBAPIError, ConnectionError) as exc:
        # One line rather than the driver's traceback (e.g. `portus migrate` and no server).
        print(f"error: database: {_one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
