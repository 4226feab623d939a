"""The self-signed certificate: SAN 127.0.0.1 and localhost, reused while valid."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509

from ops.exchange.tls import ensure_cert, server_context


def test_cert_has_sans_and_is_reused(tmp_path: Path) -> None:
    cert, key = ensure_cert(tmp_path / "sub" / "cert.pem")
    c = x509.load_pem_x509_certificate(cert.read_bytes())
    san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert key.stat().st_mode & 0o077 == 0
    first = cert.read_bytes()
    ensure_cert(cert)
    assert cert.read_bytes() == first
    assert server_context(cert, key) is not None
    cert.write_text("garbage")
    ensure_cert(cert)
    assert cert.read_bytes() != first
    x509.load_pem_x509_certificate(cert.read_bytes())
