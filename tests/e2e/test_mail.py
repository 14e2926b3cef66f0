"""A real `portus serve` whose background sender delivers to a real SMTP server (aiosmtpd over
implicit TLS with AUTH, its certificate verified against the test's CA): the welcome mail of a
new user, then a password reset from request to new password, then the notice of the change."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.live import LiveServer
from tests.support.smtp import make_pki, reset_link, smtp_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

SMTP_PASSWORD = "e2e-smtp-Secret-42"


def test_the_background_sender_delivers(tmp_path: Path, stack_db: str) -> None:
    pki = make_pki(tmp_path / "pki")
    with smtp_server("tls", pki, credentials={"mailer": SMTP_PASSWORD}) as smtp:
        live = LiveServer(
            workdir=tmp_path,
            database_url=stack_db,
            extra_env={
                "PORTUS_EMAIL_FROM": "portus@example.org",
                "PORTUS_EMAIL_NAME": "Portus E2E",
                "PORTUS_EMAIL_SMTP_ENABLED": "true",
                "PORTUS_EMAIL_SMTP_ADDRESS": "127.0.0.1",
                "PORTUS_EMAIL_SMTP_PORT": str(smtp.port),
                "PORTUS_EMAIL_SMTP_DOMAIN": "portus.e2e.test",
                "PORTUS_EMAIL_SMTP_SSL_TLS": "ssl",
                "PORTUS_EMAIL_SMTP_OPENSSL_VERIFY_MODE": "peer",
                "PORTUS_EMAIL_SMTP_CA_FILE": str(pki.ca_file),
                "PORTUS_EMAIL_SMTP_USER_NAME": "mailer",
                "PORTUS_EMAIL_SMTP_PASSWORD": SMTP_PASSWORD,
                "PORTUS_EMAIL_SMTP_AUTHENTICATION": "login",
            },
        )
        if not stack_db.startswith("sqlite"):
            assert live.portus("migrate").returncode == 0
        live.start()
        try:
            with live.client() as client:
                boot = client.post(
                    "/api/v1/users/bootstrap",
                    json={
                        "user": {
                            "username": "admin",
                            "email": "admin@example.com",
                            "password": "adminpass1",
                        }
                    },
                )
                assert boot.status_code == 201
                admin = {"Portus-Auth": f"admin:{boot.json()['plain_token']}"}
                created = client.post(
                    "/api/v1/users",
                    json={
                        "user": {
                            "username": "bob",
                            "email": "bob@example.com",
                            "password": "bobs first pw",
                        }
                    },
                    headers=admin,
                )
                assert created.status_code == 201

                (welcome,) = smtp.wait_for(1, timeout=20)
                assert welcome.rcpt_tos == ["bob@example.com"]
                assert welcome.message["Subject"] == "Your Portus account"
                assert welcome.message["From"] == "Portus E2E <portus@example.org>"
                assert welcome.login == "mailer" and welcome.tls
                assert welcome.ehlo_name == "portus.e2e.test"

                asked = client.post(
                    "/api/v1/users/password_reset", json={"email": "bob@example.com"}
                )
                assert asked.status_code == 202
                reset_mail = smtp.wait_for(2, timeout=20)[1]
                link, token = reset_link(reset_mail.part("plain"))
                assert link.startswith(f"{live.url}/password_reset?token=")

                body = {"token": token, "password": "bobs second pw"}
                assert client.put("/api/v1/users/password_reset", json=body).status_code == 204
                assert client.put("/api/v1/users/password_reset", json=body).status_code == 422
                login = client.post(
                    "/api/v1/session", json={"username": "bob", "password": "bobs second pw"}
                )
                assert login.status_code == 200

                notice = smtp.wait_for(3, timeout=20)[2]
                assert notice.message["Subject"] == "Your Portus password was changed"
                # The server has the mail before the sender records it as sent.
                deadline = time.monotonic() + 10
                while True:
                    health = client.get("/api/v1/health", headers=admin).json()
                    if health["mail"]["pending"] == 0 or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                assert health["mail"]["success"] is True
                assert health["mail"]["pending"] == 0
                assert health["background"]["tasks"]["mail"]["success"] is True
        finally:
            live.stop()
        assert SMTP_PASSWORD not in live.log_text()
