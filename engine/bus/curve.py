"""CURVE security of the tcp bus: keys, the ZAP allowlist, and the socket options.

One place for all of it: :func:`secure` registers a context's keys (and, on a binding host,
starts a ZAP authenticator holding the allowlist); :func:`apply_server` / :func:`apply_client`
are called by ``sockets.bind`` / ``sockets.connect`` for every tcp endpoint, so no socket of the
bus is created without them. ipc and inproc endpoints are left alone (the file system guards
them). A refused client is logged with its public key, never with a secret.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
import zmq.auth
import zmq.utils.z85
from loguru import logger
from zmq.auth.thread import ThreadAuthenticator

from engine.config import BusConfig, CurveConfig
from engine.errors import StartError

__all__ = [
    "ZAP_DOMAIN",
    "BusKeys",
    "CurveKeyError",
    "Secured",
    "apply_client",
    "apply_server",
    "generate_keypair",
    "load_keys",
    "load_public",
    "secure",
]

ZAP_DOMAIN = b"okxmm"
_Z85_KEY_LEN = 40
_REFUSAL_LOG_EVERY_S = 10.0  # a refused client retries every second: log each key this often


class CurveKeyError(StartError):
    """A CURVE key could not be read or is malformed (the message names the setting only)."""

    def __init__(self, setting: str, why: str) -> None:
        super().__init__(f"bus.curve.{setting}: {why}")


@dataclass(frozen=True, slots=True)
class BusKeys:
    """A process's keys (z85 bytes). ``server_secret`` is set on binding hosts only."""

    server_public: bytes
    server_secret: bytes | None
    public: bytes
    secret: bytes
    allow: frozenset[bytes]

    def __repr__(self) -> str:  # secrets never in a repr
        return f"BusKeys(server_public={self.server_public!r}, public={self.public!r})"


def _is_z85_key(text: str) -> bool:
    if len(text) != _Z85_KEY_LEN:
        return False
    try:
        zmq.utils.z85.decode(text.encode())
    except (ValueError, KeyError):
        return False
    return True


def _read_public(setting: str, text: str) -> bytes:
    """A public key: z85 text, or a key file (public or secret, as ``zmq.auth`` writes)."""
    if _is_z85_key(text):
        return text.encode()
    try:
        public, _ = zmq.auth.load_certificate(text)
    except (OSError, ValueError) as exc:
        raise CurveKeyError(
            setting, f"not a z85 key nor a readable key file ({type(exc).__name__})"
        ) from None
    return public


def _read_secret(setting: str, text: str) -> tuple[bytes, bytes]:
    """(public, secret) from a z85 secret key or a ``.key_secret`` file."""
    if _is_z85_key(text):
        return zmq.curve_public(text.encode()), text.encode()
    try:
        public, maybe_secret = zmq.auth.load_certificate(text)
    except (OSError, ValueError) as exc:
        raise CurveKeyError(
            setting, f"not a z85 key nor a readable key file ({type(exc).__name__})"
        ) from None
    if maybe_secret is None:
        raise CurveKeyError(setting, "the file holds no secret key (use the .key_secret file)")
    return public, maybe_secret


def load_keys(cfg: CurveConfig) -> BusKeys:
    """Resolve ``bus.curve`` (z85 texts or key files) into keys; raises :class:`CurveKeyError`."""
    server_public = _read_public("server_public", cfg.server_public)
    server_secret: bytes | None = None
    if cfg.server_secret is not None:
        pub, server_secret = _read_secret("server_secret", cfg.server_secret.get_secret_value())
        if pub != server_public:
            raise CurveKeyError("server_secret", "does not match bus.curve.server_public")
    if cfg.client_secret is not None:
        public, secret = _read_secret("client_secret", cfg.client_secret.get_secret_value())
    elif server_secret is not None:
        public, secret = server_public, server_secret
    else:
        raise CurveKeyError("client_secret", "needed where the server secret is not")
    allow = {server_public}
    for i, text in enumerate(cfg.allow):
        if not _is_z85_key(text) and Path(text).is_dir():  # a directory of NAME.key files
            allow.update(
                _read_public(f"allow[{i}]", str(f)) for f in sorted(Path(text).glob("*.key"))
            )
        else:
            allow.add(_read_public(f"allow[{i}]", text))
    return BusKeys(server_public, server_secret, public, secret, frozenset(allow))


