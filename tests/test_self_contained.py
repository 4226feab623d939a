"""The repository stands alone: nothing reads a path outside it at test, bench or run time.

A user's clone has no sibling folders: the code is scanned for escapes, and a part of
the suite and the pipeline floor run from a copy of the tracked files in an empty temp folder.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.floors.book import Book

ROOT = Path(__file__).resolve().parent.parent
SCANNED_SUFFIXES = {".py", ".toml", ".yml", ".yaml", ".cfg", ".ini", ".sh"}
SCANNED_NAMES = {"Makefile", "Dockerfile", "run"}
# Spelled in pieces so this file does not match itself.
ESCAPES = ("../" + "shared", "/" + "work/", "shared/" + "fixtures", "shared/" + "perf")
PARENTS = re.compile(r"Path\(__file__\)(?:\.resolve\(\))?((?:\.parent\b)+)")
PARENTS_INDEX = re.compile(r"Path\(__file__\)(?:\.resolve\(\))?\.parents\[(\d+)\]")


def _tracked() -> list[Path]:
    """The files a clone has: git's list, or every file when this is not a git checkout."""
    res = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False, timeout=30
    )
    if res.returncode == 0 and res.stdout:
        return [ROOT / p for p in res.stdout.decode().split("\0") if p]
    skip = {".venv", ".git", ".mypy_cache", ".ruff_cache", "__pycache__"}
    return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.parts)]


def _scanned() -> list[Path]:
    return [
        p
        for p in _tracked()
        if p.is_file() and (p.suffix in SCANNED_SUFFIXES or p.name in SCANNED_NAMES)
    ]


def test_scan_covers_the_code() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _scanned()}
    assert {"tests/conftest.py", "Makefile", "pyproject.toml", ".ci/run"} <= names
    assert "bench/floors/pipeline.py" in names


def test_no_path_escapes_the_repo() -> None:
    bad: list[str] = []
    for path in _scanned():
        rel = path.relative_to(ROOT)
        text = path.read_text(errors="replace")
        bad += [f"{rel}: {e!r}" for e in ESCAPES if e in text]
        # Path(__file__).parent x k lands at the repo root at most: k <= depth of the file.
        depth = len(rel.parts)
        for m in PARENTS.finditer(text):
            if m.group(1).count(".parent") > depth:
                bad.append(f"{rel}: {m.group(0)} leaves the repo")
        for m in PARENTS_INDEX.finditer(text):
            if int(m.group(1)) + 1 > depth:
                bad.append(f"{rel}: {m.group(0)} leaves the repo")
    assert not bad, "paths outside the repository:\n" + "\n".join(bad)


def test_escape_check_catches_an_escape() -> None:
    """The scan's own patterns find what they are meant to find."""
    text = "FIX = Path(__file__).resolve()" + ".parent" * 3 + " / 'x'\n"
    (m,) = PARENTS.finditer(text)
    assert m.group(1).count(".parent") == 3 > len(Path("tests/conftest.py").parts)


def test_floor_book_checksum_matches_the_official_vectors(okx_fixtures: Path) -> None:
    """The bench floor does OKX's real checksum work, not a cheaper stand-in."""
    vectors = json.loads((okx_fixtures / "checksum_vectors.json").read_text())
    for case in vectors["official"] + vectors["derived"]:
        book = Book()
        book.apply({"bids": case["bids"], "asks": case["asks"]}, snapshot=True)
        assert book.checksum() == case["checksum"], case["name"]


@pytest.fixture(scope="module")
def lone_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracked files copied to ``<empty temp dir>/repo``: nothing beside it."""
    dest = tmp_path_factory.mktemp("lone") / "repo"
    for src in _tracked():
        if src.is_file():
            target = dest / src.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["repo"]
    return dest


@pytest.mark.slow
def test_fixture_tests_pass_from_a_lone_copy(lone_copy: Path) -> None:
    tests = ["tests/gateway/okx/test_signing.py", "tests/ops/exchange/test_checksum.py"]
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=lone_copy,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert re.search(r"\d+ passed", out), out[-3000:]
    # the copy's own conftest and fixtures were used, not this checkout's
    assert str(ROOT) not in out


@pytest.mark.slow
def test_pipeline_floor_runs_from_a_lone_copy(lone_copy: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "bench.floors.pipeline", "--rate", "500", "--secs", "0.4"],
        cwd=lone_copy,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (line,) = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")]
    out = json.loads(line.removeprefix("RESULT "))
    assert out["received"] == out["expected"] == 200
    assert 0 < out["e2e.p50_us"] <= out["e2e.p99_us"]
    assert out["tick_to_wire.p50_us"] >= out["e2e.p50_us"]
