"""Request signing checks, exactly as OKX performs them (okx-v5.md §2, §7).

Pure: the caller passes headers, the raw request-target and raw body bytes, and the server time.
Order of checks: missing header → malformed/expired timestamp → unknown key → passphrase →
signature. Secrets are held here and never put in an exception or a repr.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["AuthResult", "Keyring", "sign"]

_WINDOW_MS = 30_000


def sign(secret: str, prehash: str | bytes) -> str:
    """base64(HMAC-SHA256(secret, prehash))."""
    data = prehash.encode() if isinstance(prehash, str) else prehash
    return base64.b64encode(hmac.new(secret.encode(), data, hashlib.sha256).digest()).decode()


@dataclass(frozen=True, slots=True)
class AuthResult:
    """``api_key`` on success, else the OKX ``code`` to answer."""

    api_key: str | None
    code: str = "0"


@dataclass(slots=True)
class _Key:
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)


def _parse_iso_ms(ts: str) -> int | None:
    # OKX sends 2020-12-08T09:08:57.715Z; accept any ISO-8601 with a zone for robustness
    try:
        dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return int(dt.timestamp() * 1000)


class Keyring:
    """API keys the exchange accepts."""

    def __init__(self) -> None:
        self._keys: dict[str, _Key] = {}

    def __repr__(self) -> str:
        return f"Keyring({len(self._keys)} keys)"

    def add(self, api_key: str, secret: str, passphrase: str) -> None:
        self._keys[api_key] = _Key(secret, passphrase)

    def __contains__(self, api_key: object) -> bool:
        return api_key in self._keys

    def keys(self) -> list[str]:
        return list(self._keys)

    def verify_rest(
        self,
        headers: Mapping[str, str],
        method: str,
        request_target: str,
        body: bytes,
        now_ms: int,
    ) -> AuthResult:
        """Check the ``OK-ACCESS-*`` headers of one request."""
        key = headers.get("OK-ACCESS-KEY", "")
        phrase = headers.get("OK-ACCESS-PASSPHRASE", "")
        signature = headers.get("OK-ACCESS-SIGN", "")
        ts = headers.get("OK-ACCESS-TIMESTAMP", "")
        for value, code in ((key, "50103"), (phrase, "50104"), (signature, "50106"), (ts, "50107")):
            if not value:
                return AuthResult(None, code)
        ts_ms = _parse_iso_ms(ts)
        if ts_ms is None:
            return AuthResult(None, "50112")
        if abs(now_ms - ts_ms) > _WINDOW_MS:
            return AuthResult(None, "50102")
        entry = self._keys.get(key)
        if entry is None:
            return AuthResult(None, "50111")
        if not hmac.compare_digest(entry.passphrase, phrase):
            return AuthResult(None, "50105")
        expected = sign(
            entry.secret, ts.encode() + method.upper().encode() + request_target.encode() + body
        )
        if not hmac.compare_digest(expected, signature):
            return AuthResult(None, "50113")
        return AuthResult(key)

    def verify_login(self, arg: Mapping[str, object], now_ms: int) -> AuthResult:
        """Check one WS ``login`` arg (timestamp in Unix seconds)."""
        key, phrase = arg.get("apiKey"), arg.get("passphrase")
        ts, signature = arg.get("timestamp"), arg.get("sign")
        if not (isinstance(key, str) and isinstance(phrase, str) and isinstance(signature, str)):
            return AuthResult(None, "60009")
        if not (key and phrase and signature):
            return AuthResult(None, "60009")
        if isinstance(ts, int | float) and not isinstance(ts, bool):
            ts = str(ts)
        if not isinstance(ts, str):
            return AuthResult(None, "60004")
        try:
            ts_s = float(ts)
        except ValueError:
            return AuthResult(None, "60004")
        if abs(now_ms / 1000 - ts_s) > _WINDOW_MS / 1000:
            return AuthResult(None, "60006")
        entry = self._keys.get(key)
        if entry is None:
            return AuthResult(None, "60005")
        if not hmac.compare_digest(entry.passphrase, phrase):
            return AuthResult(None, "60024")
        if not hmac.compare_digest(sign(entry.secret, f"{ts}GET/users/self/verify"), signature):
            return AuthResult(None, "60007")
        return AuthResult(key)
