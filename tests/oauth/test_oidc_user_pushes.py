"""A person who signs in with OpenID Connect has no password: they push with an application
token, made on their profile. With real programs: `portus serve`, a registry, LemonLDAP::NG
and skopeo."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.live import LiveServer, set_up
from tests.support.oci import build_oci_layout
from tests.support.oidc_provider import LemonLdapProvider, OidcClient
from tests.support.tools import RegistryProcess, Skopeo, free_port, require_tool, wait_for_http


def test_an_oidc_user_pushes_with_an_application_token(tmp_path: Path) -> None:
    require_tool("docker-registry")
    skopeo = Skopeo(tmp_path / "skopeo")
    port = free_port()
    callback = f"http://127.0.0.1:{port}/api/v1/oauth/openid_connect/callback"
    client = OidcClient("portus", "portus-secret", (callback,))
    with LemonLdapProvider(tmp_path / "idp", clients=[client]) as provider:
        server = LiveServer(
            workdir=tmp_path,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'portus.sqlite3'}",
            port=port,
            extra_env={
                "PORTUS_OAUTH_OPENID_CONNECT_ENABLED": "true",
                "PORTUS_OAUTH_OPENID_CONNECT_ISSUER": provider.issuer,
                "PORTUS_OAUTH_OPENID_CONNECT_IDENTIFIER": client.client_id,
                "PORTUS_OAUTH_OPENID_CONNECT_SECRET": "portus-secret",
            },
        )
        registry_port = free_port()
        config = server.portus("registry-config", "--registry-host", f"127.0.0.1:{registry_port}")
        assert config.returncode == 0, config.stderr
        server.start()
        registry = RegistryProcess(tmp_path / "registry", registry_port, config.stdout)
        try:
            registry.start()
            wait_for_http(f"{registry.url}/v2/")
            set_up(server, registry)

            with server.client() as browser, httpx.Client(timeout=30) as idp:
                started = browser.get("/api/v1/oauth/openid_connect/start")
                assert started.status_code == 303, started.text
                back = provider.login(idp, started.headers["location"], "dwho")
                signed_in = browser.get(back.removeprefix(server.url))
                assert signed_in.status_code == 303, signed_in.text
                csrf = browser.get("/api/v1/session").json()["csrf_token"]
                me = browser.get("/api/v1/me").json()
                assert me["username"] == "dwho"
                created = browser.post(
                    f"/api/v1/users/{me['id']}/application_tokens",
                    json={"application": "laptop"},
                    headers={"X-CSRF-Token": csrf},
                )
                assert created.status_code == 201, created.text
                token = created.json()["plain_token"]

            layout = tmp_path / "image"
            build_oci_layout(layout, "latest", content=b"an oidc user's image")
            image = f"docker://{registry.host}/dwho/app:1"
            pushed = skopeo.copy(f"oci:{layout}:latest", image, dest_creds=f"dwho:{token}")
            assert pushed.returncode == 0, pushed.stderr
            # There is no password to guess: the directory's password is not ours.
            refused = skopeo.copy(f"oci:{layout}:latest", image, dest_creds="dwho:dwho")
            assert refused.returncode != 0
        finally:
            registry.stop()
            server.stop()
