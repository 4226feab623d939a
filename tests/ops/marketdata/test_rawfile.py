"""Raw files: frames round-trip verbatim, rotate per hour, survive a crash mid-write, and a
damaged file names the byte where reading stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ops.marketdata.rawfile import RawFileError, RawWriter, read_raw

HOUR = 3600 * 10**9
T0 = 1_796_300_000 * 10**9  # 2026-12-03 ~


def test_frames_round_trip_verbatim_and_rotate_per_hour(tmp_path: Path) -> None:
    w = RawWriter(tmp_path, flush_every=3)
    frames = [
        (T0 + i * 10**9, "ws:public", f'{{"arg":{{"channel":"books"}},"n":{i}}}') for i in range(10)
    ]
    frames.append((T0 + HOUR, "rest:books:BTC-USDT-SWAP", '{"code":"0","data":[]}'))
    frames.append((T0 + HOUR + 1, "ws:public", "line\nbreak"))  # never split a record
    for t, s, text in frames:
        w.write(t, s, text)
    w.close()
    assert len(w.files) == 2
    got = [f for p in w.files for f in read_raw(p)]
    assert [(f.recv_ns, f.stream) for f in got] == [(t, s) for t, s, _ in frames]
    assert [f.text for f in got[:-1]] == [t for _, _, t in frames[:-1]]
    assert got[-1].text == "line break"
    assert w.members >= 4


def test_a_truncated_member_is_reported_with_its_offset_and_earlier_frames_survive(
    tmp_path: Path,
) -> None:
    w = RawWriter(tmp_path, flush_every=5)
    for i in range(12):
        w.write(T0 + i, "ws:public", f"frame {i}")
    w.close()
    (path,) = w.files
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # the last member cut short, as by a crash
    seen = []
    with pytest.raises(RawFileError, match="truncated") as err:
        seen.extend(f.text for f in read_raw(path))
    # the two complete members, and whatever whole records the cut one still held: in order
    assert seen[:10] == [f"frame {i}" for i in range(10)]
    assert seen == [f"frame {i}" for i in range(len(seen))]
    assert 0 < err.value.offset < len(data)
    path.write_bytes(data[:40] + b"garbage!" + data[48:])
    with pytest.raises(RawFileError, match="at byte 0"):
        list(read_raw(path))


def test_a_writer_killed_mid_run_leaves_a_readable_file(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from ops.marketdata.rawfile import RawWriter\n"
        "w = RawWriter(Path(sys.argv[1]), flush_every=50)\n"
        "i = 0\n"
        "while True:\n"
        "    w.write(1796300000000000000 + i, 'ws:public', 'x' * 200 + str(i))\n"
        "    i += 1\n"
        "    if i == 2000: print('ready', flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    (path,) = tmp_path.glob("*.okxraw.gz")
    texts: list[str] = []
    problems: list[str] = []
    try:
        texts.extend(f.text for f in read_raw(path))
    except RawFileError as exc:  # killed inside a member write: only that member is lost
        problems.append(exc.problem)
    assert all("truncated" in p for p in problems)
    assert texts == ["x" * 200 + str(i) for i in range(len(texts))]
    assert len(texts) >= 1950
