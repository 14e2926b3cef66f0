"""The stack the web UI's Playwright tests run against (frontend/e2e/global-setup.ts starts it):
a real `portus serve` serving the built UI (frontend/dist) on a fresh database, a real registry
configured from `portus registry-config` (token auth + notifications), a webhook receiver, a
tiny OCI image layout to push with skopeo, and LemonLDAP::NG's portal as the OpenID Connect
provider Portus offers on its sign-in page (tests/support/oidc_provider.py; its Demo accounts).
Nothing is set up inside Portus: the tests do it all through the UI (the first administrator,
the registry, ...).

    python -m tests.e2e.ui_stack STATE.json

writes STATE.json (URLs, paths, the skopeo environment) once everything answers, then runs
until its stdin closes or it gets SIGTERM/SIGINT, and tears everything down (the database is
dropped). PostgreSQL: the server named by PORTUS_TEST_DATABASE_URL (a database of its own is
created there); unset, a SQLite file in the temp directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

from tests.e2e.live import ROOT, LiveServer
from tests.fixtures.database import throwaway_database
from tests.support.oci import build_oci_layout
from tests.support.oidc_provider import PORTAL_PSGI, LemonLdapProvider, OidcClient
from tests.support.receiver import Receiver
from tests.support.tools import RegistryProcess, Skopeo, free_port, wait_for_http

OIDC_SECRET = "ui-e2e-oidc-secret"


async def _wait_for_end() -> None:
    """Until stdin closes (the parent went away) or SIGTERM/SIGINT asks us to stop."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def read_stdin() -> None:
        # os.read, not sys.stdin: a daemon thread blocked here must not hold a buffer's lock
        while os.read(0, 1024):
            pass
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=read_stdin, daemon=True).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    await done.wait()


async def main(state_path: Path) -> None:
    ui = ROOT / "frontend" / "dist"
    if not (ui / "index.html").exists():
        raise SystemExit(f"no UI build at {ui}: run `npm run build` in frontend/")
    if not PORTAL_PSGI.is_file():
        raise SystemExit(
            f"LemonLDAP::NG's portal is not installed ({PORTAL_PSGI}): install the packages "
            ".ci/test lists"
        )
    with tempfile.TemporaryDirectory(prefix="portus-ui-e2e-") as tmp:
        workdir = Path(tmp)
        async with throwaway_database(workdir, migrated=True) as database_url:
            port = free_port()
            oidc_client = OidcClient(
                "portus",
                OIDC_SECRET,
                (f"http://127.0.0.1:{port}/api/v1/oauth/openid_connect/callback",),
            )
            (workdir / "llng").mkdir()
            provider = LemonLdapProvider(workdir / "llng", clients=[oidc_client])
            server = LiveServer(
                workdir=workdir,
                database_url=database_url,
                port=port,
                extra_env={
                    "PORTUS_UI_DIRECTORY": str(ui),
                    "PORTUS_WEBHOOKS_BACKOFF_BASE": "0.2",
                    "PORTUS_WEBHOOKS_ALLOW_LOCAL_NETWORK": "true",  # the receiver is on loopback
                    "PORTUS_OAUTH_OPENID_CONNECT_ENABLED": "true",
                    "PORTUS_OAUTH_OPENID_CONNECT_ISSUER": provider.issuer,
                    "PORTUS_OAUTH_OPENID_CONNECT_IDENTIFIER": oidc_client.client_id,
                    "PORTUS_OAUTH_OPENID_CONNECT_SECRET": OIDC_SECRET,
                },
            )
            registry_port = free_port()
            config = server.portus(
                "registry-config", "--registry-host", f"127.0.0.1:{registry_port}"
            )
            if config.returncode != 0:
                raise SystemExit(f"portus registry-config failed: {config.stderr}")
            registry = RegistryProcess(workdir / "registry", registry_port, config.stdout)
            receiver = Receiver()
            skopeo = Skopeo(workdir / "skopeo")
            layout = workdir / "image"
            build_oci_layout(layout, "latest", b"hello from the UI e2e")
            build_oci_layout(layout, "v2", b"hello again from the UI e2e")
            try:
                provider.start()
                server.start()
                registry.start()
                wait_for_http(f"{registry.url}/v2/")
                receiver.start()
                state = {
                    "portus": server.url,
                    "registry": registry.host,
                    "receiver": receiver.url,
                    "oidc_provider": provider.url,
                    "layout": str(layout),
                    "skopeo": [*skopeo._global()],
                    "skopeo_env": skopeo.env,
                    "skopeo_authfile": str(skopeo.auth_file),
                    "database": database_url.split("://", 1)[0],
                    "workdir": str(workdir),
                    "pid": os.getpid(),
                }
                state_path.write_text(json.dumps(state, indent=2))
                sys.stderr.write(f"ui e2e stack up: {server.url} (registry {registry.host})\n")
                await _wait_for_end()
            finally:
                receiver.stop()
                registry.stop()
                server.stop()
                provider.stop()
                skopeo.close()
                logs = os.environ.get("PORTUS_E2E_LOGS")  # a directory to keep the logs in
                if logs:
                    Path(logs).mkdir(parents=True, exist_ok=True)
                    Path(logs, "portus.log").write_text(server.log_text())
                    Path(logs, "registry.log").write_text(registry.log_text())
                    Path(logs, "llng.log").write_text(provider.log_text())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tests.e2e.ui_stack STATE.json")
    asyncio.run(main(Path(sys.argv[1])))