def load_public(path: Path) -> bytes:
    """The public key (z85) of a key file."""
    return _read_public(str(path), str(path))


def generate_keypair(directory: Path, name: str) -> tuple[Path, Path]:
    """Write ``NAME.key`` (public) and ``NAME.key_secret`` (mode 0600) under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    public_file, secret_file = (directory / f"{name}.key", directory / f"{name}.key_secret")
    for path in (public_file, secret_file):
        if path.exists():
            raise FileExistsError(f"{path} exists (not overwritten)")
    # created 0600 before anything is written: the secret is never readable by others
    old = os.umask(0o077)
    try:
        zmq.auth.create_certificates(str(directory), name)
    finally:
        os.umask(old)
    secret_file.chmod(0o600)
    public_file.chmod(0o644)
    return public_file, secret_file


class _Allowlist:
    """ZAP credentials provider: a client key on the list passes; others are refused, logged."""

    def __init__(self, allow: Iterable[bytes]) -> None:
        self._allow = frozenset(allow)
        self._lock = threading.Lock()
        self._last_logged: dict[bytes, float] = {}
        self.refused = 0

    def callback(self, domain: str, key: bytes) -> bool:
        if key in self._allow:
            return True
        now = time.monotonic()
        with self._lock:  # called on the authenticator's thread
            self.refused += 1
            last = self._last_logged.get(key)
            if last is not None and now - last < _REFUSAL_LOG_EVERY_S:
                return False
            if len(self._last_logged) > 1000:  # a flood of fresh keys must not grow this
                self._last_logged.clear()
            self._last_logged[key] = now
        logger.warning(
            "bus client refused: public key not allowed",
            public_key=key.decode(errors="replace"),
            domain=domain,
        )
        return False


@dataclass(slots=True)
class _Installed:
    keys: BusKeys
    auth: ThreadAuthenticator | None


# keyed by the context object: every socket knows its context (``sock.context``)
_INSTALLED: weakref.WeakKeyDictionary[object, _Installed] = weakref.WeakKeyDictionary()


class Secured:
    """What :func:`secure` returns: ``close()`` stops the authenticator (before ``ctx.destroy``)."""

    def __init__(self, ctx: zmq.asyncio.Context) -> None:
        self._ctx = ctx

    @property
    def keys(self) -> BusKeys | None:
        inst = _INSTALLED.get(self._ctx)
        return inst.keys if inst else None

    def close(self) -> None:
        inst = _INSTALLED.pop(self._ctx, None)
        if inst is not None and inst.auth is not None:
            inst.auth.stop()


def secure(ctx: zmq.asyncio.Context, bus: BusConfig) -> Secured:
    """Register ``ctx``'s keys per ``bus`` (nothing for plain tcp or ipc). On a binding host
    (server secret given) start the ZAP authenticator first: no handshake is ever unchecked."""
    out = Secured(ctx)
    if bus.transport != "tcp" or bus.security != "curve":
        return out
    keys = load_keys(bus.curve)
    auth: ThreadAuthenticator | None = None
    if keys.server_secret is not None:
        auth = ThreadAuthenticator(ctx)
        # the allowlist before the handler: a handshake is never checked against nothing
        auth.configure_curve_callback(
            domain=ZAP_DOMAIN.decode(), credentials_provider=_Allowlist(keys.allow)
        )
        auth.start()
    _INSTALLED[ctx] = _Installed(keys, auth)
    logger.info("bus CURVE on", public_key=keys.public.decode(), serves=auth is not None)
    return out


def _tcp(endpoint: str) -> bool:
    return endpoint.startswith("tcp://")


def apply_server(sock: zmq.Socket[Any], endpoint: str) -> None:
    """Before ``bind``: CURVE server with the server secret, checked by the ZAP allowlist."""
    inst = _INSTALLED.get(sock.context)
    if inst is None or not _tcp(endpoint):
        return
    if inst.keys.server_secret is None:
        raise CurveKeyError("server_secret", f"needed to bind {endpoint}")
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, inst.keys.server_secret)
    sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN)


def apply_client(sock: zmq.Socket[Any], endpoint: str) -> None:
    """Before ``connect``: the server's public key and this process's keypair."""
    inst = _INSTALLED.get(sock.context)
    if inst is None or not _tcp(endpoint):
        return
    sock.setsockopt(zmq.CURVE_SERVERKEY, inst.keys.server_public)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, inst.keys.public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, inst.keys.secret)
