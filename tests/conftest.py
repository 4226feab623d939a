"""Shared fixtures: fixture paths, free ports, isolated bus configs, a fake clock."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.clock import FakeClock
from engine.config import BusConfig

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "okx"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def okx_fixtures() -> Path:
    """``tests/fixtures/okx``: the OKX docs examples and vectors, kept in the repo."""
    if not FIXTURES.is_dir():
        pytest.fail(f"OKX fixtures not found at {FIXTURES}")
    return FIXTURES


@pytest.fixture
def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    return _free_port()


@pytest.fixture
def bus_config() -> Iterator[BusConfig]:
    """A bus on ipc endpoints in a private temp dir: no port collisions between tests."""
    # ipc paths must stay under ~100 bytes: use a short dir, not pytest's long tmp_path.
    ipc = Path(tempfile.mkdtemp(prefix="okxmm-"))
    yield BusConfig(transport="ipc", ipc_dir=str(ipc))
    shutil.rmtree(ipc, ignore_errors=True)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
