"""A client certificate for OAuth2 `private_key_jwt`: the private key that signs, and the thumbprint that names it."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True)
class ClientCertificate:
    private_key_pem: bytes = field(repr=False)
    # base64url SHA-1 of the DER certificate: the `x5t` header Microsoft's token endpoint finds the key by.
    thumbprint: str


def parse_client_certificate(certificate_pem: bytes, key_pem: bytes) -> ClientCertificate:
    """Read a PEM certificate and its unencrypted RSA private key (both may be in one file). ValueError says
    what is wrong with them."""
    try:
        cert = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError:
        raise ValueError("holds no PEM certificate (-----BEGIN CERTIFICATE-----)") from None
    block = _pem_block(key_pem, "PRIVATE KEY")
    if block is None:
        raise ValueError("holds no PEM private key (-----BEGIN PRIVATE KEY-----)")
    try:
        key = serialization.load_pem_private_key(block, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the private key cannot be read (it must be unencrypted PEM): {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the private key must be RSA (the client assertion is signed with RS256)")
    cert_key = cert.public_key()
    if not isinstance(cert_key, rsa.RSAPublicKey) or cert_key.public_numbers() != key.public_key().public_numbers():
        raise ValueError("the private key does not belong to the certificate")
    digest = hashes.Hash(hashes.SHA1())
    digest.update(cert.public_bytes(serialization.Encoding.DER))
    thumbprint = base64.urlsafe_b64encode(digest.finalize()).rstrip(b"=").decode()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ClientCertificate(private_key_pem=pem, thumbprint=thumbprint)


def _pem_block(pem: bytes, label_suffix: str) -> bytes | None:
    """The first PEM block whose label ends with `label_suffix` ("RSA PRIVATE KEY", "PRIVATE KEY"), from a file
    that may hold certificates too."""
    lines = pem.replace(b"\r\n", b"\n").split(b"\n")
    for i, line in enumerate(lines):
        text = line.strip().decode("ascii", "replace")
        if text.startswith("-----BEGIN ") and text.endswith(f"{label_suffix}-----"):
            end = f"-----END {text[len('-----BEGIN '):]}".encode()
            for j in range(i + 1, len(lines)):
                if lines[j].strip() == end:
                    return b"\n".join(x.strip() for x in lines[i : j + 1]) + b"\n"
    return None
