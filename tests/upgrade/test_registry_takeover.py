"""The whole upgrade as an administrator does it, with real programs: a registry configured for
Portus (its RSA key's certificate in `rootcertbundle`, its `machine_fqdn` as issuer) keeps its
configuration but the realm; `portus import-portus` runs; skopeo pushes and pulls with Portus-era
passwords and application tokens, and Portus's policy still holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.e2e.live import LiveServer
from tests.fixtures import portus_db
from tests.support.oci import build_oci_layout
from tests.support.tools import RegistryProcess, Skopeo, free_port, require_tool, wait_for_http

OLD_FQDN = "portus.old.test"


def portus_key_and_certificate(directory: Path) -> tuple[Path, Path]:
    """As a Portus installation had them: an RSA key and its self-signed certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, OLD_FQDN)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "portus.key", directory / "portus.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


async def test_the_registry_accepts_our_tokens_after_the_import(tmp_path: Path) -> None:
    require_tool("docker-registry")
    skopeo = Skopeo(tmp_path / "skopeo")
    old = tmp_path / "old-portus"
    old.mkdir()
    key, certificate = portus_key_and_certificate(old)
    portus_config = old / "config.yml"
    portus_config.write_text(f"machine_fqdn:\n  value: {OLD_FQDN}\n")
    registry_port = free_port()
    registry_host = f"127.0.0.1:{registry_port}"

    async with portus_db.portus_database("mysql") as url:
        engine = await portus_db.open_portus(url)
        try:
            async with engine.begin() as conn:
                data = await portus_db.fill(conn, registry_host)
        finally:
            await engine.dispose()

        workdir = tmp_path / "new"
        workdir.mkdir()
        server = LiveServer(
            workdir=workdir,
            database_url=f"sqlite+aiosqlite:///{workdir / 'portus.sqlite3'}",
            extra_env={"PORTUS_MACHINE_FQDN_VALUE": OLD_FQDN},
        )
        dry = server.portus("import-portus", "--from", url, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "dry run: nothing was written" in dry.stdout
        imported = server.portus(
            "import-portus", "--from", url, "--key", str(key), "--config", str(portus_config)
        )
        assert imported.returncode == 0, imported.stderr
        assert f"signing key: Portus's {key} is now" in imported.stdout
        assert f"certificate: Portus's {certificate} is now" in imported.stdout
        assert f"token issuer: {OLD_FQDN!r}, as Portus's" in imported.stdout
        again = server.portus("import-portus", "--from", url)
        assert again.returncode == 1
        assert again.stderr.startswith("portus import-portus: already imported from mysql://")
        assert len(again.stderr.strip().splitlines()) == 1

        server.start()
        # The registry's configuration as it was for Portus, but the realm.
        registry = RegistryProcess(
            tmp_path / "registry",
            registry_port,
            (
                "auth:\n  token:\n"
                f"    realm: {server.url}/v2/token\n"
                f"    service: {registry_host}\n"
                f"    issuer: {OLD_FQDN}\n"
                f"    rootcertbundle: {certificate}\n"
            ),
        )
        try:
            registry.start()
            wait_for_http(f"{registry.url}/v2/")
            layout = tmp_path / "image"
            build_oci_layout(layout, "latest", content=b"pushed after the upgrade")
            image = f"docker://{registry_host}/apps/web:after-upgrade"

            alice = f"alice:{data.passwords['alice']}"  # an owner of devs, her old password
            pushed = skopeo.copy(f"oci:{layout}:latest", image, dest_creds=alice)
            assert pushed.returncode == 0, pushed.stderr + registry.log_text()[-2000:]

            bot = f"ci-bot:{data.tokens['ci-bot/pipeline']}"  # the bot's old token
            pulled = skopeo.copy(image, f"oci:{tmp_path / 'pulled'}:x", src_creds=bot)
            assert pulled.returncode == 0, pulled.stderr

            carol = f"carol:{data.passwords['carol']}"  # a viewer of devs: pulls, never pushes
            refused = skopeo.copy(f"oci:{layout}:latest", image, dest_creds=carol)
            assert refused.returncode != 0
            assert "denied" in refused.stderr.lower() or "unauthorized" in refused.stderr.lower()
        finally:
            registry.stop()
            server.stop()
