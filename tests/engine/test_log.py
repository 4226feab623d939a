"""Logging never shows secrets: configured values and secret-looking keys are scrubbed."""

from __future__ import annotations

import json
from pathlib import Path

from loguru import logger

from engine.log import REDACTED, setup_logging


def test_secret_values_and_keys_are_scrubbed_from_every_sink(tmp_path: Path) -> None:
    secret = "S3cr3t-Value-For-Test"
    log = setup_logging("t", "DEBUG", str(tmp_path), secrets=[secret, "pass-phrase-x"])
    log.info(f"login with {secret}", api_key="visible-key", detail=f"sig={secret}", n=1)
    log.warning("nested", payload={"passphrase": "pass-phrase-x", "ok": "fine"})
    logger.complete()
    text = (tmp_path / "t.jsonl").read_text()
    assert secret not in text
    assert "pass-phrase-x" not in text
    assert "visible-key" not in text
    records = [json.loads(line)["record"] for line in text.splitlines()]
    assert records[0]["extra"]["api_key"] == REDACTED
    assert records[0]["extra"]["n"] == 1
    assert records[1]["extra"]["payload"]["ok"] == "fine"
    assert records[0]["extra"]["actor"] == "t"
