"""The floors of the house, read from the imports (``ast``: also imports inside functions).

- ``engine`` is the ground floor: it imports nothing from ``gateway``, ``risk``,
  ``strategies`` or ``ops``.
- OKX wire types (``gateway.okx.schemas``) stop at the gateway: only ``gateway`` (and the
  benchmarks that play the venue) read them.
- The router's pure core does no I/O: no module of ``engine.router`` but the shell (``actor``,
  its venue port and the journal file) imports sockets, files or the clock.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UPPER_FLOORS = ("gateway", "risk", "strategies", "ops")
IO_MODULES = ("zmq", "asyncio", "os", "socket", "time", "engine.bus", "engine.clock")


def _imports(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for alias in node.names:
                yield f"{node.module}.{alias.name}"


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_engine_imports_nothing_from_the_floors_above() -> None:
    bad = [
        f"{p.relative_to(ROOT)} imports {name}"
        for p in _modules("engine")
        for name in _imports(p)
        if any(_under(name, upper) for upper in UPPER_FLOORS)
    ]
    assert bad == []


def test_okx_wire_types_stay_in_the_gateway() -> None:
    bad = [
        f"{p.relative_to(ROOT)} imports {name}"
        for package in ("engine", "risk", "strategies", "ops")
        for p in _modules(package)
        for name in _imports(p)
        if _under(name, "gateway.okx.schemas")
    ]
    assert bad == []


def test_router_core_modules_do_no_io() -> None:
    shell = {"actor.py", "ports.py", "journal.py", "__init__.py"}  # journal.py: the file
    bad = [
        f"{p.name} imports {name}"
        for p in _modules("engine/router")
        if p.name not in shell
        for name in _imports(p)
        if any(_under(name, io) for io in IO_MODULES)
    ]
    assert bad == []


def test_no_module_is_over_500_lines() -> None:
    long = [
        f"{p.relative_to(ROOT)}: {n}"
        for package in ("engine", "strategies", "gateway", "risk")
        for p in _modules(package)
        if (n := len(p.read_text().splitlines())) > 500
    ]
    assert long == []
