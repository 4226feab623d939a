"""OKX request signing (okx-v5.md §2, §7). Pure: the caller supplies the time.

REST: ``OK-ACCESS-SIGN = base64(HMAC_SHA256(secret, timestamp + METHOD + requestPath + body))``
where ``requestPath`` includes ``?query`` for GET and ``body`` is the exact JSON text sent.
WS login: the same HMAC over ``seconds + "GET" + "/users/self/verify"``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from engine.config import Credentials

__all__ = [
    "auth_headers",
    "iso_timestamp",
    "login_args",
    "prehash",
    "sign",
]

WS_LOGIN_PATH = "/users/self/verify"


def iso_timestamp(now_ms: int) -> str:
    """``2020-12-08T09:08:57.715Z``: UTC, exactly 3 fractional digits."""
    dt = datetime.fromtimestamp(now_ms // 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{now_ms % 1000:03d}Z"


def prehash(timestamp: str, method: str, request_path: str, body: str = "") -> str:
    """The string OKX signs: timestamp + upper-case method + path(+query) + body."""
    return f"{timestamp}{method.upper()}{request_path}{body}"


def sign(secret: str, message: str) -> str:
    """base64 of HMAC-SHA256 over ``message`` keyed by the UTF-8 secret."""
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def auth_headers(
    creds: Credentials, now_ms: int, method: str, request_path: str, body: str = ""
) -> dict[str, str]:
    """The four ``OK-ACCESS-*`` headers for one private REST request."""
    ts = iso_timestamp(now_ms)
    secret = creds.secret.get_secret_value()
    return {
        "OK-ACCESS-KEY": creds.api_key.get_secret_value(),
        "OK-ACCESS-SIGN": sign(secret, prehash(ts, method, request_path, body)),
        "OK-ACCESS-TIMESTAMP": ts,
        "OK-ACCESS-PASSPHRASE": creds.passphrase.get_secret_value(),
    }


def login_args(creds: Credentials, now_s: int) -> dict[str, str]:
    """The single ``args`` item of a WS ``login`` op (timestamp in Unix seconds)."""
    ts = str(now_s)
    return {
        "apiKey": creds.api_key.get_secret_value(),
        "passphrase": creds.passphrase.get_secret_value(),
        "timestamp": ts,
        "sign": sign(creds.secret.get_secret_value(), prehash(ts, "GET", WS_LOGIN_PATH)),
    }
