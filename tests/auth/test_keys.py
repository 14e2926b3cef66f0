from __future__ import annotations

import base64
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from app.core.config import Settings
from app.core.keys import libtrust_kid, load_signing_key


def _b64url_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def test_libtrust_kid_matches_the_spec_vector() -> None:
    # The P-256 key of distribution's jwt.md and the key id the spec gives for it.
    numbers = ec.EllipticCurvePublicNumbers(
        _b64url_int("m7zUpx3b-zmVE5cymSs64POG9QcyEpJaYCD82-549_Q"),
        _b64url_int("dU3biz8sZ_8GPB-odm8Wxz3lNDr1xcAQQPQaOcr1fmc"),
        ec.SECP256R1(),
    )
    kid = libtrust_kid(numbers.public_key())
    assert kid == "PYYO:TEWU:V7JH:26JV:AQTZ:LJC3:SXVJ:XGHA:34F2:2LAQ:ZRMK:Z7Q6"


def test_first_start_generates_an_ec_key_and_certificate_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_signing_key(settings)
    second = load_signing_key(settings)
    assert first.algorithm == "ES256"
    assert first.kid == second.kid
    assert (tmp_path / "keys" / "portus.key").stat().st_mode & 0o777 == 0o600
    cert = x509.load_pem_x509_certificate(first.certificate_path.read_bytes())
    assert libtrust_kid(cert.public_key()) == first.kid
    assert first.x5c == [base64.b64encode(cert.public_bytes(Encoding.DER)).decode()]


def test_an_rsa_key_signs_rs256(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "rsa.pem"
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    signing = load_signing_key(Settings(data_dir=tmp_path, key_path=str(path)))
    assert signing.algorithm == "RS256"
    assert signing.kid == libtrust_kid(key.public_key())
