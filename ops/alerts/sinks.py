"""Where alerts go and what each receiver expects on the wire.

``json``: a generic POST of ``{"source", "key", "severity", "title", "text", "resolved", "ts"}``;
``slack``: an incoming-webhook message ``{"text": …}``; ``telegram``: the Bot API's
``sendMessage`` (``{"chat_id", "text"}`` to ``<api_url>/bot<token>/sendMessage``). URLs and bot
tokens are secrets (a Slack webhook URL is a credential): they come from the environment when
``url_env`` / ``token_env`` are set, are never logged, and never appear in a payload.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError
from ops.alerts.config import AlertsConfig, SinkKind
from ops.alerts.rules import Alert

__all__ = ["Sink", "build_sinks", "payload"]

_ICON = {"info": "OK", "warning": "WARN", "critical": "CRIT"}


@dataclass(frozen=True)
class Sink:
    """A resolved receiver: the URL to POST to (secret) and its message format."""

    name: str
    kind: SinkKind
    url: str
    chat_id: str
    min_severity: str
    secrets: tuple[str, ...]


_TELEGRAM_API = "https://api.telegram.org"


def build_sinks(cfg: AlertsConfig, env: dict[str, str] | None = None) -> list[Sink]:
    """Resolve URLs and tokens from config and environment; ConfigError names what is missing
    (never the value)."""
    env = dict(os.environ) if env is None else env
    out: list[Sink] = []
    problems: list[tuple[str, str]] = []
    for i, s in enumerate(cfg.sinks):
        where = f"alerts.sinks.{i}"
        url = s.url
        if s.url_env:
            url = env.get(s.url_env, "")
            if not url:
                problems.append((f"{where}.url_env", f"environment variable {s.url_env} not set"))
                continue
        secrets = [url] if url else []  # a webhook URL can be a credential: never logged
        if s.kind == "telegram":
            token = env.get(s.token_env, "")
            if not token:
                problems.append(
                    (f"{where}.token_env", f"environment variable {s.token_env} not set")
                )
                continue
            url = f"{(url or _TELEGRAM_API).rstrip('/')}/bot{token}/sendMessage"
            secrets.append(token)
        out.append(Sink(s.name, s.kind, url, s.chat_id, s.min_severity, tuple(secrets)))
    if problems:
        raise ConfigError(problems)
    return out


def payload(sink: Sink, alert: Alert, *, source: str, ts_ms: int) -> dict[str, Any]:
    """The JSON body ``sink`` gets for ``alert``."""
    line = f"[{_ICON[alert.severity]}] okxmm {source}: {alert.title}"
    if alert.text:
        line += f" — {alert.text}"
    if sink.kind == "slack":
        return {"text": line}
    if sink.kind == "telegram":
        return {"chat_id": sink.chat_id, "text": line, "disable_web_page_preview": True}
    return {
        "source": source,
        "key": alert.key,
        "severity": alert.severity,
        "title": alert.title,
        "text": alert.text,
        "resolved": alert.resolved,
        "ts": ts_ms,
    }
