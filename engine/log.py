"""Logging: loguru bound once per actor, structured fields, secrets scrubbed.

Every sink is added with ``diagnose=False`` (loguru's diagnose prints variable values, which can
hold secrets). A patcher replaces configured secret values anywhere in the message or the extra
fields, and masks extra keys that look like secrets (``secret|passphrase|sign|api_key``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from loguru import Logger, Record

__all__ = ["REDACTED", "Redactor", "add_secrets", "setup_logging"]

REDACTED = "***"
_SECRET_KEY = re.compile(r"secret|passphrase|sign|api_?key|password", re.IGNORECASE)


class Redactor:
    """Scrubs known secret values and secret-looking keys from log records."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, values: list[str]) -> None:
        self._values.update(v for v in values if len(v) >= 4)
        if self._values:
            alternatives = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in alternatives))

    def scrub(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(REDACTED, text)

    def _scrub_value(self, key: str, value: Any) -> Any:
        if _SECRET_KEY.search(key):
            return REDACTED
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self._scrub_value(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub_value(key, v) for v in value]
        return value

    def __call__(self, record: Record) -> None:
        record["message"] = self.scrub(record["message"])
        extra = record["extra"]
        for key in list(extra):
            extra[key] = self._scrub_value(key, extra[key])


_redactor = Redactor()
logger.configure(patcher=_redactor)


def add_secrets(values: list[str]) -> None:
    """Register secret values that must never appear in a log line."""
    _redactor.add(values)


def _format(record: Record) -> str:
    extra = {k: v for k, v in record["extra"].items() if k != "actor"}
    fields = " ".join(f"{k}={v!r}" for k, v in extra.items())
    fields = fields.replace("{", "{{").replace("}", "}}").replace("<", r"\<")
    actor = record["extra"].get("actor", "-")
    return (
        "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
        f"<cyan>{actor}</cyan> {{message}} {fields}\n{{exception}}"
    )


def setup_logging(
    actor: str,
    level: str = "INFO",
    log_dir: str | None = None,
    secrets: list[str] | None = None,
    serialize_stderr: bool = False,
) -> Logger:
    """Configure sinks for this process and return the logger bound to ``actor``."""
    if secrets:
        add_secrets(secrets)
    logger.remove()
    logger.add(
        sys.stderr,
        level=level,
        format=_format,
        diagnose=False,
        backtrace=False,
        serialize=serialize_stderr,
        colorize=None,
    )
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        logger.add(
            str(Path(log_dir) / f"{actor}.jsonl"),
            level=level,
            serialize=True,
            diagnose=False,
            backtrace=False,
            rotation="50 MB",
            retention=3,
            enqueue=False,
        )
    return logger.bind(actor=actor)
