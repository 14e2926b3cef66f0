"""portusctl end to end: the console script, run as a subprocess against a live `portus serve`
with a real registry (and skopeo for the CI-pipeline scenario). One server per module; the
tests run in file order and build on each other's objects (the first administrator, the
teams...), each with names of its own."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.live import LiveServer
from tests.support.oci import build_oci_layout
from tests.support.tools import RegistryProcess, Skopeo, free_port, require_tool, wait_for_http

pytestmark = pytest.mark.e2e

SCRIPT = Path(sys.executable).parent / "portusctl"
ADMIN_PASSWORD = "admin-password-1"


@dataclass
class Ctl:
    """The live stack and how to run portusctl against it."""

    server: LiveServer
    registry: RegistryProcess
    config_dir: Path
    token: str = ""

    def env(
        self, *, user: str | None = "admin", token: str | None = None, **extra: str
    ) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("PORTUSCTL_")}
        base["PORTUSCTL_CONFIG"] = str(self.config_dir / "config.json")
        base["PORTUSCTL_API_SERVER"] = self.server.url
        if user is not None:
            base["PORTUSCTL_API_USER"] = user
        if user is not None or token is not None:
            base["PORTUSCTL_API_TOKEN"] = token if token is not None else self.token
        return base | extra

    def run(
        self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), *args],
            env=env if env is not None else self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def ok(self, *args: str, **kwargs: Any) -> str:
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, (
            f"{args}: {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
        return result.stdout

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self.ok(*args, "-f", "json", **kwargs))


def fails(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The one line (or `- Field: …` lines) on stderr of a command that exited `code`."""
    assert result.returncode == code, (
        f"{result.args}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr
    return result.stderr


def table(text: str) -> list[list[str]]:
    """A table's rows split at the column gaps (4 spaces or more)."""
    import re

    return [re.split(r" {4,}", line.strip()) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def ctl(tmp_path_factory: pytest.TempPathFactory, stack_db: str) -> Iterator[Ctl]:
    require_tool("docker-registry")
    require_tool("skopeo")
    assert SCRIPT.exists(), "the portusctl console script is not installed (pip install -e .)"
    workdir = tmp_path_factory.mktemp("portusctl")
    server = LiveServer(
        workdir=workdir,
        database_url=stack_db,
        # the webhook test's target is on loopback
        extra_env={"PORTUS_WEBHOOKS_ALLOW_LOCAL_NETWORK": "true"},
    )
    if not stack_db.startswith("sqlite"):
        migrated = server.portus("migrate")
        assert migrated.returncode == 0, migrated.stderr
    registry_port = free_port()
    config = server.portus("registry-config", "--registry-host", f"127.0.0.1:{registry_port}")
    assert config.returncode == 0, config.stderr
    registry = RegistryProcess(workdir / "registry", registry_port, config.stdout)
    server.start()
    try:
        registry.start()
        wait_for_http(f"{registry.url}/v2/")
        yield Ctl(server=server, registry=registry, config_dir=workdir / "config")
    finally:
        registry.stop()
        server.stop()


def test_console_script_and_usage(ctl: Ctl) -> None:
    assert "portusctl version" in ctl.ok("--version")
    assert "Resources" in ctl.ok("explain")
    explained = ctl.ok("explain", "n")
    assert "namespaces" in explained and "validate" in explained and "name=" in explained
    for args in (["get"], ["get", "nope"], ["create", "repositories", "name=x"], ["frobnicate"]):
        assert fails(ctl.run(*args), 2).count("\n") == 1


def test_bootstrap_needs_only_the_server_and_happens_once(ctl: Ctl) -> None:
    env = ctl.env(user=None)
    out = ctl.ok(
        "bootstrap",
        "username=admin",
        "email=admin@example.com",
        f"password={ADMIN_PASSWORD}",
        env=env,
    )
    prefix = "You can now use the user 'admin' with the following token: "
    assert out.startswith(prefix)
    ctl.token = out.removeprefix(prefix).strip()
    assert ctl.token
    again = ctl.run(
        "bootstrap",
        "username=other",
        "email=o@example.com",
        "password=whatever-1",
        "-f",
        "json",
        env=env,
    )
    assert "already" in fails(again, 1)
    # The registry, beyond Portus: created through portusctl too.
    created = ctl.ok(
        "create", "registry", "name=e2e", f"hostname={ctl.registry.host}", "use_ssl=false"
    )
    assert created.startswith("Created 'registry' successfully!")
    assert table(created)[1] == ["ID", "Name", "Hostname", "ExternalHostname", "Secure"]


def test_missing_settings_are_usage_errors(ctl: Ctl) -> None:
    env = ctl.env()
    del env["PORTUSCTL_API_USER"]
    assert fails(ctl.run("get", "users", env=env), 2) == "You have to set the user of the API\n"
    env = ctl.env()
    del env["PORTUSCTL_API_TOKEN"]
    assert fails(ctl.run("get", "users", env=env), 2) == "You have to set the token of your user\n"
    env = ctl.env()
    del env["PORTUSCTL_API_SERVER"]
    expected = "You have to deliver the URL of the Portus server\n"
    assert fails(ctl.run("get", "users", env=env), 2) == expected
    assert (
        fails(ctl.run("bootstrap", "username=x", "email=x@y.z", "password=p", env=env), 2)
        == expected
    )


def test_users_in_both_formats_update_and_delete(ctl: Ctl) -> None:
    out = ctl.ok(
        "create", "user", "username=carol", "email=carol@example.com", "password=carol-pass-1"
    )
    assert out.startswith("Created 'user' successfully!\n\n")
    rows = table(out)
    assert rows[1] == ["ID", "Username", "Email", "Admin", "NamespaceID", "DisplayName"]
    carol = rows[2]
    assert carol[1:4] == ["carol", "carol@example.com", "false"]
    listed = table(ctl.ok("get", "users"))
    assert listed[0] == rows[1]
    assert [row[1] for row in listed[1:]] == ["admin", "carol"]
    assert ctl.json("get", "u", carol[0])["username"] == "carol"
    as_json = ctl.json("get", "users")
    assert [u["username"] for u in as_json] == ["admin", "carol"]
    # -f after the arguments and before them; the value of a key may hold '='.
    assert ctl.json("get", "-f", "json", "user", "carol@example.com")["id"] == int(carol[0])
    updated = ctl.ok("update", "user", carol[0], "display_name=Carol=C", "email=c2@example.com")
    assert updated.startswith("Updated 'user' successfully!\n\n")
    assert table(updated)[2][-1] == "Carol=C"
    quiet = ctl.ok("-q", "update", "user", carol[0], "email=carol@example.com", "shoe_size=9")
    assert table(quiet)[0][0] == "ID"
    noted = ctl.run("-q", "update", "user", carol[0], "email=carol@example.com", "shoe_size=9")
    assert noted.stderr == "Ignoring the following keys: shoe_size\n"
    assert ctl.ok("delete", "user", carol[0]) == "Deleted 'user' successfully!\n"
    assert fails(ctl.run("get", "user", carol[0]), 1) == "Resource not found\n"


def test_validation_errors_are_field_lines(ctl: Ctl) -> None:
    args = ("create", "users", "username=admin", "email=admin@example.com", "password=x-pass-12")
    lines = fails(ctl.run(*args), 1).splitlines()
    assert lines and all(line.startswith("- ") for line in lines)
    assert any(line.startswith("- Username: ") and "taken" in line for line in lines)
    bad = ctl.run("create", "user", "username=dave", "email=not-an-email", "password=dave-pass-1")
    assert fails(bad, 1).startswith("- Email: ")
    missing = ctl.run("create", "user", "username=dave")
    assert "email, password" in fails(missing, 2)


def test_teams_members_namespaces(ctl: Ctl) -> None:
    ctl.ok("create", "user", "username=erin", "email=erin@example.com", "password=erin-pass-1")
    out = ctl.ok("create", "team", "name=devs", "description=The developers")
    assert out.startswith("Created 'team' successfully!")
    team = table(out)[2]
    assert table(out)[1] == ["ID", "Name", "Hidden"] and team[1:] == ["devs", "false"]
    member = ctl.json("create", "member", f"team={team[0]}", "user=erin", "role=viewer")
    assert member["username"] == "erin" and member["role"] == "viewer"
    members = table(ctl.ok("get", "teams", team[0], "members"))
    assert members[0] == ["ID", "UserID", "Username", "Role"]
    assert {row[2] for row in members[1:]} == {"admin", "erin"}
    changed = ctl.ok("update", "member", str(member["id"]), f"team={team[0]}", "role=contributor")
    assert table(changed)[2][-1] == "contributor"
    out = ctl.ok("create", "namespace", "name=devspace", "team=devs", "description=ours")
    namespace = table(out)[2]
    assert table(out)[1] == ["ID", "Name", "Description", "TeamID", "Visibility", "Global"]
    assert namespace[1:] == ["devspace", "ours", team[0], "private", "false"]
    assert ctl.json("get", "namespace", namespace[0])["global"] is False
    assert [n["name"] for n in ctl.json("get", "t", team[0], "namespaces")] == ["devspace"]
    assert ctl.ok("validate", "namespace", "name=freshname") == "Valid\n"
    taken = ctl.run("validate", "namespace", "name=devspace")
    assert fails(taken, 1).startswith("- Name: ")
    invalid = ctl.run("validate", "n", "name=devspace", "-f", "json")
    assert invalid.returncode == 1 and json.loads(invalid.stdout)["valid"] is False
    assert ctl.ok("validate", "registry", f"hostname={ctl.registry.host}") == "Valid\n"
    renamed = ctl.ok("update", "namespace", namespace[0], "description=renamed")
    assert table(renamed)[2][2] == "renamed"
    ctl.ok("delete", "member", str(member["id"]), f"team={team[0]}")
    assert [m["username"] for m in ctl.json("get", "members", f"team={team[0]}")] == ["admin"]


def test_every_page_is_read(ctl: Ctl) -> None:
    for name in ("pa", "pb", "pc"):
        ctl.ok("create", "team", f"name=page-{name}")
    everything = ctl.json("get", "teams")
    paged = ctl.json("get", "teams", env=ctl.env(PORTUSCTL_PER_PAGE="2"))
    assert len(everything) >= 4
    assert paged == everything


def test_ci_pipeline_bot_token_pushes_where_its_team_may(ctl: Ctl, tmp_path: Path) -> None:
    bot = ctl.json("create", "bot", "username=ci-bot", "email=ci-bot@example.com")
    assert bot["bot"] is True and bot["application_token"]["plain_token"]
    # An administrator gives the bot a token for this pipeline (Portus's `create at`).
    created = ctl.ok("create", "at", f"id={bot['id']}", "application=pipeline")
    assert created.startswith("Created 'application token' successfully!")
    assert table(created)[1] == ["PlainToken"]
    token = table(created)[2][0]
    tokens = table(ctl.ok("get", "bots", str(bot["id"]), "application_tokens"))
    assert tokens[0] == ["ID", "Application"] and "pipeline" in {row[1] for row in tokens[1:]}
    assert [u["username"] for u in ctl.json("get", "bots")] == ["ci-bot"]

    team = ctl.json("create", "team", "name=pipeline")
    ctl.ok("create", "member", f"team={team['id']}", "user=ci-bot", "role=contributor")
    ctl.ok("create", "namespace", "name=builds", "team=pipeline")
    ctl.ok("create", "team", "name=others")
    ctl.ok("create", "namespace", "name=elsewhere", "team=others")

    layout = tmp_path / "image"
    build_oci_layout(layout, "latest", b"built by the pipeline")
    host = ctl.registry.host
    with Skopeo(tmp_path / "skopeo") as skopeo:
        pushed = skopeo.copy(
            f"oci:{layout}:latest", f"docker://{host}/builds/app:1", dest_creds=f"ci-bot:{token}"
        )
        assert pushed.returncode == 0, pushed.stderr
        refused = skopeo.copy(
            f"oci:{layout}:latest", f"docker://{host}/elsewhere/app:1", dest_creds=f"ci-bot:{token}"
        )
        assert refused.returncode != 0
        assert "denied" in refused.stderr.lower() or "unauthorized" in refused.stderr.lower()

    deadline = time.monotonic() + 20
    while not (repos := ctl.json("get", "repositories")) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert [r["full_name"] for r in repos] == ["builds/app"]
    rows = table(ctl.ok("get", "r", str(repos[0]["id"]), "tags"))
    assert rows[0] == ["ID", "Name", "Author", "Digest", "ImageID"]
    assert rows[1][1:3] == ["1", "ci-bot"]
    assert table(ctl.ok("get", "repositories"))[0] == [
        "ID",
        "Name",
        "FullName",
        "Namespace",
        "Stars",
        "TagsCount",
    ]
    repository = str(repos[0]["id"])
    assert ctl.ok("create", "star", f"repository={repository}").startswith("Created 'star'")
    assert [r["full_name"] for r in ctl.json("get", "stars")] == ["builds/app"]
    assert table(ctl.ok("get", "r", repository))[1][4] == "1"  # Stars
    ctl.ok("delete", "star", repository)
    comment = ctl.json("create", "comment", f"repository={repository}", "body=a=b *built*")
    assert ctl.json("get", "repositories", repository, "comments")[0]["body"] == "a=b *built*"
    ctl.ok("delete", "comment", str(comment["id"]), f"repository={repository}")
    assert ctl.json("get", "me")["username"] == "admin"
    hits = ctl.json("search", "builds")
    assert {"namespace", "repository"} <= {hit["kind"] for hit in hits}


def test_webhooks_refresh_tokens_and_deletes(ctl: Ctl) -> None:
    team = ctl.json("create", "team", "name=hooks")
    namespace = ctl.json("create", "namespace", "name=hooked", "team=hooks")
    ns = f"namespace={namespace['id']}"
    out = ctl.ok("create", "webhook", ns, "name=ci", "url=http://127.0.0.1:9/x?a=b")
    assert table(out)[3] == ["Secret"]
    hook = ctl.json("get", "namespaces", str(namespace["id"]), "webhooks")[0]
    assert hook["url"] == "http://127.0.0.1:9/x?a=b"
    hook_id = str(hook["id"])
    ctl.ok("update", "webhook", hook_id, ns, "enabled=false", "name=ci2")
    assert ctl.json("get", "webhooks", hook_id, ns)["name"] == "ci2"
    header = ctl.json("create", "webhook_header", ns, f"webhook={hook_id}", "name=X-A", "value=1")
    assert ctl.json("get", "webhooks", hook_id, "headers", ns)[0]["name"] == "X-A"
    ctl.ok("delete", "webhook_header", str(header["id"]), ns, f"webhook={hook_id}")
    assert ctl.json("get", "webhooks", hook_id, "deliveries", ns) == []
    ctl.ok("delete", "webhook", hook_id, ns)
    assert ctl.json("get", "users", "1", "refresh_tokens") == []
    ctl.ok("delete", "refresh_tokens", "all", "user=1")
    ctl.ok("delete", "namespace", str(namespace["id"]))
    ctl.ok("delete", "team", str(team["id"]))
    assert fails(ctl.run("get", "team", str(team["id"])), 1) == "Resource not found\n"


def test_a_progress_bar_only_on_a_terminal(ctl: Ctl) -> None:
    env = ctl.env(PORTUSCTL_PER_PAGE="1")
    master, terminal = os.openpty()
    try:
        shown = subprocess.run(
            [str(SCRIPT), "get", "teams"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=60,
            check=False,
        )
        os.close(terminal)
        drawn = os.read(master, 65536).decode()
    finally:
        os.close(master)
    assert shown.returncode == 0
    assert "#" in drawn and "/" in drawn  # [####....] 3/5
    piped = ctl.run("get", "teams", env=env)
    assert piped.stderr == ""


def test_activities_and_csv(ctl: Ctl) -> None:
    rows = table(ctl.ok("get", "activities", "key=team.create"))
    assert rows[0] == ["ID", "Key", "Owner", "Trackable", "Recipient", "CreatedAt"]
    assert {row[1] for row in rows[1:]} == {"team.create"}
    csv = ctl.ok("get", "activities", "--csv")
    assert csv.count("\n") > 3


def test_login_profiles_and_logout(ctl: Ctl) -> None:
    env = ctl.env(user=None)
    del env["PORTUSCTL_API_SERVER"]
    login_env = env | {"PORTUSCTL_API_SERVER": ctl.server.url}
    out = ctl.ok(
        "-u",
        "admin",
        "--profile",
        "local",
        "login",
        "--password-stdin",
        env=login_env,
        stdin=ADMIN_PASSWORD + "\n",
    )
    assert "Logged in" in out
    path = ctl.config_dir / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    saved = json.loads(path.read_text())
    assert saved["current"] == "local"
    token = saved["profiles"]["local"]["token"]
    # No flags, no PORTUSCTL_API_*: the current profile answers.
    assert "admin" in {u["username"] for u in ctl.json("get", "users", env=env)}
    assert table(ctl.ok("profiles", env=env))[1][:2] == ["*", "local"]
    assert ctl.ok("-p", "local", "logout", env=env).startswith("Logged out")
    # The token login created is revoked with the profile.
    gone = ctl.run("get", "users", env=ctl.env(token=token))
    assert fails(gone, 1).count("\n") == 1
    assert fails(ctl.run("get", "users", env=env), 2) == "You have to set the user of the API\n"


def test_health_version_and_completion(ctl: Ctl) -> None:
    rows = table(ctl.ok("health"))
    assert "DATABASE" in rows[0] and "REGISTRY" in rows[0]
    assert ctl.json("health")["registry"]["success"] is True
    out = ctl.ok("version").splitlines()
    assert out[0].startswith("portusctl version ") and out[1].startswith("Portus version ")
    assert ctl.json("version")["server"]["api-versions"] == ["v1"]
    script = ctl.ok("completion", "bash")
    bash = shutil.which("bash")
    if bash is not None:
        show = '_portusctl; echo "${COMPREPLY[*]}"\n'
        probe = (
            f"{script}COMP_WORDS=(portusctl get na); COMP_CWORD=2; {show}"
            f'COMP_WORDS=(portusctl create team ""); COMP_CWORD=3; {show}'
        )
        completed = subprocess.run([bash, "-c", probe], capture_output=True, text=True, check=False)
        lines = completed.stdout.splitlines()
        assert lines[0].split() == ["namespace", "namespaces"]
        assert "name=" in lines[1].split() and "description=" in lines[1].split()


def test_exec_runs_portus_and_passes_the_exit_code(ctl: Ctl) -> None:
    env = ctl.env() | ctl.server.env()
    config = ctl.run("exec", "registry-config", "--registry-host", "registry.test:5000", env=env)
    assert config.returncode == 0, config.stderr
    assert "service: registry.test:5000" in config.stdout  # the child's stdout is ours
    failing = ctl.run("exec", "create-user", "x", "--email", "not-an-email", "--bot", env=env)
    assert failing.returncode == 1
    assert "email" in failing.stderr  # the child's stderr is ours too


class _Failing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html>bad gateway</html>")

    def log_message(self, *args: Any) -> None:
        pass


def test_server_errors_and_an_unreachable_server(ctl: Ctl) -> None:
    # A real HTTP server in front that fails, like a proxy whose upstream is down.
    proxy = HTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        env = ctl.env(PORTUSCTL_API_SERVER=f"http://127.0.0.1:{proxy.server_port}")
        assert fails(ctl.run("get", "users", env=env), 1) == "Portus faced an error: Bad Gateway\n"
    finally:
        proxy.shutdown()
        proxy.server_close()
    env = ctl.env(PORTUSCTL_API_SERVER=f"http://127.0.0.1:{free_port()}")
    assert fails(ctl.run("get", "users", env=env), 3).startswith("cannot reach http://127.0.0.1:")
    assert httpx.get(f"{ctl.server.url}/api/v1/_ping").status_code == 200


def test_unhealthy_is_exit_1(ctl: Ctl) -> None:
    """Last: the registry goes away."""
    ctl.registry.stop()
    result = ctl.run("health")
    assert "Some services are not healthy: registry" in fails(result, 1)
    assert "REGISTRY" in result.stdout
