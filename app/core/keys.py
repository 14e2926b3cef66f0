"""The key that signs registry tokens, and its certificate for the registry's rootcertbundle.

Loaded once at start-up: python-jose given a PEM string would re-parse it on every token.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jose import jwk, jwt
from jose.backends.base import Key

from app.core.config import ConfigError, Settings
from app.core.files import private_directory, private_file

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


def libtrust_kid(public_key: Any) -> str:
    """The key id distribution 2.8 matches: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits,
    base32 without padding, in groups of four joined by colons."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, 48, 4))


def algorithm_for(key: PrivateKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    curve = key.curve.name
    if curve not in _EC_ALGORITHMS:
        raise ConfigError(f"key_path: unsupported elliptic curve {curve}")
    return _EC_ALGORITHMS[curve]


@dataclass(frozen=True)
class SigningKey:
    algorithm: str
    kid: str
    certificate_path: Path
    x5c: list[str]  # standard base64 DER, leaf first
    _jose_key: Key

    def sign(self, claims: dict[str, Any]) -> str:
        headers = {"kid": self.kid, "x5c": self.x5c}
        return str(jwt.encode(claims, self._jose_key, algorithm=self.algorithm, headers=headers))


def create_private_file(path: Path, data: bytes) -> bool:
    """Create `path` (mode 0600) whole or not at all, unless it exists: written to a temporary
    file, then linked into place, so a crash or a second process starting at the same moment
    never leaves a half-written key. False when another process won."""
    private_directory(path.parent)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)
    return True


def _self_signed_certificate(key: PrivateKey, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def load_private_key(path: Path) -> PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"key_path: cannot read {path}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"key_path: {path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigError(f"key_path: {path} must hold an RSA or EC key (the registry needs one)")
    return key


def load_signing_key(settings: Settings) -> SigningKey:
    keys_dir = settings.data_dir / "keys"
    if not settings.key_path or not settings.certificate_path:
        # What is generated is kept there; the data directory first, or mkdir would make it
        # with the umask's mode (and the next command would warn that it is open to others).
        private_directory(settings.data_dir)
        private_directory(keys_dir)
    if settings.key_path:
        key_path = Path(settings.key_path)
    else:
        key_path = keys_dir / "portus.key"
        if not key_path.exists():
            generated = ec.generate_private_key(ec.SECP256R1())
            create_private_file(
                key_path,
                generated.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
            )
        private_file(key_path)
    key = load_private_key(key_path)

    if settings.certificate_path:
        cert_path = Path(settings.certificate_path)
    else:
        cert_path = keys_dir / f"{key_path.stem}.crt"
        if not cert_path.exists():
            cert = _self_signed_certificate(key, settings.machine_fqdn.value)
            create_private_file(cert_path, cert.public_bytes(serialization.Encoding.PEM))
            cert_path.chmod(0o644)
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"certificate_path: cannot load a PEM certificate from {cert_path}"
        ) from exc
    if cert.public_key() != key.public_key():
        raise ConfigError(f"certificate_path: {cert_path} does not belong to the key {key_path}")

    algorithm = algorithm_for(key)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    return SigningKey(
        algorithm=algorithm,
        kid=libtrust_kid(key.public_key()),
        certificate_path=cert_path.resolve(),
        x5c=[base64.b64encode(der).decode()],
        _jose_key=jwk.construct(pem.decode(), algorithm),
    )
